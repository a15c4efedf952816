package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/granarycdp/cdp/api"
)

// One customer with every kind of personal identifier: two phones (one
// shared with a relative, a conflict), an e-mail address, a unionid, a
// member number, a Douyin openid merged in by the phone, and a WeCom
// contact whose chat mentions the phone number.
const (
	personalPhone  = "13812345678"
	personalPhone2 = "13987654321"
	personalEmail  = "Sun.Li@Example.com"
	personalUnion  = "oUnion0000abcd1234"
	personalWeCom  = "wmMASK0000wxyz9876"
	personalMember = "M-20240001"
	personalDouyin = "dy-mask-00017777"
)

// ingestPersonal stores that customer and returns their person id.
func (f *ingestFixture) ingestPersonal() uint32 {
	f.t.Helper()
	f.ingestAll([]string{
		track("pd1", "search", map[string]string{"douyin_openid": personalDouyin, "phone": personalPhone}, `{"keyword":"低GI大米"}`),
		`{"type":"identify","messageId":"pi1","userId":"mask-user","traits":{"name":"孙女士","email":"` + personalEmail + `"},"timestamp":"2026-11-20T09:00:00Z",` +
			`"context":{"externalIds":[{"type":"unionid","id":"` + personalUnion + `"},{"type":"member_no","id":"` + personalMember + `"}]}}`,
		// The phone joins the Douyin viewer to the member: a merge. These
		// are the latest traits, shown on the profile.
		`{"type":"identify","messageId":"pi2","userId":"mask-user","timestamp":"2026-11-21T08:00:00Z","traits":{"name":"孙女士","phone":"` + personalPhone +
			`","mobile":"+86 139 8765 4321","email":"` + personalEmail + `","unionid":"` + personalUnion + `","member_no":"` + personalMember + `"}}`,
		`{"type":"identify","messageId":"pi3","userId":"mask-relative","traits":{"phone":"` + personalPhone + `"}}`,
		track("pw1", "like", map[string]string{"wecom_external_userid": personalWeCom, "user_id": "mask-user"}, `{}`),
	}, nil)
	chat := `{"msgid":"mask-m1","action":"send","from":"` + personalWeCom + `","tolist":["staff1"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"我的电话 ` + personalPhone + `，请回电"}}`
	if rec := f.post("/v1/import/wecom-archive", writeKey, []byte(chat), nil); rec.Code != 200 {
		f.t.Fatalf("chat import: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	p, ok := f.graph.Lookup(identityID("user_id", "mask-user"))
	if !ok {
		f.t.Fatal("the customer has no person")
	}
	return f.graph.Canonical(p)
}

// token creates an API token of role and returns its id and secret.
func (f *ingestFixture) token(role api.Role) (id, secret string) {
	f.t.Helper()
	var created struct{ ID, Secret string }
	if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": string(role) + " 小李", "role": string(role)}, &created); rec.Code != 201 {
		f.t.Fatalf("create %s token: %d %s", role, rec.Code, rec.Body)
	}
	return created.ID, created.Secret
}

// lookup asks for the person with an identifier.
func (f *ingestFixture) lookup(token, typ, value string, out any) (int, api.Error) {
	f.t.Helper()
	var e api.Error
	path := "/api/v1/profiles/lookup?type=" + typ + "&value=" + url.QueryEscape(value)
	rec := f.do("GET", path, token, nil, nil)
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if out != nil {
		_ = json.Unmarshal(rec.Body.Bytes(), out)
	}
	return rec.Code, e
}

// TestAnalystCannotEnumeratePhoneByLookup: an analyst who saw a mask tries
// the middle digits through the lookup. Every candidate is refused with
// 403 naming the type, before anything is matched, and so are the other
// personal identifier types; the analyst still opens profiles by person
// id, and looks up by the SDKs' pseudonymous ids.
func TestAnalystCannotEnumeratePhoneByLookup(t *testing.T) {
	f := newIngestFixture(t, 0)
	p := f.ingestPersonal()
	_, analyst := f.token(api.RoleAnalyst)
	for n := 1230; n <= 1239; n++ { // the real number is 138 1234 5678
		candidate := fmt.Sprintf("138%04d5678", n)
		code, e := f.lookup(analyst, "phone", candidate, nil)
		if code != 403 || e.Code != api.CodeForbidden || e.Field != "type" || e.Message == "" {
			t.Fatalf("analyst looks up phone %s: %d %+v, want 403 forbidden naming type", candidate, code, e)
		}
	}
	for typ, value := range map[string]string{"email": personalEmail, "unionid": personalUnion, "wecom_external_userid": personalWeCom,
		"member_no": personalMember, "douyin_openid": personalDouyin, "user_id": "mask-user"} {
		if code, e := f.lookup(analyst, typ, value, nil); code != 403 || e.Code != api.CodeForbidden || e.Field != "type" {
			t.Errorf("analyst looks up %s: %d %+v, want 403", typ, code, e)
		}
	}
	if code, _ := f.lookup(analyst, "anonymous_id", "anon-never-seen", nil); code != 404 {
		t.Errorf("analyst looks up an anonymous id: %d, want 404 (allowed, not found)", code)
	}
	if rec := f.do("GET", fmt.Sprintf("/api/v1/profiles/%d", p), analyst, nil, nil); rec.Code != 200 {
		t.Errorf("analyst opens the profile by person id: %d %s", rec.Code, rec.Body)
	}
}

// TestLookupIsAuditedAndRateLimited: a marketer's lookups each go to the
// audit log with the type, the outcome and the person found, never the
// value; after the strict burst the lookup answers 429 while the same
// token's other calls pass; the bucket refills at the configured rate.
func TestLookupIsAuditedAndRateLimited(t *testing.T) {
	f := newIngestFixture(t, 0)
	p := f.ingestPersonal()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	opts := f.opts
	opts.RateLimits = api.RateLimits{API: api.RateLimit{PerSecond: 50, Burst: 200}, Lookup: api.RateLimit{PerSecond: 0.05, Burst: 3},
		Registerer: reg, Now: clk.Now}
	f.srv = api.New(opts)
	mkID, mk := f.token(api.RoleMarketer)
	anID, analyst := f.token(api.RoleAnalyst)

	var found struct {
		PersonID uint32 `json:"person_id"`
	}
	if code, e := f.lookup(mk, "phone", personalPhone, &found); code != 200 || found.PersonID != p {
		t.Fatalf("marketer looks up the phone: %d %+v, person %d (want %d)", code, e, found.PersonID, p)
	}
	if code, _ := f.lookup(mk, "phone", "13800000000", nil); code != 404 {
		t.Fatalf("unknown phone: %d, want 404", code)
	}
	if code, _ := f.lookup(mk, "unionid", personalUnion, nil); code != 200 {
		t.Fatalf("unionid: %d", code)
	}
	// The burst of 3 is spent: one lookup every 20 s.
	rec := f.do("GET", "/api/v1/profiles/lookup?type=member_no&value="+personalMember, mk, nil, nil)
	want429(t, rec, "20")
	if !strings.Contains(rec.Body.String(), "lookup") {
		t.Errorf("the 429 does not say it is the lookup limit: %s", rec.Body)
	}
	// The token's other calls are not held back by its lookups.
	for _, path := range []string{"/api/v1/whoami", fmt.Sprintf("/api/v1/profiles/%d", p), "/api/v1/segments"} {
		if rec := f.do("GET", path, mk, nil, nil); rec.Code != 200 {
			t.Fatalf("GET %s after the lookup limit: %d %s", path, rec.Code, rec.Body)
		}
	}
	// Another token has a bucket of its own.
	if code, _ := f.lookup(adminToken, "member_no", personalMember, nil); code != 200 {
		t.Fatalf("admin lookup limited by the marketer's: %d", code)
	}
	clk.advance(19 * time.Second)
	want429(t, f.do("GET", "/api/v1/profiles/lookup?type=member_no&value="+personalMember, mk, nil, nil), "1")
	clk.advance(time.Second)
	if code, _ := f.lookup(mk, "member_no", personalMember, nil); code != 200 {
		t.Fatalf("after refill: %d", code)
	}
	// An analyst's refused attempt is audited too: it is what an
	// enumeration looks like.
	if code, _ := f.lookup(analyst, "phone", "13812340000", nil); code != 403 {
		t.Fatalf("analyst: %d", code)
	}
	if got := counter(t, reg, "lookup"); got != 2 {
		t.Errorf("cdp_rate_limited_total{kind=lookup} = %v, want 2", got)
	}

	page := f.audit("?action=profile.lookup")
	type want struct{ actor, objectID, typ, outcome string }
	person := fmt.Sprint(p)
	wants := []want{ // newest first
		{anID, "", "phone", "forbidden"},
		{mkID, person, "member_no", "found"},
		{"tok_bootstrap", person, "member_no", "found"},
		{mkID, person, "unionid", "found"},
		{mkID, "", "phone", "not_found"},
		{mkID, person, "phone", "found"},
	}
	if len(page.Items) != len(wants) {
		t.Fatalf("%d lookups audited, want %d (one per call that was not rate limited): %+v", len(page.Items), len(wants), page.Items)
	}
	for i, w := range wants {
		got := page.Items[i]
		d := string(got.Detail)
		if got.Actor != w.actor || got.ObjectType != "person" || got.ObjectID != w.objectID ||
			!strings.Contains(d, `"type":"`+w.typ+`"`) || !strings.Contains(d, `"outcome":"`+w.outcome+`"`) {
			t.Errorf("audit entry %d: %s %s/%s %s, want %+v", i, got.Actor, got.ObjectType, got.ObjectID, d, w)
		}
	}
	// No identifier value, nor any part of a phone number, in the audit log.
	for _, needle := range []string{"5678", "0000", personalUnion, "abcd1234", personalMember, "20240001"} {
		var n uint64
		err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("audit_log")+
			" WHERE action = 'profile.lookup' AND positionUTF8(toString(tuple(*)), ?) > 0", needle).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("audit log rows of lookups holding %q: %d (%v)", needle, n, err)
		}
	}
}

