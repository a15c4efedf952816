package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestColdRulesAreValidAndNeverRepeat checks the load run's cold rules
// parse, and that none repeats a behaviour leaf (event, window, filter) of
// an earlier one or of a warm rule within the run's first 1,820 cold
// rules, so each is answered cold.
func TestColdRulesAreValidAndNeverRepeat(t *testing.T) {
	e := segments.NewEngine(&store.DB{Database: store.DefaultDatabase}, segments.DefaultOptions()) // compiles only
	seen := map[string]int{}
	for _, r := range loadRules {
		c, err := e.Check(r)
		if err != nil {
			t.Fatalf("warm rule %s: %v", r, err)
		}
		for _, l := range leaves(c) {
			seen[l] = -1
		}
	}
	for n := range 1820 {
		r := coldRule(n)
		c, err := e.Check(r)
		if err != nil {
			t.Fatalf("cold rule %d %s: %v", n, r, err)
		}
		fresh := false
		for _, l := range leaves(c) {
			if _, ok := seen[l]; !ok {
				fresh = true
				seen[l] = n
			}
		}
		if !fresh {
			t.Fatalf("cold rule %d %s has only leaves seen before", n, r)
		}
	}
}

// leaves are a compiled rule's behaviour leaves as the SQL that computes
// them (the leaf cache's identity).
func leaves(c *segments.Compiled) []string {
	var out []string
	segments.Walk(c.Plan(), func(n segments.Node) {
		if l, ok := n.(segments.Leaf); ok {
			if q, params, ok := segments.LeafSQL(l); ok {
				out = append(out, q+fmt.Sprint(params))
			}
		}
	})
	return out
}

// TestHistQuantileReadsRuntimeHistograms: the load run's scheduler and GC
// figures come from runtime/metrics histograms (bucket bounds, counts).
func TestHistQuantileReadsRuntimeHistograms(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		buckets        []float64
		counts         []uint64
		wantQ, wantTop float64
	}{
		{[]float64{0, 1, 2, 3, inf}, []uint64{0, 0, 0, 0}, 0, 0},
		{[]float64{0, 1, 2, 3, inf}, []uint64{0, 98, 1, 1}, 3, 3}, // the last bucket is open: its lower bound
		{[]float64{0, 1, 2, 3, inf}, []uint64{100, 0, 0, 0}, 1, 1},
		{[]float64{0, 1, 2, 3, inf}, []uint64{99, 0, 1, 0}, 1, 3},
	} {
		q, top := histQuantile(tc.buckets, tc.counts, .99)
		if q != tc.wantQ || top != tc.wantTop {
			t.Errorf("histQuantile(%v, %v) = %v, %v; want %v, %v", tc.buckets, tc.counts, q, top, tc.wantQ, tc.wantTop)
		}
	}
}

// TestEngineMemoryReadsCachesAndParts: the load run's end-of-run engine
// figures come from a real engine: MemoryTracking and the primary keys of
// the database's active parts (it read only the keys before: the caches'
// query named a table the embedded engine does not have, and its error
// was dropped).
func TestEngineMemoryReadsCachesAndParts(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	if err := db.Conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+db.Database+"`"); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn.Exec(ctx, "CREATE TABLE "+db.Table("mem_probe")+" (k UInt64) ENGINE = MergeTree ORDER BY k"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("mem_probe")+" SELECT number FROM numbers(100000)"); err != nil {
			t.Fatal(err)
		}
	}
	// Reading the table loads its marks into the mark cache.
	if err := db.Conn.Exec(ctx, "SELECT sum(k) FROM "+db.Table("mem_probe")+" WHERE k > 50000 SETTINGS use_uncompressed_cache = 1"); err != nil {
		t.Fatal(err)
	}
	got, parts, err := engineMemory(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if parts < 2 {
		t.Errorf("%d active parts, want the table's 2 at least", parts)
	}
	if got["MemoryTracking"] <= 0 {
		t.Errorf("no MemoryTracking in %v", got)
	}
	if _, ok := got["PrimaryKeysInMemory"]; !ok {
		t.Errorf("no PrimaryKeysInMemory in %v", got)
	}
	if got["MarkCacheBytes"] <= 0 {
		t.Errorf("no MarkCacheBytes after a read in %v", got)
	}
}

// TestRunPercentilesTakeTheRunWhole: the after-warm-up figures are
// percentiles over every sample of the intervals added, not the worst
// interval's: one slow cold estimate is the cold p99 of 100 but not the
// p99 of 200 estimates, nor of 200 cold ones.
func TestRunPercentilesTakeTheRunWhole(t *testing.T) {
	ms := func(n int, d time.Duration) []time.Duration {
		return slices.Repeat([]time.Duration{d * time.Millisecond}, n)
	}
	var r runPercentiles
	r.add(ms(150, 5), ms(99, 20), ms(100, 1))
	r.add(ms(50, 40), ms(1, 300), nil)
	r.summarize()
	if r.Acks != 200 || r.Estimates != 200 {
		t.Fatalf("counted %d acks and %d estimates, want 200 and 200", r.Acks, r.Estimates)
	}
	if r.AckP99 != 40 || r.EstimateP99 != 20 || r.ColdP99 != 300 || r.WarmP99 != 1 {
		t.Errorf("p99s ack %v estimate %v cold %v warm %v, want 40, 20, 300, 1", r.AckP99, r.EstimateP99, r.ColdP99, r.WarmP99)
	}
	r.add(nil, ms(100, 20), nil)
	r.summarize()
	if r.EstimateP99 != 20 || r.ColdP99 != 20 || r.Estimates != 300 {
		t.Errorf("after 100 more cold estimates: estimate p99 %v cold %v of %d, want 20, 20 of 300", r.EstimateP99, r.ColdP99, r.Estimates)
	}
}
