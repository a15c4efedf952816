package campaigns

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestEntriesLoggedButNotPlannedArePlannedAfterARestart: the segment logs
// persons 11 and 12 entering after the launch, but the process that
// queued them in memory dies before planning 12 (here: its queue never
// receives the change). The next process plans 12 once, from the change
// log; not 11, planned before; not the members at launch.
func TestEntriesLoggedButNotPlannedArePlannedAfterARestart(t *testing.T) {
	f := newFixture(t, 10)
	var clock sync.Mutex
	now := launchTime
	at := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	opts := segments.DefaultOptions()
	opts.Now = at
	segs, err := segments.NewStore(f.ctx, f.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Segments, f.svc.Now = segs, at
	c := f.campaign(0)
	live, err := segs.Save(f.ctx, segments.Definition{Name: "live viewers", Rule: `did("video_complete", 30) >= 1`, Live: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Trigger, c.SegmentID = TriggerSegmentEntry, live.ID
	c, err = f.svc.SaveCampaign(f.ctx, c, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Round(f.ctx, time.Hour); err != nil { // this process's first round: nothing logged to catch up on
		t.Fatal(err)
	}
	clock.Lock()
	now = now.Add(time.Minute)
	clock.Unlock()
	var persons, events [][]any
	for _, p := range []uint32{11, 12} {
		persons = append(persons, []any{p, p, p, uint64(1)})
		events = append(events, []any{[]string{"member_no"}, []string{fmt.Sprint("m", p)}, fmt.Sprint("e", p), "track", "video_complete",
			launchTime.Add(-time.Hour), launchTime, "douyin", p, "", "", `{"topic":"健康饮食"}`, "", "", uint64(p)})
	}
	insertRows(t, f.db, "persons", "person_id, parent, canonical, version", persons)
	insertRows(t, f.db, "events", "id_types, id_values, message_id, type, event, ts, received_at, source, person_id, user_id, anonymous_id, properties, traits, context, spool_seq", events)
	ctx, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.svc.Segments.RunLive(ctx) }()
	f.svc.Segments.Touched([]uint32{11, 12}, []string{segments.KindEvents}) // logs 11 and 12 entering
	storetest.Eventually(t, time.Minute, "the live segment logs persons 11 and 12 entering", func() bool {
		return f.count("SELECT count() FROM "+f.db.Table("segment_changes")+" WHERE segment_id = ? AND person_id IN (11, 12) AND change = 'enter'", c.SegmentID) == 2
	})
	stop()
	<-done
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{11}})
	if err := f.svc.Round(f.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	sends := func(person uint32) int {
		return f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND person_id = ?", c.ID, person)
	}
	if sends(11) != 1 || sends(12) != 0 {
		t.Fatalf("before the restart: person 11 planned %d times, 12 %d times; want 1 and 0", sends(11), sends(12))
	}
	restarted := &Service{DB: f.db, Writer: f.svc.Writer, Segments: f.svc.Segments, Logger: f.svc.Logger, Now: at}
	for range 2 {
		if err := restarted.Round(f.ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if sends(12) != 1 || sends(11) != 1 {
		t.Fatalf("after the restart: person 12 planned %d times, 11 %d times; want once each", sends(12), sends(11))
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND person_id <= 10", c.ID); n != 0 {
		t.Fatalf("%d members at launch planned", n)
	}
	// A segment deleted under a running campaign leaves nobody to catch up
	// on: the next process's rounds go on without error.
	if err := segs.Delete(f.ctx, c.SegmentID, "test"); err != nil {
		t.Fatal(err)
	}
	again := &Service{DB: f.db, Writer: f.svc.Writer, Segments: segs, Logger: f.svc.Logger, Now: at}
	if err := again.Round(f.ctx, time.Hour); err != nil {
		t.Fatalf("a round after the segment was deleted: %v", err)
	}
}
