package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// estimateServer serves the API with segments over db, the given limits
// on a clock the test moves, and the given estimate deadline (0: the
// default).
func estimateServer(t *testing.T, db *store.DB, limits api.RateLimits, timeout time.Duration) (*fixture, *clock) {
	t.Helper()
	creds := bootstrapped(t, db)
	opts := segments.DefaultOptions()
	opts.Logger = storetest.Logger()
	segs, err := segments.NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	limits.Now = clk.Now
	srv := api.New(api.Options{DB: db, Credentials: creds, Segments: segs, RateLimits: limits, EstimateTimeout: timeout,
		Logger: storetest.Logger()})
	return &fixture{t: t, srv: srv, db: db}, clk
}

// costliest is the costliest per-customer condition the check accepts.
const costliest = `orders_total >= 1 && ltv / aov in 1..64`

// TestEstimateHasItsOwnRateLimit: estimates and overlaps share a bucket
// per API token of their own; when it is empty they get 429 while the
// token's other calls still pass, another token still estimates, and a
// token comes back with time.
func TestEstimateHasItsOwnRateLimit(t *testing.T) {
	f, clk := estimateServer(t, storetest.Migrated(t), api.RateLimits{Estimate: api.RateLimit{PerSecond: 0.5, Burst: 2}}, 0)
	estimate := func(token string) *httptest.ResponseRecorder {
		return f.do("POST", "/api/v1/segments/estimate", token, map[string]any{"rule": `tag("控糖")`}, nil)
	}
	if rec := estimate(adminToken); rec.Code != 200 {
		t.Fatalf("first estimate: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/segments/overlap", adminToken, map[string]any{"a": `tag("控糖")`, "b": `ltv > 300`}, nil); rec.Code != 200 {
		t.Fatalf("overlap within the burst: %d %s", rec.Code, rec.Body)
	}
	want429(t, estimate(adminToken), "2")
	if rec := f.do("POST", "/api/v1/segments/overlap", adminToken, map[string]any{"a": `tag("控糖")`, "b": `ltv > 300`}, nil); rec.Code != 429 {
		t.Fatalf("overlap with the estimate bucket empty: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/api/v1/segments", "/api/v1/whoami"} {
		if rec := f.do("GET", path, adminToken, nil, nil); rec.Code != 200 {
			t.Fatalf("GET %s while estimates are limited: %d %s", path, rec.Code, rec.Body)
		}
	}
	var tok struct{ Secret string }
	if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]any{"name": "other analyst", "role": "analyst"}, &tok); rec.Code != 201 {
		t.Fatalf("create token: %d %s", rec.Code, rec.Body)
	}
	if rec := estimate(tok.Secret); rec.Code != 200 {
		t.Fatalf("another token limited by the first one's estimates: %d %s", rec.Code, rec.Body)
	}
	clk.advance(2 * time.Second)
	if rec := estimate(adminToken); rec.Code != 200 {
		t.Fatalf("a token back after 2 s: %d %s", rec.Code, rec.Body)
	}
	want429(t, estimate(adminToken), "2")
}

// TestEstimateOfCostlyRuleStopsAtDeadline: estimate and overlap run
// under a deadline of their own; past it they answer 503
// deadline_exceeded (here a deadline shorter than any evaluation), and
// the same calls answer 200 under the default deadline.
func TestEstimateOfCostlyRuleStopsAtDeadline(t *testing.T) {
	db := storetest.Migrated(t)
	short, _ := estimateServer(t, db, api.RateLimits{}, time.Nanosecond)
	normal, _ := estimateServer(t, db, api.RateLimits{}, 0)
	for _, call := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/segments/estimate", map[string]any{"rule": costliest}},
		{"/api/v1/segments/overlap", map[string]any{"a": costliest, "b": `tag("控糖")`}},
	} {
		var e api.Error
		rec := short.do("POST", call.path, adminToken, call.body, &e)
		if rec.Code != 503 || e.Code != api.CodeDeadlineExceeded || !strings.Contains(e.Message, "not finished within 1ns") {
			t.Errorf("%s past its deadline: %d %s, want 503 deadline_exceeded", call.path, rec.Code, rec.Body)
		}
		if rec := normal.do("POST", call.path, adminToken, call.body, nil); rec.Code != 200 {
			t.Errorf("%s under the default deadline: %d %s", call.path, rec.Code, rec.Body)
		}
	}
}

// TestSavedCostlyRuleAnswers422: a segment saved before the cost check
// with the rule still loads, but recomputing it stops at the
// per-customer budget and answers 422 rule_too_costly (not 500, not a
// minute of a core per thousand customers).
func TestSavedCostlyRuleAnswers422(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("persons")+" (person_id, parent, canonical, version) VALUES (1, 1, 1, 1)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("orders")+
		" (channel, order_id, version, status, ordered_at, status_at, amount, currency, city, person_id, source, received_at)"+
		" VALUES ('tmall', 'o1', 1, 'paid', now(), now(), 100, 'CNY', '上海', 1, 'test', now())"); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("segments")+
		" (segment_id, version, name, description, rule, live, deleted, created_at, created_by) VALUES ('seg_old', 1, 'old', '', ?, 0, 0, now(), 'test')",
		`orders_total >= 1 && len(orders_total..999999) > 0`); err != nil {
		t.Fatal(err)
	}
	f, _ := estimateServer(t, db, api.RateLimits{}, 0)
	var e api.Error
	rec := f.do("POST", "/api/v1/segments/seg_old/recompute", adminToken, nil, &e)
	if rec.Code != 422 || e.Code != api.CodeRuleTooCostly || e.Field != "rule" {
		t.Fatalf("recompute of the saved costly rule: %d %s, want 422 rule_too_costly", rec.Code, rec.Body)
	}
	raw, _ := json.Marshal(e)
	t.Logf("answer: %s", raw)
}
