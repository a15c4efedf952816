package demand

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
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

// receiver is a supply system's fake speaking the webhook contract: it
// checks the signature, processes each Idempotency-Key once (answering
// 200 to a repeat without processing it again), and answers 503 to the
// first post of every fifth key (so retries are exercised).
type receiver struct {
	mu        sync.Mutex
	processed map[string]int
	posts     int
	repeats   int
	bad       int
	refused   map[string]bool
	// onProcess, when set, runs after the n-th key is processed, before
	// the answer: the crash test kills the sender there.
	onProcess func(n int)
}

func newReceiver() *receiver {
	return &receiver{processed: map[string]int{}, refused: map[string]bool{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig, key := r.Header.Get(campaigns.HeaderTimestamp), r.Header.Get(campaigns.HeaderSignature), r.Header.Get(campaigns.HeaderIdempotency)
	rc.mu.Lock()
	rc.posts++
	if !hmac.Equal([]byte(sig), []byte(campaigns.SignWebhook(testSecret, ts, body))) || key == "" || !json.Valid(body) {
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if len(rc.processed)%5 == 4 && !rc.refused[key] && rc.processed[key] == 0 {
		rc.refused[key] = true
		rc.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if rc.processed[key] > 0 {
		rc.repeats++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	rc.processed[key]++
	n, hook := len(rc.processed), rc.onProcess
	rc.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	w.WriteHeader(http.StatusOK)
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
	rc := newReceiver()
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
	rc.onProcess = func(k int) {
		if k == 7 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Error(err)
			}
			close(killed)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the child finished before it was killed: %v", err)
	}
	rc.mu.Lock()
	rc.onProcess = nil
	before := len(rc.processed)
	rc.mu.Unlock()
	delivered, err := n.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.Deliver(ctx)
	if err != nil || again != 0 {
		t.Errorf("a third delivery delivered %d (%v)", again, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, a := range alerts {
		if c := rc.processed[a.ID+":oms"]; c != 1 {
			t.Errorf("alert %s processed %d times", a.ID, c)
		}
	}
	if len(rc.processed) != len(alerts) || rc.bad != 0 || rc.repeats < 1 || len(rc.refused) == 0 {
		t.Errorf("processed %d of %d, %d badly signed, %d repeats, %d answered 503 first", len(rc.processed), len(alerts), rc.bad, rc.repeats, len(rc.refused))
	}
	pending := storetest.Count(t, db, "SELECT count() FROM "+db.Table("demand_deliveries")+" FINAL WHERE state != 'delivered'")
	if pending != 0 {
		t.Errorf("%d deliveries not delivered in the journal", pending)
	}
	t.Logf("killed after %d processed; the restart delivered %d; %d posts, %d repeats answered idempotently, %d retried after a 503",
		before, delivered, rc.posts, rc.repeats, len(rc.refused))
}
