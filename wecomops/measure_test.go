package wecomops

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestMeasureTagSync100k measures the sync of a segment that 100,000
// persons (one staff member and customer pair each) enter at once,
// against the fake enforcing WeCom's limits on a simulated clock: the
// calls made, the simulated time they take within the limits, and the
// entry → tag delay (p99, from wecom_tag_marks: entered_at to the added
// row). Set WECOMOPS_MEASURE=1 to run it (minutes of work).
func TestMeasureTagSync100k(t *testing.T) {
	if os.Getenv("WECOMOPS_MEASURE") == "" {
		t.Skip("set WECOMOPS_MEASURE=1 to measure a 100,000-member tag sync")
	}
	const n = 100000
	f, seg, tag := syncFixture(t, Options{}, 0, 0)
	ids := make([]uint32, n)
	persons := make([][]any, n)
	events := make([][]any, n)
	vip := make([][]any, n)
	now := f.clock.Now()
	for i := range n {
		p := uint32(i + 1)
		ids[i] = p
		ext, staff := fmt.Sprintf("wm%06d", p), fmt.Sprintf("staff%d", p%50)
		f.fake.AddContact(wecomtest.Contact{ExternalUserID: ext, FollowUser: staff})
		persons[i] = []any{p, p, p, uint64(1)}
		events[i] = []any{ext, now, wecom.ChangeAddExternalContact, corpID, staff, ext, "", "", "", p, now, uint64(p)}
		vip[i] = []any{p, "vip", "manual", uint8(0), uint8(0), now}
	}
	storetest.Insert(t, f.db, "persons", "person_id, parent, canonical, version", persons...)
	storetest.Insert(t, f.db, "wecom_contact_events",
		"dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, name, unionid, person_id, received_at, spool_seq", events...)
	_, err := f.svc.CreateSync(f.ctx, seg.ID, tag, "measure")
	f.must(err)
	storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", vip...)
	f.must(f.segs.Engine().Refresh(f.ctx, ids, segments.KindTags))
	_, err = f.segs.Recompute(f.ctx, seg.ID) // 100,000 enter: OnChange queues them
	f.must(err)

	wall, start := time.Now(), f.clock.Now()
	f.must(f.svc.ProcessChanges(f.ctx))
	took, wallTook := f.clock.Now().Sub(start), time.Since(wall)
	if got := f.fake.TaggedPairs(tag); got != n {
		t.Fatalf("%d pairs tagged, want %d", got, n)
	}
	var p50, p99, max float64
	f.must(f.db.Conn.QueryRow(f.ctx, `SELECT quantile(0.5)(d), quantile(0.99)(d), max(d) FROM (
		SELECT dateDiff('millisecond', argMax(entered_at, ts), max(ts)) / 1000 AS d FROM `+f.db.Table("wecom_tag_marks")+`
		GROUP BY external_userid, staff_userid HAVING argMax(state, ts) = 'added')`).Scan(&p50, &p99, &max))
	calls := f.fake.Calls(wecomtest.PathMarkTag)
	t.Logf("%d members: %d mark_tag calls (%d refused with 45009 by the fake's limits), %v simulated at the limits (%.0f/min), %v wall; entry→tag p50 %.0f s, p99 %.0f s, max %.0f s",
		n, calls, calls-n, took.Round(time.Second), float64(n)/took.Minutes(), wallTook.Round(time.Second), p50, p99, max)
	if calls != n {
		t.Errorf("%d calls for %d pairs: the limiter let WeCom refuse some", calls, n)
	}

	// One more person enters while the sync is idle: the wall time from the
	// change reaching the service to the pair tagged.
	const one = uint32(n + 1)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmlast", FollowUser: "staff0"})
	storetest.Insert(t, f.db, "persons", "person_id, parent, canonical, version", []any{one, one, one, uint64(1)})
	storetest.Insert(t, f.db, "wecom_contact_events",
		"dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, name, unionid, person_id, received_at, spool_seq",
		[]any{"last", now, wecom.ChangeAddExternalContact, corpID, "staff0", "wmlast", "", "", "", one, now, uint64(one)})
	storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", []any{one, "vip", "manual", uint8(0), uint8(0), now})
	f.must(f.segs.Engine().Refresh(f.ctx, []uint32{one}, segments.KindTags))
	_, err = f.segs.Recompute(f.ctx, seg.ID)
	f.must(err)
	wall = time.Now()
	f.must(f.svc.ProcessChanges(f.ctx))
	if len(f.fake.PairTags("staff0", "wmlast")) != 1 {
		t.Fatal("the last entrant's pair is not tagged")
	}
	t.Logf("one entry while idle: tagged %v after the change reached the service (wall, with %d members)", time.Since(wall).Round(time.Millisecond), n+1)
}
