package segments

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// slotsAt is a slots of n whose clock the test moves.
func slotsAt(n int) (*slots, func(time.Duration)) {
	var mu sync.Mutex
	clock := testNow
	s := newSlots(n)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	return s, func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
}

// queue starts an acquire of urgency u and waits until it is queued; the
// returned channel receives its result once it has the slot.
func queue(t *testing.T, ctx context.Context, s *slots, u urgency) chan error {
	t.Helper()
	before := s.waiters()[u]
	got := make(chan error, 1)
	go func() { got <- s.acquire(ctx, u) }()
	for s.waiters()[u] == before {
		runtime.Gosched()
	}
	return got
}

// granted reports whether an acquire has returned (without waiting).
func granted(t *testing.T, c chan error) bool {
	t.Helper()
	select {
	case err := <-c:
		if err != nil {
			t.Fatal(err)
		}
		return true
	default:
		return false
	}
}

// waitGranted waits for an acquire the test expects to have the slot: it
// was handed over before the release that gave it returned, so it is
// already on its way; the deadline only turns a bug into a failure.
func waitGranted(t *testing.T, c chan error, what string) {
	t.Helper()
	select {
	case err := <-c:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not get the freed slot", what)
	}
}

// handOver releases the slot held and checks that next, and none of the
// others, got it.
func handOver(t *testing.T, s *slots, next chan error, what string, others ...chan error) {
	t.Helper()
	s.release()
	waitGranted(t, next, what)
	for _, o := range others {
		if granted(t, o) {
			t.Fatalf("another waiter took the slot %s holds", what)
		}
	}
}

// TestSlotsServeEstimatesBeforeLiveRoundsAndPatchWarm: with every slot
// taken, a freed slot goes to an estimate's query even when a live
// round's and PatchWarm's queued before it; then to the live round, then
// to PatchWarm.
func TestSlotsServeEstimatesBeforeLiveRoundsAndPatchWarm(t *testing.T) {
	ctx := context.Background()
	s, advance := slotsAt(1)
	if err := s.acquire(ctx, foreground); err != nil {
		t.Fatal(err)
	}
	bg := queue(t, ctx, s, background)
	advance(time.Millisecond)
	live := queue(t, ctx, s, foreground)
	advance(time.Millisecond)
	est := queue(t, ctx, s, interactive)
	advance(time.Millisecond) // all within their patience

	handOver(t, s, est, "the estimate", live, bg)
	handOver(t, s, live, "the live round", bg)
	handOver(t, s, bg, "PatchWarm")
	s.release()
	if s.free != 1 || s.queued() != 0 {
		t.Fatalf("free %d, queued %d after every release: want 1, 0", s.free, s.queued())
	}
}

// TestSlotsServeALiveRoundThatWaitedPastPatience: estimates go first
// only within slotPatience; a live round's query that has waited longer
// is served before an estimate's that queued after it, so a stream of
// estimates cannot starve live rounds.
func TestSlotsServeALiveRoundThatWaitedPastPatience(t *testing.T) {
	ctx := context.Background()
	s, advance := slotsAt(1)
	if err := s.acquire(ctx, interactive); err != nil {
		t.Fatal(err)
	}
	live := queue(t, ctx, s, foreground)
	advance(slotPatience)
	est := queue(t, ctx, s, interactive)

	handOver(t, s, live, "the live round past its patience", est)
	handOver(t, s, est, "the estimate")
	s.release()
}

// TestSlotsGiveUpWithTheContext: a waiter whose context ends leaves the
// queue, and the next release goes to the others.
func TestSlotsGiveUpWithTheContext(t *testing.T) {
	ctx := context.Background()
	s, _ := slotsAt(1)
	if err := s.acquire(ctx, foreground); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	gone := queue(t, cctx, s, interactive)
	live := queue(t, ctx, s, foreground)
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("an acquire whose context ended returned no error")
	}
	if w := s.waiters(); w[interactive] != 0 {
		t.Fatalf("waiters %v: the cancelled one is still queued", w)
	}
	s.release()
	waitGranted(t, live, "the live round")
	s.release()
	if s.free != 1 {
		t.Fatalf("free %d after every release, want 1", s.free)
	}
}

// TestEstimateQueriesQueueAsInteractive: with the engine's only query
// slot taken, an exact evaluation (a live round's) queues as foreground,
// an Estimate's and an Overlap's queries as interactive, PatchWarm's as
// background; once the slot is freed every one of them gets its answer.
func TestEstimateQueriesQueueAsInteractive(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	opts.Logger = storetest.Logger()
	opts.Concurrency = 1
	e := NewEngine(db, opts)
	if _, err := e.Estimate(ctx, `did("video_play", 30) >= 1`, 0); err != nil { // traits loaded
		t.Fatal(err)
	}
	if err := e.slots.acquire(ctx, foreground); err != nil {
		t.Fatal(err)
	}
	queued := func(u urgency, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // turns a hang into a failure
		for e.slots.waiters()[u] != n {
			if time.Now().After(deadline) {
				t.Fatalf("waiters %v: want %d of urgency %d", e.slots.waiters(), n, u)
			}
			runtime.Gosched()
		}
	}
	done := make(chan error, 3)
	live, err := e.Check(`did("search", 30) >= 1`)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, err := e.Evaluate(ctx, live); done <- err }()
	queued(foreground, 1)
	go func() { _, err := e.Estimate(ctx, `did("add_to_cart", 30) >= 1`, 0); done <- err }()
	queued(interactive, 1)
	a, b := mustCheck(t, e, `did("video_play", 7) >= 1`), mustCheck(t, e, `did("video_complete", 7) >= 1`)
	go func() { _, err := e.Overlap(ctx, a, b); done <- err }()
	queued(interactive, 2)
	e.slots.release()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func mustCheck(t *testing.T, e *Engine, rule string) *Compiled {
	t.Helper()
	c, err := e.Check(rule)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLaterReadsRunAtBackgroundNice: the engine's queries nobody waits on
// as they run (live rounds, plans, PatchWarm) ask the engine for
// store.BackgroundNice threads; an estimate's keep nice 0, so they get
// the cores first when both want them. Every read, whatever its urgency,
// reads its files in its own threads (readSettings' read method).
func TestLaterReadsRunAtBackgroundNice(t *testing.T) {
	db := storetest.DB(t)
	for _, c := range []struct {
		name string
		ctx  context.Context
		want int64
	}{
		{"estimate", withUrgency(context.Background(), interactive), 0},
		{"live round", context.Background(), store.BackgroundNice},
		{"PatchWarm", withUrgency(context.Background(), background), store.BackgroundNice},
	} {
		var nice int64
		if err := db.Conn.QueryRow(readContext(c.ctx), "SELECT toInt64(getSetting('"+store.NiceQuerySetting+"'))").Scan(&nice); err != nil {
			t.Fatal(err)
		}
		if nice != c.want {
			t.Errorf("%s: %s = %d, want %d", c.name, store.NiceQuerySetting, nice, c.want)
		}
		// Every read of the engine's threads reads its files itself
		// (readSettings), whatever its urgency.
		var method string
		if err := db.Conn.QueryRow(readContext(c.ctx), "SELECT toString(getSetting('local_filesystem_read_method'))").Scan(&method); err != nil {
			t.Fatal(err)
		}
		if method != "pread" {
			t.Errorf("%s: local_filesystem_read_method = %q, want pread", c.name, method)
		}
	}
}
