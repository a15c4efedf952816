package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
		t.Errorf("%s = %.9g, want %.9g", what, got, want)
	}
}

func TestSlopeFitKnownSeries(t *testing.T) {
	// An exact line.
	a, b, ok := leastSquares([]float64{0, 10, 20, 30}, []float64{5, 25, 45, 65})
	if !ok {
		t.Fatal("exact line: not fitted")
	}
	near(t, "intercept", a, 5)
	near(t, "slope", b, 2)
	// Scattered points: mean x 1.5, mean y 2.5, Sxx 5, Sxy 4.
	a, b, ok = leastSquares([]float64{0, 1, 2, 3}, []float64{1, 3, 2, 4})
	if !ok {
		t.Fatal("scattered points: not fitted")
	}
	near(t, "intercept", a, 1.3)
	near(t, "slope", b, 0.8)
	// Nothing to fit.
	for _, c := range []struct{ x, y []float64 }{{nil, nil}, {[]float64{3}, []float64{1}}, {[]float64{4, 4, 4}, []float64{1, 2, 3}}, {[]float64{1, 2}, []float64{1}}} {
		if _, _, ok := leastSquares(c.x, c.y); ok {
			t.Errorf("leastSquares(%v, %v) fitted", c.x, c.y)
		}
	}
}

// soakSeries is an 8-minute run of 10 s intervals: RSS ramps from 80 to
// 200 MB during the warm-up (160 s), then rises by 36 MB/h; the live heap
// stays at 50 MB; 455 identifiers arrive per interval after the warm-up;
// the leaf cache's bitmaps grow by 9 MB/h (0.8 MB over the fitted 320 s)
// from 10 MB, its leaves from 100 by 2 an interval; the deduplication
// filter and Pebble grow by 0.3 and 0.1 MB at 400 s.
func soakSeries() []loadInterval {
	var ivs []loadInterval
	for at := 10.0; at <= 480; at += 10 {
		iv := loadInterval{At: at}
		iv.GoHeapLiveMB = 50
		if at < 160 {
			iv.PlatformRSSMB = 80 + 120*at/160
			iv.Identifiers = 1000 * int(at/10)
		} else {
			iv.PlatformRSSMB = 200 + 36*(at-160)/3600
			iv.Identifiers = 16000 + 455*int((at-160)/10)
		}
		iv.Persons = iv.Identifiers / 2
		iv.LeafCacheMB = 10 + 9*(at-160)/3600
		iv.Leaves = 100 + 2*int((at-160)/10)
		// The deduplication filter starts a generation at 400 s (0.3 MB
		// here) and Pebble's memtables fill by 0.1 MB.
		iv.DedupFilterMB, iv.DedupPebbleMB = 14, 8
		if at >= 400 {
			iv.DedupFilterMB, iv.DedupPebbleMB = 14.3, 8.1
		}
		ivs = append(ivs, iv)
	}
	return ivs
}

