package journeys

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestLoggedSegmentEntriesEnterAfterARestart: the segment logs persons 11
// and 12 entering after the launch, but the process that queued them in
// memory dies before admitting 12 (its queue never receives the change).
// The next process's catch-up round admits 12 once, from the change log;
// not 11, admitted before; not the members at launch.
func TestLoggedSegmentEntriesEnterAfterARestart(t *testing.T) {
	f := newFixture(t, 10)
	live, err := f.segs.Save(f.ctx, segments.Definition{Name: "live viewers", Rule: `did("video_complete", 30) >= 1`, Live: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	d := f.segmentJourney(f.send("s1", "x"), exit("x"))
	d.Entry.SegmentID, d.Entry.IncludeCurrent = live.ID, false
	j := f.launch(d)
	f.round() // this process's catch-up round: nothing logged since the launch
	f.clock.Advance(time.Minute)
	var persons, events [][]any
	for _, p := range []uint32{11, 12} {
		persons = append(persons, []any{p, p, p, uint64(1)})
		events = append(events, []any{fmt.Sprint("e", p), "track", "video_complete", f.clock.Now().Add(-time.Hour), f.clock.Now(), "douyin", p, "{}"})
	}
	f.insert("persons", "person_id, parent, canonical, version", persons)
	f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties", events)
	ctx, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.segs.RunLive(ctx) }()
	f.segs.Touched([]uint32{11, 12}, []string{segments.KindEvents}) // logs 11 and 12 entering
	storetest.Eventually(t, time.Minute, "the live segment logs persons 11 and 12 entering", func() bool {
		return f.count("SELECT count() FROM "+f.db.Table("segment_changes")+" WHERE segment_id = ? AND person_id IN (11, 12) AND change = 'enter'", live.ID) == 2
	})
	stop()
	<-done
	f.svc.SegmentChanged(segments.Change{Segment: live.ID, Entered: []uint32{11}})
	f.round()
	runs := func(p uint32) int {
		return f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = ?", j.ID, p)
	}
	if runs(11) != 1 || runs(12) != 0 {
		t.Fatalf("before the restart: person 11 has %d runs, 12 %d; want 1 and 0", runs(11), runs(12))
	}
	f.svc = f.service() // the restart
	f.round()
	f.round()
	if runs(11) != 1 || runs(12) != 1 {
		t.Fatalf("after the restart: person 11 has %d runs, 12 %d; want one each", runs(11), runs(12))
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id <= 10", j.ID); n != 0 {
		t.Fatalf("%d members at launch entered", n)
	}
}
