package wecomops

import (
	"errors"
	"testing"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
)

// Tags staff members put on customers in WeCom become person tags with the
// wecom: prefix that rules read, and leave when WeCom no longer shows them.
func TestCustomerTagsBecomePersonTagsUsableInRules(t *testing.T) {
	f := newFixture(t, Options{})
	rebuy := f.fake.AddCorpTag("复购", "米复购28天")
	sugar := f.fake.AddCorpTag("兴趣", "高潜控糖")
	f.persons(1, 2)
	f.contact(wecom.ChangeAddExternalContact, "zhang", "wmA", 1)
	f.contact(wecom.ChangeAddExternalContact, "li", "wmA", 1)
	f.contact(wecom.ChangeAddExternalContact, "zhang", "wmB", 2)
	f.fake.TagByHand("zhang", "wmA", rebuy, true)
	f.fake.TagByHand("li", "wmA", sugar, true)

	if n, err := f.svc.RefreshLibrary(f.ctx); err != nil || n != 2 {
		t.Fatalf("RefreshLibrary = %d, %v; want 2 tags", n, err)
	}
	if n, err := f.svc.ReadCustomerTags(f.ctx, 100); err != nil || n != 2 {
		t.Fatalf("ReadCustomerTags = %d, %v; want 2 customers", n, err)
	}
	if got := f.personTags(1); len(got) != 2 || !got["wecom:米复购28天"] || !got["wecom:高潜控糖"] {
		t.Fatalf("person 1 tags = %v", got)
	}
	if got := f.personTags(2); len(got) != 0 {
		t.Fatalf("person 2 tags = %v, want none", got)
	}
	seg, err := f.segs.Save(f.ctx, segments.Definition{Name: "rebuy", Rule: `tag("wecom:米复购28天")`}, "test")
	f.must(err)
	if members, _ := f.segs.Members(seg.ID); members.GetCardinality() != 1 || !members.Contains(1) {
		t.Fatalf("segment members = %v, want [1]", members.ToArray())
	}

	// Li takes 高潜控糖 off in the app: the edit callback makes it read again.
	f.fake.TagByHand("li", "wmA", sugar, false)
	f.contact(wecom.ChangeEditExternalContact, "li", "wmA", 1)
	if n, err := f.svc.ReadCustomerTags(f.ctx, 100); err != nil || n != 1 {
		t.Fatalf("second ReadCustomerTags = %d, %v; want 1 customer (only the changed one)", n, err)
	}
	if got := f.personTags(1); len(got) != 1 || !got["wecom:米复购28天"] {
		t.Fatalf("person 1 tags after the edit = %v", got)
	}
	if len(f.touched) == 0 {
		t.Fatal("live segments were not told the persons' tags changed")
	}
	// A deleted library tag is recorded deleted.
	f.fake.DeleteCorpTag(sugar)
	if n, err := f.svc.RefreshLibrary(f.ctx); err != nil || n != 1 {
		t.Fatalf("RefreshLibrary after a deletion = %d, %v", n, err)
	}
}

// WeCom's refusals while reading: 45009 and 5xx stop the round before the
// customer (read again next round), 42001 is renewed by the client.
func TestCustomerTagReadsSurviveRateLimitsAndOutages(t *testing.T) {
	f := newFixture(t, Options{})
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	f.persons(1, 2, 3)
	for i, ext := range []string{"wmA", "wmB", "wmC"} {
		f.contact(wecom.ChangeAddExternalContact, "zhang", ext, uint32(i+1))
		f.fake.TagByHand("zhang", ext, tag, true)
	}
	if n, err := f.svc.ReadCustomerTags(f.ctx, 1); n != 1 || err != nil {
		t.Fatalf("first ReadCustomerTags = %d, %v", n, err)
	}
	f.fake.ExpireToken() // the next call meets 42001 and renews it
	f.fake.FailNext(wecomtest.PathGetContact, 45009, 1)
	if n, err := f.svc.ReadCustomerTags(f.ctx, 100); n != 0 || !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("ReadCustomerTags under 45009 = %d, %v", n, err)
	}
	f.fake.Fail5xx(wecomtest.PathGetContact, 1)
	n, err := f.svc.ReadCustomerTags(f.ctx, 100)
	var httpErr *wecom.HTTPError
	if n != 0 || !errors.As(err, &httpErr) || httpErr.StatusCode != 503 {
		t.Fatalf("ReadCustomerTags under a 5xx = %d, %v", n, err)
	}
	if n, err := f.svc.ReadCustomerTags(f.ctx, 100); n != 2 || err != nil {
		t.Fatalf("ReadCustomerTags after the outage = %d, %v; want the 2 left", n, err)
	}
	for p := uint32(1); p <= 3; p++ {
		if !f.personTags(p)["wecom:米复购28天"] {
			t.Errorf("person %d lacks the tag", p)
		}
	}
}
