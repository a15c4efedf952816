//go:build linux

package store

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWatchdogKillsClosedListenersNotSlowOnes plays runs of probe results
// against the watchdog's decision on a moved clock: refusals kill after
// closedAfter, an engine that answers (however late) is never killed, and
// one that accepts but never answers is killed after hungAfter.
func TestWatchdogKillsClosedListenersNotSlowOnes(t *testing.T) {
	const (
		closedAfter = 10 * time.Second
		hungAfter   = 2 * time.Minute
	)
	type probe struct {
		at time.Duration // since the child's start
		r  probeResult
	}
	cases := []struct {
		name   string
		probes []probe
		killAt time.Duration // -1: never
	}{
		{"listeners stopped", []probe{{1 * time.Second, probeAnswered}, {2 * time.Second, probeRefused}, {6 * time.Second, probeRefused}, {11 * time.Second, probeRefused}, {12 * time.Second, probeRefused}}, 12 * time.Second},
		// The load-40 run: probes timed out for 11 s and more; each late
		// answer proves the engine alive.
		{"slow answers", []probe{{30 * time.Second, probeNoAnswer}, {60 * time.Second, probeAnswered}, {150 * time.Second, probeNoAnswer}, {170 * time.Second, probeAnswered}, {280 * time.Second, probeAnswered}}, -1},
		{"hung engine", []probe{{1 * time.Second, probeAnswered}, {60 * time.Second, probeNoAnswer}, {120 * time.Second, probeNoAnswer}, {121 * time.Second, probeNoAnswer}}, 121 * time.Second},
		// Something accepts between refusals: not a closed listener.
		{"refusals broken by a connection", []probe{{1 * time.Second, probeRefused}, {8 * time.Second, probeNoAnswer}, {12 * time.Second, probeRefused}, {20 * time.Second, probeRefused}, {22 * time.Second, probeRefused}}, 22 * time.Second},
		{"refusals broken by an answer", []probe{{1 * time.Second, probeRefused}, {9 * time.Second, probeAnswered}, {15 * time.Second, probeRefused}, {24 * time.Second, probeRefused}}, -1},
	}
	for _, c := range cases {
		start := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
		h := newHealthState(start)
		killedAt := time.Duration(-1)
		for _, p := range c.probes {
			if kill, why := h.observe(start.Add(p.at), p.r, closedAfter, hungAfter); kill {
				if why == "" {
					t.Errorf("%s: killed without a reason", c.name)
				}
				killedAt = p.at
				break
			}
		}
		if killedAt != c.killAt {
			t.Errorf("%s: killed at %v, want %v (-1: never)", c.name, killedAt, c.killAt)
		}
	}
}

// TestRestartWaitsLongerAfterEachFailure: the ready timeout of restart
// attempts doubles and stops at eight times ReadyTimeout.
func TestRestartWaitsLongerAfterEachFailure(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute}
	for failed, w := range want {
		if got := restartTimeout(time.Minute, failed); got != w {
			t.Errorf("after %d failures: %v, want %v", failed, got, w)
		}
	}
}

// TestProbeTellsRefusedFromSilent: the probe against local listeners
// standing in for the engine's: a closed port is refused, a listener that
// accepts and never answers is no answer when the probe's time is up, an
// HTTP error is no answer, and a query answered "1" as the platform user
// is an answer.
func TestProbeTellsRefusedFromSilent(t *testing.T) {
	native, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer silent.Close()
	defer close(release) // before Close, which waits for the handler
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Code: 516. Authentication failed", http.StatusForbidden)
	}))
	defer failing.Close()
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ClickHouse-User") != PlatformUser || r.Header.Get("X-ClickHouse-Key") != "pw" {
			http.Error(w, "wrong user", http.StatusForbidden)
			return
		}
		w.Write([]byte("1\n"))
	}))
	defer engine.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	cases := []struct {
		name          string
		tcp, http, pw string
		want          probeResult
	}{
		{"native closed", closedAddr, host(engine), "pw", probeRefused},
		{"http closed", native.Addr().String(), closedAddr, "pw", probeRefused},
		{"silent", native.Addr().String(), host(silent), "pw", probeNoAnswer},
		{"error", native.Addr().String(), host(failing), "pw", probeNoAnswer},
		{"wrong password", native.Addr().String(), host(engine), "other", probeNoAnswer},
		{"answers", native.Addr().String(), host(engine), "pw", probeAnswered},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if got := probeEngine(ctx, c.tcp, c.http, c.pw); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		cancel()
	}
}
