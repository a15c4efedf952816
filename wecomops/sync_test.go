package wecomops

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// syncFixture: persons 1..n, each the contact of one staff member; persons
// 1..members carry the platform tag "vip" and a segment tag("vip") holds
// them; the corp tag 米复购28天 is in the library.
func syncFixture(t *testing.T, o Options, n, members int) (*fixture, segments.Definition, string) {
	f := newFixture(t, o)
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	var ids []uint32
	var vip [][]any
	for p := 1; p <= n; p++ {
		ids = append(ids, uint32(p))
		if p <= members {
			vip = append(vip, []any{uint32(p), "vip", "manual", uint8(0), uint8(0), f.clock.Now()})
		}
	}
	f.persons(ids...)
	for p := 1; p <= n; p++ {
		f.contact(wecom.ChangeAddExternalContact, fmt.Sprintf("staff%d", p%3), fmt.Sprintf("wm%d", p), uint32(p))
	}
	if len(vip) > 0 {
		storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", vip...)
	}
	_, err := f.svc.RefreshLibrary(f.ctx)
	f.must(err)
	seg, err := f.segs.Save(f.ctx, segments.Definition{Name: "vip", Rule: `tag("vip")`}, "test")
	f.must(err)
	return f, seg, tag
}

// WeCom's frequency limit (45009, the API blocked for 60 s) is waited out
// and the calls it refused are made again; an expired token (42001) and
// 5xx answers are retried; every member's pair ends tagged once.
func TestTagSyncWaitsOutRateLimitsAndRetriesOutages(t *testing.T) {
	f, seg, tag := syncFixture(t, Options{MarkTagPerMinute: 1000, Workers: 1}, 120, 120)
	f.fake.SetRateLimit(wecomtest.PathMarkTag, 50, 0) // WeCom stricter than we were told
	_, err := f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	f.must(err)
	f.fake.Fail5xx(wecomtest.PathMarkTag, 2)
	f.fake.FailNext(wecomtest.PathMarkTag, -1, 1)
	f.fake.ExpireToken()
	start := f.clock.Now()
	f.must(f.svc.ReconcileAll(f.ctx))
	if got := f.fake.TaggedPairs(tag); got != 120 {
		t.Fatalf("%d pairs tagged, want 120", got)
	}
	took := f.clock.Now().Sub(start)
	calls := f.fake.Calls(wecomtest.PathMarkTag)
	t.Logf("120 pairs at 50/min: %d calls, %v simulated", calls, took)
	if took < 2*time.Minute {
		t.Fatalf("120 calls at 50 a minute took %v: the 45009 blocks were not waited out", took)
	}
	if calls <= 120+3 {
		t.Fatalf("%d calls: expected refused calls beyond the 120 and the 3 failures", calls)
	}
	if n := f.pendingIntents(); n != 0 {
		t.Fatalf("%d intents left", n)
	}
	// A second reconcile makes no call: the record says all is done.
	f.must(f.svc.ReconcileAll(f.ctx))
	if again := f.fake.Calls(wecomtest.PathMarkTag); again != calls {
		t.Fatalf("a reconcile with nothing to do made %d calls", again-calls)
	}
}

