package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/segments"
)

// consentFixture: three persons watched a 控糖 video; a marketer token; a
// segment of the viewers (a health segment).
type consentFixture struct {
	*ingestFixture
	marketer string
	persons  []uint32
	segment  string
}

func newConsentFixture(t *testing.T) *consentFixture {
	f := &consentFixture{ingestFixture: newIngestFixture(t, 0)}
	f.ingestAll([]string{
		track("v1", "video_complete", map[string]string{"member_no": "M-1"}, `{"topic":"控糖"}`),
		track("v2", "video_complete", map[string]string{"member_no": "M-2"}, `{"topic":"控糖"}`),
		track("v3", "video_complete", map[string]string{"member_no": "M-3"}, `{"topic":"控糖"}`),
	}, nil)
	for _, id := range []string{"v1", "v2", "v3"} {
		f.persons = append(f.persons, f.graph.Canonical(f.personOf(id)))
	}
	var mk struct{ Secret string }
	if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "运营", "role": "marketer"}, &mk); rec.Code != 201 {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	f.marketer = mk.Secret
	var seg segments.Definition
	if rec := f.do("POST", "/api/v1/segments", f.marketer, map[string]any{"name": "控糖完播",
		"rule": `did("video_complete", 30, {"topic": "控糖"}) >= 1`}, &seg); rec.Code != 201 {
		t.Fatalf("segment: %d %s", rec.Code, rec.Body)
	}
	f.segment = seg.ID
	return f
}

// consent calls PUT /profiles/{p}/consent and checks the status (and, for
// an error, the field).
func (f *consentFixture) consent(token string, p uint32, body map[string]any, status int, field string) {
	f.t.Helper()
	var e api.Error
	rec := f.do("PUT", fmt.Sprintf("/api/v1/profiles/%d/consent", p), token, body, &e)
	if rec.Code != status || (status >= 400 && e.Field != field) {
		f.t.Fatalf("consent %v: %d %s, want %d (field %q)", body, rec.Code, rec.Body, status, field)
	}
}