func TestSoakGrowthAfterWarmupSplitsExplained(t *testing.T) {
	warmup := soakWarmup(300, 8)
	if warmup != 160*time.Second {
		t.Fatalf("warm-up of an 8-minute run with --load-warmup 300 = %v, want the first third, 160 s", warmup)
	}
	s := analyseSoak(soakSeries(), warmup, -1) // the collector off: RSS explained as the live heap
	if s.NewIdentifiers != 32*455 || s.NewPersons != 32*455/2 {
		t.Errorf("new identifiers %d, persons %d; want %d, %d", s.NewIdentifiers, s.NewPersons, 32*455, 32*455/2)
	}
	explained := 32*455*48.0/(1<<20) + 0.8 + 0.3 + 0.1 // identifiers 0.66650 MB, leaf cache 0.8 MB, dedup filter 0.3, Pebble 0.1
	near(t, "leaf cache growth", s.LeafCache.GrowthMB, 0.8)
	if s.LeavesFirst != 100 || s.LeavesLast != 164 {
		t.Errorf("leaves %d -> %d, want 100 -> 164", s.LeavesFirst, s.LeavesLast)
	}
	g := s.PlatformRSS
	// The warm-up's ramp is left out: 33 points from 160 s to 480 s.
	if g.Points != 33 || g.FromS != 160 || g.ToS != 480 {
		t.Fatalf("fitted %d points %v-%v s, want 33 points 160-480 s", g.Points, g.FromS, g.ToS)
	}
	near(t, "RSS start", g.StartMB, 200)
	near(t, "RSS slope", g.SlopeMBPerHour, 36)
	near(t, "RSS growth", g.GrowthMB, 3.2) // 36 MB/h for 320 s
	near(t, "RSS growth %", g.GrowthPct, 1.6)
	near(t, "RSS explained", g.ExplainedMB, explained)
	near(t, "RSS unexplained", g.UnexplainedMB, 3.2-explained)
	near(t, "RSS unexplained %", g.UnexplainedPct, 100*(3.2-explained)/200)
	near(t, "RSS unexplained per hour", g.UnexplainedMBh, (3.2-explained)*3600/320)
	h := s.GoHeapLive
	near(t, "heap slope", h.SlopeMBPerHour, 0)
	near(t, "heap growth", h.GrowthMB, 0)
	near(t, "heap unexplained", h.UnexplainedMB, -explained) // identifiers account for more than grew
	var out strings.Builder
	printSoak(&out, s)
	for _, want := range []string{"warm-up 160 s", "33 intervals fitted (160-480 s)", "14560 new identifiers", "slope   +36.0 MB/h", "growth   +3.2 MB ( +1.6%)", "leaf cache 100 -> 164 leaves, bitmaps +0.8 MB", "dedup filter +0.3 MB, Pebble +0.1 MB", "GOGC -1 (RSS holds x1.00", "unexplained   +1.3 MB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSoakRSSCountsTheCollectorsHeadroom: the runtime lets the heap grow
// to live x (1 + GOGC/100) before it collects, so RSS's explained growth
// is the live heap's explained growth times that, and the live heap's own
// fit is unchanged.
func TestSoakRSSCountsTheCollectorsHeadroom(t *testing.T) {
	warmup := soakWarmup(300, 8)
	off := analyseSoak(soakSeries(), warmup, -1)
	for _, c := range []struct {
		gogc int
		x    float64
	}{{100, 2}, {50, 1.5}, {400, 5}, {0, 1}} {
		s := analyseSoak(soakSeries(), warmup, c.gogc)
		near(t, "heap explained", s.GoHeapLive.ExplainedMB, off.GoHeapLive.ExplainedMB)
		near(t, "RSS explained", s.PlatformRSS.ExplainedMB, c.x*off.GoHeapLive.ExplainedMB)
		near(t, "RSS unexplained", s.PlatformRSS.UnexplainedMB, s.PlatformRSS.GrowthMB-c.x*off.GoHeapLive.ExplainedMB)
	}
	if g := currentGOGC(); g != 100 && g != -1 && g < 1 {
		t.Errorf("currentGOGC() = %d", g)
	}
}

func TestSoakWarmupAndTooShortRuns(t *testing.T) {
	for _, c := range []struct {
		sec, minutes int
		want         time.Duration
	}{{300, 60, 5 * time.Minute}, {300, 15, 5 * time.Minute}, {300, 8, 160 * time.Second}, {0, 8, 0}, {-5, 8, 0}, {60, 60, time.Minute}} {
		if got := soakWarmup(c.sec, c.minutes); got != c.want {
			t.Errorf("soakWarmup(%d, %d) = %v, want %v", c.sec, c.minutes, got, c.want)
		}
	}
	// Every interval within the warm-up: no fit, and the report says so.
	s := analyseSoak(soakSeries()[:10], 160*time.Second, 100)
	if s.PlatformRSS.Points != 0 || s.GoHeapLive.Points != 0 || s.NewIdentifiers != 0 {
		t.Errorf("fit within the warm-up: %+v", s)
	}
	var out strings.Builder
	printSoak(&out, s)
	if !strings.Contains(out.String(), "no growth fit") {
		t.Errorf("text report: %q", out.String())
	}
}