// Entries and exits of a live segment tag and untag the members' pairs;
// stopping the sync removes what it added and leaves a staff member's own
// tag; a tag deleted in WeCom stops the sync.
func TestTagSyncFollowsEntriesAndExitsAndStops(t *testing.T) {
	f, seg, tag := syncFixture(t, Options{}, 30, 10)
	f.fake.TagByHand("staff0", "wm3", tag, true) // person 3, a member
	f.contact(wecom.ChangeEditExternalContact, "staff0", "wm3", 3)
	_, err := f.svc.ReadCustomerTags(f.ctx, 100)
	f.must(err)
	sync, err := f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	f.must(err)
	f.must(f.svc.ReconcileAll(f.ctx))
	if got := f.fake.TaggedPairs(tag); got != 10 {
		t.Fatalf("%d pairs tagged, want the 10 members'", got)
	}
	if c := f.fake.Calls(wecomtest.PathMarkTag); c != 9 {
		t.Fatalf("%d calls, want 9 (one member's pair was tagged by hand)", c)
	}
	// Persons 11..15 enter, persons 1..5 leave.
	var rows [][]any
	for p := 1; p <= 15; p++ {
		rows = append(rows, []any{uint32(p), "vip", "manual", uint8(0), boolU8(p <= 5), f.clock.Now().Add(time.Second)})
	}
	storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", rows...)
	f.must(f.segs.Engine().Refresh(f.ctx, []uint32{1, 2, 3, 4, 5, 11, 12, 13, 14, 15}, segments.KindTags))
	_, err = f.segs.Recompute(f.ctx, seg.ID)
	f.must(err)
	f.must(f.svc.ProcessChanges(f.ctx))
	for p := 1; p <= 15; p++ {
		staff, ext := fmt.Sprintf("staff%d", p%3), fmt.Sprintf("wm%d", p)
		want := p > 5 || p == 3 // person 3's tag is staff0's own
		if got := len(f.fake.PairTags(staff, ext)) == 1; got != want {
			t.Errorf("person %d tagged = %v, want %v", p, got, want)
		}
	}
	_, err = f.svc.StopSync(f.ctx, sync.ID, "test")
	f.must(err)
	f.must(f.svc.ReconcileAll(f.ctx))
	if got := f.fake.TaggedPairs(tag); got != 1 {
		t.Fatalf("%d pairs tagged after the stop, want only the hand-set one", got)
	}

	// A tag deleted in WeCom stops the sync that writes it.
	other := f.fake.AddCorpTag("复购", "油复购")
	_, err = f.svc.RefreshLibrary(f.ctx)
	f.must(err)
	s2, err := f.svc.CreateSync(f.ctx, seg.ID, other, "test")
	f.must(err)
	f.fake.DeleteCorpTag(other)
	if err := f.svc.ReconcileAll(f.ctx); !errors.Is(err, errTagDeleted) {
		t.Fatalf("reconcile with a deleted tag: %v", err)
	}
	if got, _ := f.svc.Sync(f.ctx, s2.ID); got.Status != SyncStopped {
		t.Fatalf("sync of a deleted tag is %s, want stopped", got.Status)
	}
}

// A deleted segment stops its sync, and the tags the sync added go.
func TestTagSyncOfADeletedSegmentStopsAndRemovesItsTags(t *testing.T) {
	f, seg, tag := syncFixture(t, Options{}, 5, 5)
	ts, err := f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	f.must(err)
	f.must(f.svc.ReconcileAll(f.ctx))
	if got := f.fake.TaggedPairs(tag); got != 5 {
		t.Fatalf("%d pairs tagged, want 5", got)
	}
	f.must(f.segs.Delete(f.ctx, seg.ID, "test"))
	if err := f.svc.ReconcileAll(f.ctx); !errors.Is(err, errSegmentDeleted) {
		t.Fatalf("reconcile of a deleted segment: %v", err)
	}
	if got, _ := f.svc.Sync(f.ctx, ts.ID); got.Status != SyncStopped || got.By != "wecomops: segment deleted" {
		t.Fatalf("sync of a deleted segment: %+v", got)
	}
	f.must(f.svc.ReconcileAll(f.ctx))
	if got := f.fake.TaggedPairs(tag); got != 0 {
		t.Fatalf("%d pairs still tagged after the segment was deleted", got)
	}
}

// CreateSync refuses what it cannot do, naming the field.
func TestCreateSyncRefusesBadRequests(t *testing.T) {
	f, seg, tag := syncFixture(t, Options{}, 1, 1)
	for _, tc := range []struct{ segment, tag, field string }{
		{"nope", tag, "segment_id"},
		{seg.ID, "ettag999", "tag_id"},
	} {
		_, err := f.svc.CreateSync(f.ctx, tc.segment, tc.tag, "test")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("CreateSync(%s, %s) = %v, want a FieldError on %s", tc.segment, tc.tag, err, tc.field)
		}
	}
	_, err := f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	f.must(err)
	_, err = f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "tag_id" {
		t.Fatalf("a second sync of the same tag: %v", err)
	}
	if _, err := f.svc.Sync(f.ctx, "tsync_none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Sync of an unknown id: %v", err)
	}
}
