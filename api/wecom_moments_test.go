package api_test

import (
	"testing"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/wecomops"
)

// TestMomentAPI: a marketer's moment task without tags or senders is
// refused naming tag_ids; one to a corp tag's customers is created
// (submitted, audited), listed, and read by id once its job is polled;
// an unknown id is 404 naming id.
func TestMomentAPI(t *testing.T) {
	f := newConsentFixture(t)
	f.fake.AddStaff("zhangsan")
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	if _, err := f.wecomOps.RefreshLibrary(t.Context()); err != nil {
		t.Fatal(err)
	}
	var e api.Error
	if rec := f.do("POST", "/api/v1/wecom/moments", f.marketer, map[string]any{"text": "新米上市"}, &e); rec.Code != 400 || e.Field != "tag_ids" {
		t.Fatalf("no tags: %d %+v", rec.Code, e)
	}
	var m wecomops.Moment
	in := map[string]any{"text": "新米上市", "tag_ids": []string{tag}, "attachments": []map[string]any{{"image_media_id": "img1"}}}
	if rec := f.do("POST", "/api/v1/wecom/moments", f.marketer, in, &m); rec.Code != 201 || m.Status != wecomops.MomentSubmitted {
		t.Fatalf("create: %d %+v", rec.Code, m)
	}
	if _, err := f.wecomOps.PollMoments(t.Context()); err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []wecomops.Moment }
	if rec := f.do("GET", "/api/v1/wecom/moments?limit=5", adminToken, nil, &list); rec.Code != 200 || len(list.Items) != 1 || list.Items[0].Status != wecomops.MomentCreated {
		t.Fatalf("list: %d %+v", rec.Code, list.Items)
	}
	var got wecomops.Moment
	if rec := f.do("GET", "/api/v1/wecom/moments/"+m.ID, adminToken, nil, &got); rec.Code != 200 || got.MomentID == "" || len(got.Results) != 1 || got.Results[0].Sender != "zhangsan" {
		t.Fatalf("get: %d %+v", rec.Code, got)
	}
	if rec := f.do("GET", "/api/v1/wecom/moments/mt_nope", adminToken, nil, &e); rec.Code != 404 || e.Field != "id" {
		t.Fatalf("unknown: %d %+v", rec.Code, e)
	}
}
