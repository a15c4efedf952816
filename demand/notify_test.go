package demand

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/demand/demandtest"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// Environment of the delivering child of the crash test.
const (
	childDSN = "DEMAND_TEST_CHILD_DSN"
	childURL = "DEMAND_TEST_CHILD_URL"
)

const testSecret = "supply-secret"

// deliverChild is the crash test's child: it delivers the pending alerts
// to the receiver and exits (unless killed first).
func deliverChild() {
	db, err := store.Open(os.Getenv(childDSN), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n := &Notifier{DB: db, Targets: []Target{{Name: "oms", URL: os.Getenv(childURL), Secret: testSecret}}}
	if _, err := n.Deliver(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// newServer serves h until the test ends and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// testAlerts are n alerts of distinct series.
func testAlerts(n int) []Alert {
	var out []Alert
	to := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		k := Key{Class: "高油酸花生油", Province: "四川", City: fmt.Sprintf("城%d", i)}
		out = append(out, Alert{ID: alertID(k, to), From: to.Add(-24 * time.Hour), To: to,
			Test: Test{Key: k, Observed: 40, Expected: 10, Ratio: 4, Q: 1e-5}})
	}
	return out
}

// TestAlertsAreDeliveredOnceAcrossSIGKILL records alerts, starts a child
// process that delivers them, kills it with SIGKILL right after the
// receiver processed the seventh (before its answer reaches the child's
// journal), then delivers in this process: the receiver has processed
// every alert exactly once, the cut-off one was posted again under its
// key, and a third Deliver posts nothing.
func TestAlertsAreDeliveredOnceAcrossSIGKILL(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	rc := demandtest.New(testSecret)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n := &Notifier{DB: db, Targets: []Target{{Name: "oms", URL: srv.URL, Secret: testSecret}}, Backoff: func(int) time.Duration { return 0 }}
	alerts := testAlerts(20)
	if err := n.Record(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	if err := n.Record(ctx, alerts[:3]); err != nil { // recording again adds no delivery
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDSN+"="+storetest.DSN(t, db.Database), childURL+"="+srv.URL)
	killed := make(chan struct{})
	rc.OnProcess(func(k int) {
		if k == 7 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Error(err)
			}
			close(killed)
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the child finished before it was killed: %v", err)
	}
	rc.OnProcess(nil)
	before := rc.Processed()
	delivered, err := n.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.Deliver(ctx)
	if err != nil || again != 0 {
		t.Errorf("a third delivery delivered %d (%v)", again, err)
	}
	keys := make([]string, len(alerts))
	for i, a := range alerts {
		keys[i] = a.ID + ":oms"
	}
	if err := rc.ExactlyOnce(keys); err != nil {
		t.Error(err)
	}
	pending := storetest.Count(t, db, "SELECT count() FROM "+db.Table("demand_deliveries")+" FINAL WHERE state != 'delivered'")
	if pending != 0 {
		t.Errorf("%d deliveries not delivered in the journal", pending)
	}
	t.Logf("killed after %d processed; the restart delivered %d; %s", before, delivered, rc.Summary())
}