// reached launches an outbox campaign on the segment (as the marketer)
// and returns the persons in its outbox.
func (f *consentFixture) reached() map[uint32]bool {
	f.t.Helper()
	var offer, camp struct{ ID string }
	if rec := f.do("POST", "/api/v1/offers", f.marketer, map[string]any{"name": "试用装", "categories": []string{"低GI大米"}}, &offer); rec.Code != 200 {
		f.t.Fatalf("offer: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/campaigns", f.marketer, map[string]any{"name": "c", "offer_id": offer.ID, "segment_id": f.segment,
		"channel": "outbox", "template": "hi"}, &camp); rec.Code != 200 {
		f.t.Fatalf("campaign: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", f.marketer, nil, nil); rec.Code != 200 {
		f.t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	rows, err := f.db.Conn.Query(context.Background(), "SELECT person_id FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", camp.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	got := map[uint32]bool{}
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			f.t.Fatal(err)
		}
		got[p] = true
	}
	return got
}

// TestMarketerCannotGrantConsent: a marketer's grant of separate consent
// is refused and the health campaign does not reach the person; an admin
// grant needs a known source and evidence, and is stored and audited
// with them.
func TestMarketerCannotGrantConsent(t *testing.T) {
	f := newConsentFixture(t)
	p1 := f.persons[0]
	grant := map[string]any{"kind": "sensitive_consent", "granted": true, "source": "paper_form", "evidence": "表单 2026-118"}
	var e api.Error
	rec := f.do("PUT", fmt.Sprintf("/api/v1/profiles/%d/consent", p1), f.marketer, map[string]any{"kind": "sensitive_consent", "granted": true}, &e)
	if got := f.reached(); len(got) != 0 {
		t.Errorf("the health campaign reached %v after a marketer's grant", got)
	}
	if rec.Code != 403 || e.Code != api.CodeForbidden || e.Field != "granted" {
		t.Fatalf("a marketer's grant: %d %s, want 403 forbidden (granted)", rec.Code, rec.Body)
	}
	f.consent(adminToken, p1, map[string]any{"kind": "sensitive_consent", "granted": true, "source": "paper_form"}, 400, "evidence")
	f.consent(adminToken, p1, map[string]any{"kind": "sensitive_consent", "granted": true, "evidence": "x"}, 400, "source")
	f.consent(adminToken, p1, map[string]any{"kind": "sensitive_consent", "granted": true, "source": "wecom_optin", "evidence": "x"}, 400, "source")
	f.consent(adminToken, p1, grant, 204, "")
	// Withdrawing stays open to the marketer (on another person).
	f.consent(f.marketer, f.persons[1], map[string]any{"kind": "sensitive_consent", "granted": false}, 204, "")

	var source, evidence, actor string
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT source, evidence, actor FROM "+f.db.Table("consents")+
		" WHERE person_id = ? AND kind = 'sensitive_consent' AND granted = 1", p1).Scan(&source, &evidence, &actor); err != nil {
		t.Fatal(err)
	}
	if source != "paper_form" || evidence != "表单 2026-118" || actor != "tok_bootstrap" {
		t.Fatalf("stored consent: source %q evidence %q actor %q", source, evidence, actor)
	}
	audit := f.audit("?action=consent.sensitive_consent")
	if len(audit.Items) != 2 || !strings.Contains(string(audit.Items[1].Detail), `"evidence":"表单 2026-118"`) {
		t.Fatalf("audit %+v", audit.Items)
	}
	if got := f.reached(); len(got) != 1 || !got[p1] {
		t.Fatalf("after the admin's grant the campaign reached %v, want %d only", got, p1)
	}
}

// TestOptOutNotUndoneWithoutCustomerOrAdminReason: an opt-out recorded
// through the API is not undone by a marketer, nor by an admin without a
// reason; the campaign does not reach the person until an admin gives
// one, and the reversal is audited with it.
func TestOptOutNotUndoneWithoutCustomerOrAdminReason(t *testing.T) {
	f := newConsentFixture(t)
	for _, p := range f.persons {
		f.consent(adminToken, p, map[string]any{"kind": "sensitive_consent", "granted": true, "source": "wecom_form", "evidence": "form"}, 204, "")
	}
	p1 := f.persons[0]
	f.consent(f.marketer, p1, map[string]any{"kind": "opt_out", "channel": "*", "granted": true}, 204, "")
	undo := func(token string, body map[string]any) (int, api.Error) {
		var e api.Error
		rec := f.do("PUT", fmt.Sprintf("/api/v1/profiles/%d/consent", p1), token, body, &e)
		return rec.Code, e
	}
	byMarketer, eMarketer := undo(f.marketer, map[string]any{"kind": "opt_out", "channel": "*", "granted": false})
	noReason, eNoReason := undo(adminToken, map[string]any{"kind": "opt_out", "channel": "*", "granted": false})
	if got := f.reached(); got[p1] || len(got) != 2 {
		t.Errorf("after the attempted reversals the campaign reached %v (opted out: %d)", got, p1)
	}
	if byMarketer != 403 || eMarketer.Code != api.CodeForbidden || eMarketer.Field != "granted" {
		t.Errorf("a marketer's reversal: %d %+v, want 403 forbidden (granted)", byMarketer, eMarketer)
	}
	if noReason != 400 || eNoReason.Field != "reason" {
		t.Fatalf("an admin's reversal without a reason: %d %+v, want 400 (reason)", noReason, eNoReason)
	}
	f.consent(adminToken, p1, map[string]any{"kind": "opt_out", "channel": "*", "granted": false, "reason": "客户致电客服要求恢复接收"}, 204, "")
	audit := f.audit("?action=consent.opt_out")
	if len(audit.Items) != 2 || !strings.Contains(string(audit.Items[0].Detail), `"reason":"客户致电客服要求恢复接收"`) {
		t.Fatalf("audit %+v", audit.Items)
	}
	if got := f.reached(); !got[p1] || len(got) != 3 {
		t.Fatalf("after the admin's reversal the campaign reached %v", got)
	}
}