// readableAnswers fetches every answer about the person that role may
// read: the profile, its merges and the person summary.
func (f *ingestFixture) readableAnswers(token string, p uint32) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	for name, req := range map[string]struct {
		method, path string
		body         any
	}{
		"profile":   {"GET", fmt.Sprintf("/api/v1/profiles/%d", p), nil},
		"merges":    {"GET", fmt.Sprintf("/api/v1/profiles/%d/merges", p), nil},
		"summaries": {"POST", "/api/v1/profiles/summaries", map[string]any{"ids": []uint32{p}}},
	} {
		rec := f.do(req.method, req.path, token, req.body, nil)
		if rec.Code != 200 {
			f.t.Fatalf("%s %s: %d %s", req.method, req.path, rec.Code, rec.Body)
		}
		out[name] = rec.Body.String()
	}
	return out
}

var (
	// leadingDigits is a mask that shows digits before its stars.
	leadingDigits = regexp.MustCompile(`[0-9][*]`)
	// mobile is a mainland mobile number in the clear.
	mobile = regexp.MustCompile(`1[3-9][0-9]{9}`)
	// summaryPhone is one of the customer's phones, masked.
	summaryPhone = regexp.MustCompile(`"phone":"\*{7}(5678|4321)"`)
)

// TestMasksShowOnlyLastFour: wherever a phone appears in an answer any
// role can read (identifiers, traits, merges, conflicts, chats, the
// timeline, person summaries), it shows at most its last four digits,
// never a prefix, a full number or its keyed hash.
func TestMasksShowOnlyLastFour(t *testing.T) {
	f := newIngestFixture(t, 0)
	p := f.ingestPersonal()
	_, analyst := f.token(api.RoleAnalyst)
	_, mk := f.token(api.RoleMarketer)
	hash := strings.TrimPrefix(f.prot.Hash("+86"+personalPhone), "h:")
	for role, tok := range map[api.Role]string{api.RoleAnalyst: analyst, api.RoleMarketer: mk, api.RoleAdmin: adminToken} {
		answers := f.readableAnswers(tok, p)
		for name, body := range answers {
			if m := leadingDigits.FindString(body); m != "" {
				t.Errorf("%s's %s shows digits before a mask (%q): %s", role, name, m, body)
			}
			if m := mobile.FindString(body); m != "" {
				t.Errorf("%s's %s shows the phone %s", role, name, m)
			}
			if strings.Contains(body, hash) {
				t.Errorf("%s's %s shows the phone's keyed hash", role, name)
			}
		}
		for _, m := range []string{`"value":"*******5678"`, `"value":"*******4321"`, `"phone":"*******5678"`, `"mobile":"*******4321"`, "我的电话 *******5678"} {
			if !strings.Contains(answers["profile"], m) {
				t.Errorf("%s's profile lacks %s: %s", role, m, answers["profile"])
			}
		}
		if !strings.Contains(answers["merges"], `"identifier":{"type":"phone","value":"*******5678"}`) {
			t.Errorf("%s's merges lack the evidence's mask: %s", role, answers["merges"])
		}
		if !summaryPhone.MatchString(answers["summaries"]) {
			t.Errorf("%s's person summary lacks a masked phone: %s", role, answers["summaries"])
		}
	}
	// The reveal's audit entry carries the same masks.
	if rec := f.do("POST", fmt.Sprintf("/api/v1/profiles/%d/reveal-phone", p), adminToken, map[string]string{"reason": "客户要求回电"}, nil); rec.Code != 200 {
		t.Fatalf("reveal: %d %s", rec.Code, rec.Body)
	}
	audit := f.audit("?action=person.reveal_phone")
	if len(audit.Items) != 1 || leadingDigits.Match(audit.Items[0].Detail) || !strings.Contains(string(audit.Items[0].Detail), "*******5678") {
		t.Errorf("reveal audit: %+v", audit.Items)
	}
}

