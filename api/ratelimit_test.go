package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestParseRateLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want api.RateLimit
		bad  bool
	}{
		{in: "", want: api.RateLimit{}},
		{in: "0", want: api.RateLimit{}},
		{in: "50", want: api.RateLimit{PerSecond: 50, Burst: 100}},
		{in: "50:200", want: api.RateLimit{PerSecond: 50, Burst: 200}},
		{in: "0.2", want: api.RateLimit{PerSecond: 0.2, Burst: 1}},
		{in: " 10:1 ", want: api.RateLimit{PerSecond: 10, Burst: 1}},
		{in: "fast", bad: true},
		{in: "-1", bad: true},
		{in: "10:0", bad: true},
		{in: "10:x", bad: true},
		{in: "NaN", bad: true},
	} {
		got, err := api.ParseRateLimit(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// clock is a settable time source shared by the limiter and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type limitedServer struct {
	srv    *api.Server
	reg    *prometheus.Registry
	clock  *clock
	creds  *api.Credentials
	crypto *wecom.Crypto
	nonces int
}

// newLimitedServer serves ingest (spool only) and the API with the given
// limits on a clock the test moves.
func newLimitedServer(t *testing.T, limits api.RateLimits) *limitedServer {
	t.Helper()
	db := storetest.Migrated(t)
	creds := bootstrapped(t, db)
	opts := spool.DefaultOptions()
	opts.Dir = t.TempDir()
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	prot, _ := identity.NewProtector(bytes.Repeat([]byte{7}, 32))
	reg := prometheus.NewRegistry()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	limits.Registerer, limits.Now = reg, clk.Now
	crypto, err := wecom.NewCrypto(cbToken, cbAESKey, corpID)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Options{DB: db, Credentials: creds, Collector: ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot, Now: clk.Now}),
		WeCom: &ingest.WeCom{Crypto: crypto, CorpID: corpID}, RateLimits: limits, Gatherer: reg, Logger: storetest.Logger()})
	return &limitedServer{srv: srv, reg: reg, clock: clk, creds: creds, crypto: crypto}
}

