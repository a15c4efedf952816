package api_test

import (
	"testing"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/wecomops"
)

// TestWeComTagSyncAPI: the corp tag library is readable by an analyst; a
// tag sync is created by a marketer only (403 for an analyst, 401 without
// a token), refused with 400 naming the field when the segment or tag is
// missing or unknown, the body has an unknown field, or the tag is
// already synced; listed with its counts, read, and stopped; an unknown
// sync is 404.
func TestWeComTagSyncAPI(t *testing.T) {
	f := newConsentFixture(t)
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	if _, err := f.wecomOps.RefreshLibrary(t.Context()); err != nil {
		t.Fatal(err)
	}
	var an struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "分析", "role": "analyst"}, &an)
	var lib struct{ Items []wecomops.LibraryTag }
	if rec := f.do("GET", "/api/v1/wecom/tags", an.Secret, nil, &lib); rec.Code != 200 || len(lib.Items) != 1 || lib.Items[0].Name != "米复购28天" {
		t.Fatalf("library: %d %s", rec.Code, rec.Body)
	}
	good := map[string]string{"segment_id": f.segment, "tag_id": tag}
	var e api.Error
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs", an.Secret, good, &e); rec.Code != 403 {
		t.Fatalf("an analyst created a tag sync: %d", rec.Code)
	}
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs", "", good, &e); rec.Code != 401 {
		t.Fatalf("no token: %d", rec.Code)
	}
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]string{"tag_id": tag}, "segment_id"},
		{map[string]string{"segment_id": "seg_nope", "tag_id": tag}, "segment_id"},
		{map[string]string{"segment_id": f.segment}, "tag_id"},
		{map[string]string{"segment_id": f.segment, "tag_id": "ettag404"}, "tag_id"},
		{map[string]any{"segment_id": f.segment, "tag_id": tag, "tag_name": "x"}, "tag_name"},
	} {
		e = api.Error{}
		if rec := f.do("POST", "/api/v1/wecom/tag-syncs", f.marketer, tc.body, &e); rec.Code != 400 || e.Field != tc.field {
			t.Errorf("%v: %d %s, want 400 naming %s", tc.body, rec.Code, rec.Body, tc.field)
		}
	}
	var ts wecomops.TagSync
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs", f.marketer, good, &ts); rec.Code != 201 || ts.Status != wecomops.SyncActive || ts.TagName != "米复购28天" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs", f.marketer, good, &e); rec.Code != 400 || e.Field != "tag_id" {
		t.Fatalf("a second sync of the tag: %d %s", rec.Code, rec.Body)
	}
	var list struct{ Items []wecomops.SyncReport }
	if rec := f.do("GET", "/api/v1/wecom/tag-syncs", an.Secret, nil, &list); rec.Code != 200 || len(list.Items) != 1 || list.Items[0].Sync.ID != ts.ID {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/wecom/tag-syncs/tsync_nope", an.Secret, nil, &e); rec.Code != 404 {
		t.Fatalf("unknown sync: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs/"+ts.ID+"/stop", an.Secret, nil, &e); rec.Code != 403 {
		t.Fatalf("an analyst stopped a sync: %d", rec.Code)
	}
	var stopped wecomops.TagSync
	if rec := f.do("POST", "/api/v1/wecom/tag-syncs/"+ts.ID+"/stop", f.marketer, nil, &stopped); rec.Code != 200 || stopped.Status != wecomops.SyncStopped {
		t.Fatalf("stop: %d %s", rec.Code, rec.Body)
	}
	var got wecomops.TagSync
	if rec := f.do("GET", "/api/v1/wecom/tag-syncs/"+ts.ID, an.Secret, nil, &got); rec.Code != 200 || got.Status != wecomops.SyncStopped {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
}
