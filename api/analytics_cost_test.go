package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/analytics"
	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/store/storetest"
)

// costliestFunnel is the costliest funnel the definition limits accept:
// the most steps, each with the most filters of the most values, in any
// order (every permutation of steps), over the longest window and a year
// of first steps, broken down by city.
func costliestFunnel() analytics.Funnel {
	values := make([]string, analytics.MaxValues)
	for i := range values {
		values[i] = fmt.Sprintf("v%03d", i)
	}
	fields := map[string][]analytics.Filter{
		"event": {{Field: "source", Op: "in"}, {Field: "topic", Op: "in"}, {Field: "keyword", Op: "contains"},
			{Field: "property.a", Op: "in"}, {Field: "property.b", Op: "not_in"}, {Field: "property.c", Op: "contains"},
			{Field: "property.d", Op: "in"}, {Field: "completion", Op: "gte", Values: []string{"0.5"}}},
		"order": {{Field: "channel", Op: "in"}, {Field: "city", Op: "in"}, {Field: "province", Op: "not_in"},
			{Field: "category", Op: "in"}, {Field: "sku", Op: "in"}, {Field: "city", Op: "contains"},
			{Field: "amount", Op: "gte", Values: []string{"1"}}, {Field: "amount", Op: "lte", Values: []string{"1000"}}},
		"wecom": {{Field: "state", Op: "in"}, {Field: "staff", Op: "in"}, {Field: "keyword", Op: "contains"},
			{Field: "state", Op: "not_in"}, {Field: "staff", Op: "not_in"}, {Field: "keyword", Op: "contains"},
			{Field: "state", Op: "contains"}, {Field: "staff", Op: "contains"}},
	}
	kinds := []string{"event", "order", "wecom"}
	f := analytics.Funnel{Order: analytics.OrderAny, WindowHours: analytics.MaxWindowHours, Breakdown: "city",
		From: time.Now().AddDate(-1, 0, 0).Format(time.DateOnly)}
	for i := range analytics.MaxSteps {
		st := analytics.Step{Kind: kinds[i%len(kinds)]}
		for _, fl := range fields[st.Kind] {
			if fl.Values == nil {
				fl.Values = values
			}
			st.Filters = append(st.Filters, fl)
		}
		f.Steps = append(f.Steps, st)
	}
	return f
}

// TestCostlyAnalysisStopsAtDeadline is the attack of an analyst who builds
// the costliest funnel the limits allow, or one past them. Past a limit
// the definition is refused (400 naming the field) before any query; the
// costliest accepted one runs under the analytics deadline, past which it
// answers 503 deadline_exceeded (here a deadline shorter than any query),
// and it answers 200 under the default deadline.
func TestCostlyAnalysisStopsAtDeadline(t *testing.T) {
	db := storetest.Migrated(t)
	creds := bootstrapped(t, db)
	server := func(timeout time.Duration) *fixture {
		srv := api.New(api.Options{DB: db, Credentials: creds, AnalyticsTimeout: timeout, Logger: storetest.Logger()})
		return &fixture{t: t, srv: srv, db: db}
	}
	short, normal := server(time.Nanosecond), server(0)
	costly := costliestFunnel()

	var e api.Error
	if rec := short.do("POST", "/api/v1/analytics/funnel", adminToken, costly, &e); rec.Code != 503 ||
		e.Code != api.CodeDeadlineExceeded || !strings.Contains(e.Message, "within 1ns") {
		t.Fatalf("costliest funnel past its deadline: %d %s, want 503 deadline_exceeded", rec.Code, rec.Body)
	}
	var res analytics.FunnelResult
	if rec := normal.do("POST", "/api/v1/analytics/funnel", adminToken, costly, &res); rec.Code != 200 || len(res.Total.Persons) != analytics.MaxSteps {
		t.Fatalf("costliest funnel under the default deadline: %d %s", rec.Code, rec.Body)
	}

	over := costliestFunnel()
	over.Steps = append(over.Steps, over.Steps[0])
	longer := costliestFunnel()
	longer.WindowHours++
	wider := costliestFunnel()
	wider.Steps[1].Filters[0].Values = append(wider.Steps[1].Filters[0].Values, "one more")
	for name, c := range map[string]struct {
		f     analytics.Funnel
		field string
	}{"a step too many": {over, "steps"}, "an hour too long": {longer, "window_hours"}, "a value too many": {wider, "steps[1].filters[0].values"}} {
		var e api.Error
		if rec := short.do("POST", "/api/v1/analytics/funnel", adminToken, c.f, &e); rec.Code != 400 || e.Field != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", name, rec.Code, rec.Body, c.field)
		}
	}
}
