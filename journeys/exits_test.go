package journeys

import (
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
)

func segmentChange(seg string, persons ...uint32) segments.Change {
	return segments.Change{Segment: seg, Entered: persons}
}

// TestExitOnConversionDuringAWait: a person who buys the goal offer while
// waiting leaves at once (converted) and is sent nothing more.
func TestExitOnConversionDuringAWait(t *testing.T) {
	f := newFixture(t, 10)
	d := f.segmentJourney(f.send("hello", "pause"), Node{ID: "pause", Type: NodeWait, Next: "again", Wait: &Wait{Duration: "3d"}}, f.send("again", "out"), exit("out"))
	d.Settings.ExitOnConversion = true
	j := f.launch(d)
	f.round()
	f.clock.Advance(time.Hour)
	f.order(3, "LGI-TRIAL", "低GI大米试用装", f.clock.Now())
	f.order(4, "OTHER", "花生油", f.clock.Now())
	f.svc.Touched([]uint32{3, 4}, []string{"orders"})
	f.round()
	if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND exit_reason = 'converted'", j.ID); got != 1 {
		t.Fatalf("%d converted exits, want 1", got)
	}
	converted, err := f.svc.PlacesOf(f.ctx, 3)
	if err != nil || len(converted) != 1 || converted[0].State != stateDone || converted[0].ExitReason != ExitConverted || converted[0].Name != "测试旅程" {
		t.Fatalf("person 3's places %+v, %v", converted, err)
	}
	waiting, err := f.svc.PlacesOf(f.ctx, 5)
	if err != nil || len(waiting) != 1 || waiting[0].Node != "pause" || !waiting[0].WakeAt.Equal(start.Add(72*time.Hour)) {
		t.Fatalf("person 5's places %+v, %v", waiting, err)
	}
	f.advance(72 * time.Hour)
	if got := f.outbox(j, "again"); got != 9 {
		t.Fatalf("second send reached %d, want 9 (the converted person left)", got)
	}
}

// TestExitWhenLeavingTheSegment ends the runs of persons who leave the
// entry segment.
func TestExitWhenLeavingTheSegment(t *testing.T) {
	f := newFixture(t, 5)
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "1d"}}, exit("out"))
	d.Settings.ExitOnSegmentExit = true
	j := f.launch(d)
	f.round()
	f.svc.SegmentChanged(segments.Change{Segment: f.seg, Exited: []uint32{2, 5}})
	f.round()
	if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND exit_reason = 'left_segment'", j.ID); got != 2 {
		t.Fatalf("%d left the segment, want 2", got)
	}
}

// TestReEntryAndOneActiveRun: an entry while a run is active is ignored;
// with re_entry never a person enters once, with after_exit again after
// the run ended, with after_days only once the days passed.
func TestReEntryAndOneActiveRun(t *testing.T) {
	for _, tc := range []struct {
		policy string
		days   int
		want   []int // runs of person 1 after each of: entry during the run, entry after it ended, entry 3 days later
	}{
		{ReEntryNever, 0, []int{1, 1, 1}},
		{ReEntryAfterExit, 0, []int{1, 2, 3}},
		{ReEntryAfterDays, 2, []int{1, 1, 2}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			f := newFixture(t, 1)
			d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "1h"}}, exit("out"))
			d.Entry.IncludeCurrent = false
			d.Settings.ReEntry, d.Settings.ReEntryDays = tc.policy, tc.days
			j := f.launch(d)
			runs := func() int {
				return f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = 1", j.ID)
			}
			f.svc.SegmentChanged(segmentChange(f.seg, 1))
			f.round()
			f.svc.SegmentChanged(segmentChange(f.seg, 1))
			f.advance(time.Minute)
			got := []int{runs()}
			f.advance(2 * time.Hour) // the run ends
			f.svc.SegmentChanged(segmentChange(f.seg, 1))
			f.round()
			got = append(got, runs())
			f.advance(72 * time.Hour)
			f.svc.SegmentChanged(segmentChange(f.seg, 1))
			f.round()
			got = append(got, runs())
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("runs %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestSendsObeyConsentCapsAndQuietHours: a send step excludes a person who
// opted out of the channel and one at the weekly cap across campaigns,
// and during quiet hours the send waits for them to end.
func TestSendsObeyConsentCapsAndQuietHours(t *testing.T) {
	f := newFixture(t, 5)
	if err := f.camps.SetConsent(f.ctx, 1, campaigns.Consent{Channel: campaigns.ChannelOutbox, Kind: campaigns.KindOptOut, Granted: true, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	f.insert("campaign_sends", "campaign_id, person_id, group, reason, channel, address, sender, state, detail, task, planned_at, updated_at",
		[][]any{{"cmp_a", uint32(2), "treatment", "", "outbox", "", "", "sent", "", "", start.Add(-time.Hour), start.Add(-time.Hour)}})
	d := f.segmentJourney(f.send("hello", "out"), exit("out"))
	d.Settings.CapPerWeek = 1
	d.Settings.QuietStart, d.Settings.QuietEnd = 10, 12 // 11:00 now: quiet
	j := f.launch(d)
	f.round()
	if got := f.outbox(j, "hello"); got != 0 {
		t.Fatalf("%d sent in quiet hours", got)
	}
	f.advance(time.Hour)
	if got := f.outbox(j, "hello"); got != 3 {
		t.Fatalf("%d sent after quiet hours, want 3 (one opted out, one at the cap)", got)
	}
	res, err := f.svc.Results(f.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Nodes["hello"].Outcomes; o["excluded:opted_out"] != 1 || o["excluded:cap_reached"] != 1 || o["planned"] != 3 {
		t.Fatalf("send outcomes %v", o)
	}
}

// TestPauseStopsEntriesAndStopEndsRuns: a paused journey enters nobody
// while its runs go on; a stopped one ends every active run (stopped) and
// can no longer be edited or launched.
func TestPauseStopsEntriesAndStopEndsRuns(t *testing.T) {
	f := newFixture(t, 4)
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "1h"}}, exit("out"))
	d.Entry.IncludeCurrent = false
	j := f.launch(d)
	f.svc.SegmentChanged(segmentChange(f.seg, 1, 2))
	f.round()
	if _, err := f.svc.Pause(f.ctx, j.ID, "tok_test"); err != nil {
		t.Fatal(err)
	}
	f.svc.SegmentChanged(segmentChange(f.seg, 3))
	f.advance(2 * time.Hour)
	if entered, done := f.entered(j), f.runs(j, stateDone, "out"); entered != 2 || done != 2 {
		t.Fatalf("paused: %d entered, %d done; want 2 and 2", entered, done)
	}
	if _, err := f.svc.Launch(f.ctx, j.ID, "tok_test"); err != nil {
		t.Fatal(err)
	}
	f.svc.SegmentChanged(segmentChange(f.seg, 4))
	f.round()
	if _, err := f.svc.Stop(f.ctx, j.ID, "tok_test"); err != nil {
		t.Fatal(err)
	}
	if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = 4 AND state = 'done' AND exit_reason = 'stopped'", j.ID); got != 1 {
		t.Fatalf("person 4's run did not end stopped")
	}
	if _, err := f.svc.Save(f.ctx, j.ID, d, "tok_test"); err == nil {
		t.Fatal("a stopped journey was edited")
	}
	if _, err := f.svc.Launch(f.ctx, j.ID, "tok_test"); err == nil {
		t.Fatal("a stopped journey was launched")
	}
}
