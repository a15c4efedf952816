//go:build linux

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// The engine's health: what one probe of the child's listeners finds, and
// the watchdog's decision from a run of probes. A listener that refuses
// connections is gone (SYSTEM STOP LISTEN, or a child that lost it); a
// listener that accepts but answers slowly is a loaded machine, and the
// child is left alone until it has not answered at all for HungAfter.

// probeResult is what one probe of the engine's listeners found.
type probeResult int

const (
	// probeAnswered: the native listener accepted a connection and a
	// query over a new HTTP connection answered.
	probeAnswered probeResult = iota
	// probeRefused: a listener refused the connection (nothing listens on
	// its port). The kernel answers that at once, whatever the load.
	probeRefused
	// probeNoAnswer: the listeners accepted, but the query did not answer
	// within the probe's time, or failed otherwise.
	probeNoAnswer
)

func (r probeResult) String() string {
	return [...]string{"answered", "refused", "no answer"}[r]
}

// healthState is the watchdog's memory of the probes of one child.
type healthState struct {
	answered     time.Time // the last answer, or the child's start
	refusedSince time.Time // the first of the latest unbroken refusals; zero if none
}

// newHealthState starts the watch of a child that answered at started.
func newHealthState(started time.Time) healthState {
	return healthState{answered: started}
}

// observe records a probe's result at now and decides whether the child
// must be killed (and restarted): when its listeners have refused every
// probe for closedAfter (they are closed), or when nothing has answered
// for hungAfter although the listeners accept (the engine is hung). A
// probe that answers, however late, resets both: a slow engine is alive.
// A probe that connects but gets no answer ends a run of refusals, since
// something listens. why says what was found, for the log.
func (h *healthState) observe(now time.Time, r probeResult, closedAfter, hungAfter time.Duration) (kill bool, why string) {
	switch r {
	case probeAnswered:
		h.answered, h.refusedSince = now, time.Time{}
		return false, ""
	case probeRefused:
		if h.refusedSince.IsZero() {
			h.refusedSince = now
		}
		if d := now.Sub(h.refusedSince); d >= closedAfter {
			return true, fmt.Sprintf("listeners refused connections for %s", d.Round(time.Millisecond))
		}
		return false, ""
	default:
		h.refusedSince = time.Time{}
		if d := now.Sub(h.answered); d >= hungAfter {
			return true, fmt.Sprintf("no query answered for %s", d.Round(time.Millisecond))
		}
		return false, ""
	}
}

// probeEngine checks the engine's listeners with new connections (a
// listener stopped by SYSTEM STOP LISTEN leaves open connections working):
// a native connection, then `SELECT 1` as the platform's user over HTTP,
// which goes through the engine's query pipeline as the platform's queries
// do. ctx bounds the wait for the answer.
func probeEngine(ctx context.Context, tcpAddr, httpAddr, password string) probeResult {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", tcpAddr)
	if err != nil {
		return dialResult(err)
	}
	conn.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/", strings.NewReader("SELECT 1"))
	if err != nil {
		return probeNoAnswer
	}
	req.Header.Set("X-ClickHouse-User", PlatformUser)
	req.Header.Set("X-ClickHouse-Key", password)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return dialResult(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n') // TabSeparated: "1\n"
	if err != nil || resp.StatusCode != http.StatusOK || line != "1\n" {
		return probeNoAnswer
	}
	return probeAnswered
}

// dialResult classifies a failed connection or request: refused, or no
// answer.
func dialResult(err error) probeResult {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return probeRefused
	}
	return probeNoAnswer
}
