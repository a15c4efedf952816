package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/segments"
)

type auditPage struct {
	Items      []api.AuditEntry `json:"items"`
	NextOffset int              `json:"next_offset"`
}

func (f *ingestFixture) audit(query string) auditPage {
	f.t.Helper()
	var p auditPage
	if rec := f.do("GET", "/api/v1/admin/audit"+query, adminToken, nil, &p); rec.Code != 200 {
		f.t.Fatalf("audit%s: %d %s", query, rec.Code, rec.Body)
	}
	return p
}

// TestEveryManagementActionIsAudited performs each kind of management
// action through the API, as a marketer where the role suffices, and finds
// each in GET /api/v1/admin/audit with the right actor, object and detail,
// newest first.
func TestEveryManagementActionIsAudited(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		track("a1", "video_play", map[string]string{"member_no": "M-1"}, `{"topic":"减脂"}`),
		track("b1", "video_complete", map[string]string{"unionid": "U-2"}, `{"topic":"控糖"}`),
		track("bad", "like", map[string]string{"member_no": "M-1", "unionid": "U-2"}, `{}`),
		track("c1", "video_complete", map[string]string{"douyin_openid": "dy-3"}, `{"topic":"控糖"}`),
	}, nil)
	ok := func(method, path, token string, body any, out any, want int) {
		t.Helper()
		if rec := f.do(method, path, token, body, out); rec.Code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
		}
	}
	var mk struct{ ID, Secret string }
	ok("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "运营小王", "role": "marketer"}, &mk, 201)
	var wk struct{ ID string }
	ok("POST", "/api/v1/write-keys", adminToken, map[string]string{"name": "抖音", "source": "douyin"}, &wk, 201)
	ok("DELETE", "/api/v1/write-keys/"+wk.ID, adminToken, nil, nil, 204)

	var seg segments.Definition
	ok("POST", "/api/v1/segments", mk.Secret, map[string]any{"name": "控糖完播", "rule": `did("video_complete", 30, {"topic": "控糖"}) >= 1`}, &seg, 201)
	ok("PUT", "/api/v1/segments/"+seg.ID, mk.Secret, map[string]any{"name": "控糖完播", "rule": `did("video_complete", 60, {"topic": "控糖"}) >= 1`}, nil, 200)
	ok("POST", "/api/v1/segments/"+seg.ID+"/recompute", mk.Secret, nil, nil, 200)
	var offer, camp struct{ ID string }
	ok("POST", "/api/v1/offers", mk.Secret, map[string]any{"name": "试用装", "categories": []string{"低GI大米"}}, &offer, 200)
	ok("POST", "/api/v1/campaigns", mk.Secret, map[string]any{"name": "c", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox", "template": "hi"}, &camp, 200)
	ok("POST", "/api/v1/campaigns/"+camp.ID+"/launch", mk.Secret, nil, nil, 200)
	c1 := f.graph.Canonical(f.personOf("c1"))
	ok("PUT", fmt.Sprintf("/api/v1/profiles/%d/consent", c1), mk.Secret, map[string]any{"channel": "wecom", "kind": "opt_out", "granted": true}, nil, 204)
	var seg2 segments.Definition
	ok("POST", "/api/v1/segments", mk.Secret, map[string]any{"name": "临时", "rule": `did("like", 30) >= 1`}, &seg2, 201)
	ok("DELETE", "/api/v1/segments/"+seg2.ID, mk.Secret, nil, nil, 204)

	merged := f.profileOf("member_no", "M-1")
	if len(merged.Merges) != 1 {
		t.Fatalf("merges %+v", merged.Merges)
	}
	mergeID := fmt.Sprint(merged.Merges[0].ID)
	ok("POST", "/api/v1/merges/"+mergeID+"/unmerge", adminToken, nil, nil, 200)
	ok("DELETE", fmt.Sprintf("/api/v1/profiles/%d", c1), adminToken, nil, nil, 200)

	type want struct{ actor, action, objectType, objectID, detail string }
	wants := []want{ // in the order done
		{"tok_bootstrap", "token.create", "api_token", mk.ID, `"role":"marketer"`},
		{"tok_bootstrap", "write_key.create", "write_key", wk.ID, `"source":"douyin"`},
		{"tok_bootstrap", "credential.revoke", "write_keys", wk.ID, ``},
		{mk.ID, "segment.create", "segment", seg.ID, `"version":1`},
		{mk.ID, "segment.update", "segment", seg.ID, `"version":2`},
		{mk.ID, "segment.recompute", "segment", seg.ID, `"size":`},
		{mk.ID, "offer.save", "offer", offer.ID, `低GI大米`},
		{mk.ID, "campaign.save", "campaign", camp.ID, `"segment_id":"` + seg.ID + `"`},
		{mk.ID, "campaign.launch", "campaign", camp.ID, `"counts"`},
		{mk.ID, "consent.opt_out", "person", fmt.Sprint(c1), `"channel":"wecom"`},
		{mk.ID, "segment.create", "segment", seg2.ID, `"version":1`},
		{mk.ID, "segment.delete", "segment", seg2.ID, ``},
		{"tok_bootstrap", "profile.lookup", "person", fmt.Sprint(merged.PersonID), `"outcome":"found"`},
		{"tok_bootstrap", "identity.unmerge", "merge", mergeID, `"survivor"`},
		{"tok_bootstrap", "person.erase", "person", fmt.Sprint(c1), `"persons"`},
	}
	page := f.audit("")
	if len(page.Items) != len(wants) || page.NextOffset != 0 {
		t.Fatalf("audit log has %d entries (next %d), want %d: %+v", len(page.Items), page.NextOffset, len(wants), page.Items)
	}
	for i, w := range wants {
		got := page.Items[len(wants)-1-i] // newest first
		if got.Actor != w.actor || got.Action != w.action || got.ObjectType != w.objectType || got.ObjectID != w.objectID ||
			!strings.Contains(string(got.Detail), w.detail) || !json.Valid(got.Detail) {
			t.Errorf("entry %d: %s %s %s/%s %s, want %+v", i, got.Actor, got.Action, got.ObjectType, got.ObjectID, got.Detail, w)
		}
		if i > 0 && got.TS.Before(page.Items[len(wants)-i].TS) {
			t.Errorf("entry %d is older than the action before it, yet listed first", i)
		}
		if time.Since(got.TS) > time.Minute {
			t.Errorf("entry %d dated %v", i, got.TS)
		}
	}
	if page.Items[0].ActorName != "bootstrap admin (CDP_ADMIN_TOKEN)" || page.Items[len(wants)-1].ActorName != "bootstrap admin (CDP_ADMIN_TOKEN)" {
		t.Errorf("actor names %q", page.Items[0].ActorName)
	}

	// Filters: who changed this segment; everything one marketer did; one action.
	bySeg := f.audit("?object_type=segment&object_id=" + url.QueryEscape(seg.ID))
	if len(bySeg.Items) != 3 || bySeg.Items[0].Action != "segment.recompute" || bySeg.Items[2].Action != "segment.create" {
		t.Errorf("segment %s history: %+v", seg.ID, bySeg.Items)
	}
	byActor := f.audit("?actor=" + mk.ID)
	if len(byActor.Items) != 9 || byActor.Items[0].ActorName != "运营小王" {
		t.Errorf("marketer's actions: %d, first by %q", len(byActor.Items), byActor.Items[0].ActorName)
	}
	if launches := f.audit("?action=campaign.launch"); len(launches.Items) != 1 || launches.Items[0].ObjectID != camp.ID {
		t.Errorf("launches: %+v", launches.Items)
	}
	if none := f.audit("?object_id=nothing"); len(none.Items) != 0 {
		t.Errorf("unknown object: %+v", none.Items)
	}

	// Paging walks the whole log newest first, without overlap or gaps.
	var walked []api.AuditEntry
	for off, pages := 0, 0; ; pages++ {
		p := f.audit(fmt.Sprintf("?limit=4&offset=%d", off))
		walked = append(walked, p.Items...)
		if p.NextOffset == 0 {
			if pages != 3 || len(p.Items) != 3 {
				t.Errorf("last page %d has %d entries", pages, len(p.Items))
			}
			break
		}
		off = p.NextOffset
	}
	if len(walked) != len(page.Items) {
		t.Fatalf("paging gave %d entries, want %d", len(walked), len(page.Items))
	}
	for i := range walked {
		if walked[i].Action != page.Items[i].Action || walked[i].ObjectID != page.Items[i].ObjectID {
			t.Errorf("page entry %d is %s %s, the full list has %s %s", i, walked[i].Action, walked[i].ObjectID, page.Items[i].Action, page.Items[i].ObjectID)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?offset=-1"} {
		var e api.Error
		field := strings.TrimPrefix(strings.SplitN(q, "=", 2)[0], "?")
		if rec := f.do("GET", "/api/v1/admin/audit"+q, adminToken, nil, &e); rec.Code != 400 || e.Field != field {
			t.Errorf("audit%s: %d %+v, want 400 naming %s", q, rec.Code, e, field)
		}
	}
	// Reading the audit log is for admins only.
	var e api.Error
	if rec := f.do("GET", "/api/v1/admin/audit", mk.Secret, nil, &e); rec.Code != 403 || e.Code != api.CodeForbidden {
		t.Errorf("marketer reads the audit log: %d", rec.Code)
	}
}
