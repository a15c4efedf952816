package demand

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestRunRoundsOnTheHourAndStops runs the loop on a clock one millisecond
// before a round's hour: the round runs (its detection reads the engine,
// and the alert recorded before is delivered), then the loop returns
// when its context ends.
func TestRunRoundsOnTheHourAndStops(t *testing.T) {
	db := storetest.Migrated(t)
	rc := newReceiver()
	delivered := make(chan struct{})
	rc.onProcess = func(int) { close(delivered) }
	srv := newServer(t, rc)
	n := &Notifier{DB: db, Targets: []Target{{Name: "mill", URL: srv, Secret: testSecret}}}
	if err := n.Record(context.Background(), testAlerts(1)); err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(db, nil).Run(ctx, RunOptions{Notifier: n, Now: func() time.Time { return hour.Add(-time.Millisecond) }})
	}()
	select {
	case <-delivered:
	case <-time.After(time.Minute):
		t.Fatal("no round delivered the pending alert")
	}
	cancel()
	<-done
}
