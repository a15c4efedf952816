package demand

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/demand/demandtest"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// runLoop runs the loop with opts until the test ends.
func runLoop(t *testing.T, s *Service, opts RunOptions) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, opts)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// deliveryRig is a migrated database and a notifier delivering to a
// fake supply system, which sends the count of keys it processed on the
// channel after each.
func deliveryRig(t *testing.T) (*store.DB, *Notifier, <-chan int) {
	db := storetest.Migrated(t)
	rc := demandtest.New(testSecret)
	ch := make(chan int, 10)
	rc.OnProcess(func(n int) { ch <- n })
	return db, &Notifier{DB: db, Targets: []Target{{Name: "mill", URL: newServer(t, rc), Secret: testSecret}}}, ch
}

// processedWithin waits up to a minute for the receiver to process its
// n-th key.
func processedWithin(t *testing.T, ch <-chan int, n int, what string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case k := <-ch:
			if k >= n {
				return
			}
		case <-timeout:
			t.Fatalf("%s: not delivered", what)
		}
	}
}

// TestRunDeliversAtStartThenRoundsOnTheHour runs the loop on a clock one
// millisecond before a round's hour, with retries an hour apart: the
// alert pending before the start is delivered at once (what a crash
// left), and one recorded afterwards by the round on the hour (its
// detection reads the engine).
func TestRunDeliversAtStartThenRoundsOnTheHour(t *testing.T) {
	db, n, ch := deliveryRig(t)
	alerts := testAlerts(2)
	if err := n.Record(context.Background(), alerts[:1]); err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC)
	runLoop(t, New(db, nil), RunOptions{Notifier: n, Retry: time.Hour, Now: func() time.Time { return hour.Add(-time.Millisecond) }})
	processedWithin(t, ch, 1, "the alert pending at the start")
	if err := n.Record(context.Background(), alerts[1:]); err != nil {
		t.Fatal(err)
	}
	processedWithin(t, ch, 2, "the alert recorded after the start, by a round")
}

// TestRunRetriesPendingBetweenRounds runs the loop four hours before its
// next round with retries every 10 ms: an alert recorded after the start
// is delivered by a retry, not left for the round.
func TestRunRetriesPendingBetweenRounds(t *testing.T) {
	db, n, ch := deliveryRig(t)
	start := time.Now()
	clock := func() time.Time { return time.Date(2026, 6, 2, 4, 0, 1, 0, time.UTC).Add(time.Since(start)) }
	runLoop(t, New(db, nil), RunOptions{Notifier: n, Retry: 10 * time.Millisecond, Now: clock})
	if err := n.Record(context.Background(), testAlerts(1)); err != nil {
		t.Fatal(err)
	}
	processedWithin(t, ch, 1, "the alert recorded between rounds")
}
