package journeys

import (
	"math"
	"testing"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// TestSendWaitSendExitFollowsTheClock: every person gets the first send
// at launch, waits three days (still waiting a minute before), then gets
// the second and exits; nobody gets anything twice.
func TestSendWaitSendExitFollowsTheClock(t *testing.T) {
	f := newFixture(t, 50)
	j := f.launch(f.segmentJourney(f.send("hello", "pause"),
		Node{ID: "pause", Type: NodeWait, Next: "again", Wait: &Wait{Duration: "3d"}}, f.send("again", "out"), exit("out")))
	f.round()
	if got := f.outbox(j, "hello"); got != 50 {
		t.Fatalf("first send reached %d, want 50", got)
	}
	if got := f.runs(j, stateWaiting, "pause"); got != 50 {
		t.Fatalf("%d runs waiting, want 50", got)
	}
	f.advance(72*time.Hour - time.Minute)
	if got := f.outbox(j, "again"); got != 0 {
		t.Fatalf("second send before the wait ended: %d", got)
	}
	f.advance(time.Minute)
	if got := f.outbox(j, "again"); got != 50 {
		t.Fatalf("second send reached %d, want 50", got)
	}
	if got := f.runs(j, stateDone, "out"); got != 50 {
		t.Fatalf("%d runs exited, want 50", got)
	}
	f.advance(24 * time.Hour)
	if got := f.outbox(j, "hello") + f.outbox(j, "again"); got != 100 {
		t.Fatalf("%d messages after another round, want 100", got)
	}
	res, err := f.svc.Results(f.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entered != 50 || res.Exited["out"] != 50 || res.Nodes["pause"].Outcomes["waited"] != 50 || res.Nodes["hello"].Sends["sent"] != 50 {
		t.Fatalf("results %+v; pause %+v; hello %+v", res, res.Nodes["pause"], res.Nodes["hello"])
	}
}

// TestWaitUntilTimeOfDayAndDateTrait: a wait until 09:30 Beijing ends at
// the next 09:30; a wait until two days before the predicted next rice
// purchase at 10:00 ends then, and a person without a prediction goes on
// at once.
func TestWaitUntilTimeOfDayAndDateTrait(t *testing.T) {
	f := newFixture(t, 2)
	// Person 1 bought rice 14 and 4 days ago: the next purchase is
	// predicted 10 days after the last, 6 days from now.
	f.order(1, "WC-5", "五常大米", start.Add(-14*24*time.Hour))
	f.order(1, "WC-5", "五常大米", start.Add(-4*24*time.Hour))
	j := f.launch(f.segmentJourney(
		Node{ID: "morning", Type: NodeWait, Next: "due", Wait: &Wait{UntilTime: "09:30"}},
		Node{ID: "due", Type: NodeWait, Next: "out", Wait: &Wait{UntilTrait: TraitNextPurchaseRice, OffsetDays: -2, At: "10:00"}},
		exit("out")))
	f.round()
	// 11:00 now: the next 09:30 is tomorrow, 22h30m on.
	f.advance(22*time.Hour + 29*time.Minute)
	if got := f.runs(j, stateWaiting, "morning"); got != 2 {
		t.Fatalf("%d runs still waiting for 09:30, want 2", got)
	}
	f.advance(time.Minute)
	if got := f.runs(j, stateDone, "out"); got != 1 {
		t.Fatalf("%d runs done at 09:30 (the one without a prediction), want 1", got)
	}
	var wake time.Time
	if err := f.db.Conn.QueryRow(f.ctx, "SELECT wake_at FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = 1", j.ID).Scan(&wake); err != nil {
		t.Fatal(err)
	}
	b := start.In(schema.Beijing)
	want := time.Date(b.Year(), b.Month(), b.Day(), 10, 0, 0, 0, schema.Beijing).AddDate(0, 0, 4)
	if !wake.Equal(want) {
		t.Fatalf("person 1 wakes at %s, want %s (two days before %s)", wake.In(schema.Beijing), want, want.AddDate(0, 0, 2))
	}
	f.clock.Advance(wake.Sub(f.clock.Now()))
	f.round()
	if got := f.runs(j, stateDone, "out"); got != 2 {
		t.Fatalf("%d runs done at the trait date, want 2", got)
	}
}

// TestWaitForOrderHappenedAndTimedOut: a run whose person orders during
// the wait goes down happened as soon as the order is committed (Touched),
// the others down timed out at the timeout, and an order placed before the
// wait began does not count.
func TestWaitForOrderHappenedAndTimedOut(t *testing.T) {
	f := newFixture(t, 30)
	for p := uint32(21); p <= 30; p++ {
		f.order(p, "LGI-TRIAL", "低GI大米", start.Add(-time.Hour)) // before the wait
	}
	j := f.launch(f.segmentJourney(Node{ID: "buy", Type: NodeWaitFor, WaitFor: &WaitFor{Order: &OrderFilter{Categories: []string{"低GI大米"}},
		Timeout: "72h", Happened: "thanks", TimedOut: "nudge"}}, f.send("thanks", "out"), f.send("nudge", "out"), exit("out")))
	f.round()
	f.clock.Advance(30 * time.Hour)
	for p := uint32(1); p <= 10; p++ {
		f.order(p, "LGI-5", "低GI大米", f.clock.Now())
	}
	f.order(11, "WC-5", "五常大米", f.clock.Now()) // not what is waited for
	f.svc.Touched([]uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []string{"orders", "order_lines"})
	f.round()
	if got, waiting := f.outbox(j, "thanks"), f.runs(j, stateWaiting, "buy"); got != 10 || waiting != 20 {
		t.Fatalf("%d thanked, %d waiting after 10 orders; want 10 and 20", got, waiting)
	}
	f.advance(42*time.Hour - time.Millisecond)
	if got := f.outbox(j, "nudge"); got != 0 {
		t.Fatalf("%d nudged before the timeout", got)
	}
	f.advance(time.Millisecond)
	if got := f.outbox(j, "nudge"); got != 20 {
		t.Fatalf("%d nudged at the timeout, want 20", got)
	}
	res, err := f.svc.Results(f.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Nodes["buy"].Outcomes; o["happened"] != 10 || o["timed_out"] != 20 {
		t.Fatalf("wait-for outcomes %v", o)
	}
}

// TestWaitForEventWithPropertyFilter: a search for 低GI (keyword contains)
// resolves the wait; a search for something else does not.
func TestWaitForEventWithPropertyFilter(t *testing.T) {
	f := newFixture(t, 4)
	j := f.launch(f.segmentJourney(Node{ID: "look", Type: NodeWaitFor, WaitFor: &WaitFor{
		Event:   &EventFilter{Name: "search", Where: []PropertyFilter{{Property: "keyword", Op: "contains", Value: "低GI"}}},
		Timeout: "1d", Happened: "hit", TimedOut: "out"}}, exit("hit"), exit("out")))
	f.round()
	f.clock.Advance(time.Hour)
	at := f.clock.Now()
	f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties", [][]any{
		{"s1", "track", "search", at, at, "douyin", uint32(1), `{"keyword":"低GI大米"}`},
		{"s2", "track", "search", at, at, "douyin", uint32(2), `{"keyword":"五常大米"}`},
		{"s3", "track", "video_complete", at, at, "douyin", uint32(3), `{"keyword":"低GI"}`},
	})
	f.svc.Touched([]uint32{1, 2, 3}, []string{"events"})
	f.round()
	if got := f.runs(j, stateDone, "hit"); got != 1 {
		t.Fatalf("%d runs took happened, want 1 (person 1)", got)
	}
	f.advance(24 * time.Hour)
	if got := f.runs(j, stateDone, "out"); got != 3 {
		t.Fatalf("%d runs timed out, want 3", got)
	}
}

// TestBranchEvaluatesTheConditionWhenReached: the condition is read when
// the run reaches the branch, not at entry: persons who searched during
// the wait before it go down yes.
func TestBranchEvaluatesTheConditionWhenReached(t *testing.T) {
	f := newFixture(t, 20)
	j := f.launch(f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "b", Wait: &Wait{Duration: "1h"}},
		Node{ID: "b", Type: NodeBranch, Branch: &Branch{Condition: `did("search", 7) >= 1`, Yes: "yes", No: "no"}}, exit("yes"), exit("no")))
	f.round()
	var rows [][]any
	for p := uint32(1); p <= 5; p++ {
		at := f.clock.Now().Add(10 * time.Minute)
		rows = append(rows, []any{"q" + string(rune('0'+p)), "track", "search", at, at, "douyin", p, `{}`})
	}
	f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties", rows)
	f.segs.Engine().Invalidate("events")
	f.advance(time.Hour)
	if yes, no := f.runs(j, stateDone, "yes"), f.runs(j, stateDone, "no"); yes != 5 || no != 15 {
		t.Fatalf("branch: %d yes, %d no; want 5 and 15", yes, no)
	}
}

