package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/api"
)

// TestHealthzHidesClickHouseError checks that /healthz, which answers
// anyone, says only that ClickHouse is unavailable: the driver's error
// names internal hosts and ports (here 127.0.0.1:1) and goes to the log.
func TestHealthzHidesClickHouseError(t *testing.T) {
	f := newFixture(t)
	var log bytes.Buffer
	srv := deadClickHouse(t, f, slog.New(slog.NewTextHandler(&log, nil)))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	body := rec.Body.String()
	if rec.Code != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Fatalf("healthz %d %s, want 503 unavailable", rec.Code, body)
	}
	for _, leak := range []string{"127.0.0.1", ":1", "dial", "refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("healthz answers %s: it shows %q of the ClickHouse error", body, leak)
		}
	}
	if !strings.Contains(log.String(), "127.0.0.1:1") {
		t.Errorf("the ClickHouse error is not in the log: %q", log.String())
	}
}

const metricsToken = "test-metrics-token"

// TestMetricsNeedToken checks that /metrics (record counts, sources, rate
// limits, the process) is not open to anyone: on the API's address it
// needs the metrics token as a bearer token, and without a token it is
// served only on the separate metrics listener (CDP_METRICS_ADDR).
func TestMetricsNeedToken(t *testing.T) {
	f := newFixture(t)
	get := func(h http.Handler, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + adminToken, "Basic " + metricsToken, "Bearer " + metricsToken + "x"} {
		if rec := get(f.srv.Handler(), auth); rec.Code != 401 || !strings.Contains(rec.Body.String(), `"unauthorized"`) {
			t.Errorf("/metrics with %q: %d %.100s, want 401", auth, rec.Code, rec.Body)
		}
	}
	if rec := get(f.srv.Handler(), "Bearer "+metricsToken); rec.Code != 200 || !strings.Contains(rec.Body.String(), "cdp_engine_restarts_total") {
		t.Fatalf("/metrics with the token: %d %.100s", rec.Code, rec.Body)
	}
	// No token configured: not on the API's address, open on the metrics
	// listener (whose address is the control), and nothing else there.
	creds, _ := api.NewCredentials(context.Background(), f.db)
	srv := api.New(api.Options{DB: f.db, Credentials: creds})
	if rec := get(srv.Handler(), ""); rec.Code != 404 || !strings.Contains(rec.Body.String(), "CDP_METRICS_TOKEN") {
		t.Errorf("/metrics without a configured token: %d %.200s, want 404 saying how to turn it on", rec.Code, rec.Body)
	}
	if rec := get(srv.MetricsHandler(), ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("metrics listener: %d %.100s", rec.Code, rec.Body)
	}
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/whoami", nil))
	if rec.Code != 404 {
		t.Errorf("the metrics listener serves /api/v1/whoami: %d", rec.Code)
	}
	// With a token, the metrics listener asks for it too.
	if rec := get(f.srv.MetricsHandler(), ""); rec.Code != 401 {
		t.Errorf("metrics listener with a token configured, no token sent: %d, want 401", rec.Code)
	}
}