// callback posts a signed contact callback, stamped by the test's clock,
// from the source address ip.
func (l *limitedServer) callback(t *testing.T, ip string) *httptest.ResponseRecorder {
	t.Helper()
	l.nonces++
	ts, nonce := fmt.Sprint(l.clock.Now().Unix()), fmt.Sprint("n", l.nonces)
	body, sig, err := l.crypto.EncryptedXML([]byte(contactXML(fmt.Sprint("wmLIMIT", l.nonces))), weComAgent, ts, nonce)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
	req := httptest.NewRequest("POST", "/wecom/callback?"+q.Encode(), bytes.NewReader(body))
	req.RemoteAddr = ip + ":40000"
	rec := httptest.NewRecorder()
	l.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (l *limitedServer) track(t *testing.T, key string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/track", strings.NewReader(`{"event":"video_play","anonymousId":"a1"}`))
	req.SetBasicAuth(key, "")
	rec := httptest.NewRecorder()
	l.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (l *limitedServer) whoami(t *testing.T, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	l.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// want429 checks a refusal: 429, Retry-After in whole seconds, and the
// JSON error body naming the credential.
func want429(t *testing.T, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	var e api.Error
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != 429 || e.Code != api.CodeRateLimited || e.Field != "Authorization" || e.Message == "" {
		t.Fatalf("got %d %s, want 429 rate_limited naming Authorization", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
}

func TestIngestRateLimitIsPerWriteKey(t *testing.T) {
	l := newLimitedServer(t, api.RateLimits{Ingest: api.RateLimit{PerSecond: 2, Burst: 3}})
	ctx := context.Background()
	if err := l.creds.PutWriteKey(ctx, api.Principal{ID: "wk_other", Name: "other", Source: "pos", Scope: api.ScopeClient}, "other-key", "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if rec := l.track(t, "test-write-key"); rec.Code != 200 {
			t.Fatalf("call %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	// The bucket is empty; one token comes back every 0.5 s.
	want429(t, l.track(t, "test-write-key"), "1")
	// Another write key has a bucket of its own.
	if rec := l.track(t, "other-key"); rec.Code != 200 {
		t.Fatalf("other write key limited by the first one's calls: %d %s", rec.Code, rec.Body)
	}
	// A refused call costs nothing: half a second later exactly one
	// call passes again.
	l.clock.advance(500 * time.Millisecond)
	if rec := l.track(t, "test-write-key"); rec.Code != 200 {
		t.Fatalf("after refill: %d %s", rec.Code, rec.Body)
	}
	want429(t, l.track(t, "test-write-key"), "1")
	// A bad key is refused as unauthenticated, not rate limited.
	if rec := l.track(t, "nope"); rec.Code != 401 {
		t.Fatalf("unknown key: %d", rec.Code)
	}
	// The API is not limited by ingest settings.
	for range 10 {
		if rec := l.whoami(t, adminToken); rec.Code != 200 {
			t.Fatalf("API limited without an API limit: %d", rec.Code)
		}
	}
	if got := counter(t, l.reg, "ingest"); got != 2 {
		t.Fatalf("cdp_rate_limited_total{kind=ingest} = %v, want 2", got)
	}
}

func TestAPIRateLimitIsPerToken(t *testing.T) {
	l := newLimitedServer(t, api.RateLimits{API: api.RateLimit{PerSecond: 0.25, Burst: 2}})
	ctx := context.Background()
	if err := l.creds.PutToken(ctx, api.Principal{ID: "tok_bi", Name: "bi", Role: api.RoleAnalyst}, "bi-token", "test"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if rec := l.whoami(t, adminToken); rec.Code != 200 {
			t.Fatalf("within the burst: %d", rec.Code)
		}
	}
	// One token every 4 s.
	want429(t, l.whoami(t, adminToken), "4")
	l.clock.advance(time.Second)
	want429(t, l.whoami(t, adminToken), "3")
	if rec := l.whoami(t, "bi-token"); rec.Code != 200 {
		t.Fatalf("another token limited: %d", rec.Code)
	}
	l.clock.advance(3 * time.Second)
	if rec := l.whoami(t, adminToken); rec.Code != 200 {
		t.Fatalf("after refill: %d %s", rec.Code, rec.Body)
	}
	// Ingest is not limited by API settings.
	for range 5 {
		if rec := l.track(t, "test-write-key"); rec.Code != 200 {
			t.Fatalf("ingest limited without an ingest limit: %d", rec.Code)
		}
	}
	if got := counter(t, l.reg, "api"); got != 2 {
		t.Fatalf("cdp_rate_limited_total{kind=api} = %v, want 2", got)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cdp_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "kind" && lp.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("cdp_rate_limited_total{kind=%q} not exported", kind)
	return 0
}

// TestWeComCallbackRateLimited: /wecom/callback answers anyone who can
// reach it, and each callback taken may cost a WeCom API call, so calls
// are limited per source address (CDP_RATE_LIMIT_WECOM_CALLBACK): past the
// burst, 429 with Retry-After; another address has its own bucket; a
// refused call costs nothing.
func TestWeComCallbackRateLimited(t *testing.T) {
	l := newLimitedServer(t, api.RateLimits{WeComCallback: api.RateLimit{PerSecond: 2, Burst: 3}})
	const attacker, weCom = "203.0.113.7", "101.226.90.12"
	for i := range 3 {
		if rec := l.callback(t, attacker); rec.Code != 200 || rec.Body.String() != "success" {
			t.Fatalf("callback %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	for range 5 {
		rec := l.callback(t, attacker)
		var e api.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		if rec.Code != 429 || e.Code != api.CodeRateLimited || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("past the burst: %d %s (Retry-After %q), want 429 rate_limited, Retry-After 1", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	}
	if rec := l.callback(t, weCom); rec.Code != 200 {
		t.Fatalf("another address limited by the first one's calls: %d %s", rec.Code, rec.Body)
	}
	l.clock.advance(500 * time.Millisecond)
	if rec := l.callback(t, attacker); rec.Code != 200 {
		t.Fatalf("after refill: %d %s", rec.Code, rec.Body)
	}
	if got := counter(t, l.reg, "wecom_callback"); got != 5 {
		t.Fatalf("cdp_rate_limited_total{kind=wecom_callback} = %v, want 5", got)
	}
}