// TestAnalystSeesMaskedEmailAndUnionID: an analyst reads no personal
// identifier in full anywhere in a person's answers (identifiers, traits,
// merges, chats, timeline); a marketer sees the platform ids (unionid,
// WeCom id, member number) in full, and e-mail addresses masked, like
// phones, for every role.
func TestAnalystSeesMaskedEmailAndUnionID(t *testing.T) {
	f := newIngestFixture(t, 0)
	p := f.ingestPersonal()
	_, analyst := f.token(api.RoleAnalyst)
	_, mk := f.token(api.RoleMarketer)
	full := []string{personalEmail, strings.ToLower(personalEmail), personalUnion, personalWeCom, personalMember, personalDouyin, "mask-user"}
	an := f.readableAnswers(analyst, p)
	for name, body := range an {
		for _, v := range full {
			if strings.Contains(body, v) {
				t.Errorf("analyst's %s shows %q: %s", name, v, body)
			}
		}
	}
	for _, m := range []string{"s***@example.com", "****1234", "****9876", "****0001"} {
		if !strings.Contains(an["profile"], m) {
			t.Errorf("analyst's profile lacks the mask %q: %s", m, an["profile"])
		}
	}
	if !strings.Contains(an["profile"], `"from_customer":true`) {
		t.Errorf("analyst's profile does not tell the customer's chat lines apart: %s", an["profile"])
	}
	ops := f.readableAnswers(mk, p)
	for _, v := range []string{personalUnion, personalWeCom, personalMember} {
		if !strings.Contains(ops["profile"], v) {
			t.Errorf("marketer's profile lacks %q in full", v)
		}
	}
	for name, body := range ops {
		if strings.Contains(strings.ToLower(body), strings.ToLower(personalEmail)) {
			t.Errorf("marketer's %s shows the e-mail address in full", name)
		}
	}
}