// TestSplitArmsByStableHash: a 20/30/50 split of 3,000 persons lands
// within sampling error of its percentages, and the same person takes the
// same arm when the split is computed again.
func TestSplitArmsByStableHash(t *testing.T) {
	f := newFixture(t, 3000)
	split := Node{ID: "ab", Type: NodeSplit, Split: &Split{Arms: []SplitArm{{Name: "A", Percent: 20, Next: "a"}, {Name: "B", Percent: 30, Next: "b"}, {Name: "C", Percent: 50, Next: "c"}}}}
	j := f.launch(f.segmentJourney(split, exit("a"), exit("b"), exit("c")))
	f.round()
	for arm, pct := range map[string]float64{"a": 20, "b": 30, "c": 50} {
		got := float64(f.runs(j, stateDone, arm))
		want := 3000 * pct / 100
		if sd := math.Sqrt(3000 * pct / 100 * (1 - pct/100)); math.Abs(got-want) > 4*sd {
			t.Errorf("arm %s: %v persons, want %v ± %.0f", arm, got, want, 4*sd)
		}
	}
	for p := uint32(1); p <= 3000; p += 97 {
		want := pickArm(j.ID, &split, p, "").Next
		if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = ? AND node = ?", j.ID, p, want); got != 1 {
			t.Fatalf("person %d is not at %s", p, want)
		}
	}
}
