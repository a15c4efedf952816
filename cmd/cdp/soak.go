package main

// The soak side of `cdp bench --load` (issue #23): every 10 s the memory
// of the platform's parts beside its resident memory, and at the end a
// least-squares fit of the growth after a warm-up, split into the part
// the new identifiers and the segment leaf cache's bitmaps explain and
// the rest.

import (
	"fmt"
	"io"
	"runtime/metrics"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/segments"
)

// identityBytesPerIdentifier is what the identity graph holds per
// identifier, measured with Go's overhead (`cdp bench`: 42.1 B at 100k
// persons, 47.3 at 1M, 42.9 at 3M; docs/identity.md): the memory new
// identifiers legitimately add.
const identityBytesPerIdentifier = 48

// mib is the unit of every "MB" figure of the load run (as RSS is read).
const mib = 1 << 20

// soakSample is the memory side of one interval.
type soakSample struct {
	GoHeapLiveMB       float64 `json:"go_heap_live_mb"`          // heap the last GC found live
	GoRuntimeMB        float64 `json:"go_runtime_mb"`            // all the Go runtime has mapped and not returned
	DedupFilterMB      float64 `json:"dedup_filter_mb"`          // the deduplication window's filters
	DedupPebbleMB      float64 `json:"dedup_pebble_mb"`          // its Pebble memtables and block cache
	DedupDiskMB        float64 `json:"dedup_disk_mb"`            // its store on disk
	DedupLookupsPerSec float64 `json:"dedup_disk_lookups_per_s"` // keys looked up on disk (a filter said maybe)
	Persons            int     `json:"identity_persons"`
	Identifiers        int     `json:"identity_identifiers"`
	// LeafCacheMB is the segment leaf cache's bitmaps (their serialized
	// size, segments.CacheStats.Bytes, a little under what they hold of
	// the heap), Leaves their number: the cache fills towards its bound
	// (segments.Options.MaxLeaves, MaxLeafBytes) as analysts try rules,
	// and its bitmaps grow as more persons match the leaves.
	LeafCacheMB float64 `json:"leaf_cache_mb"`
	Leaves      int     `json:"leaf_cache_leaves"`
}

// soakProbe reads a soakSample; it is used by one goroutine.
type soakProbe struct {
	dedup       *ingest.Dedup              // nil: no deduplication figures
	graph       *identity.Graph            // nil: no identity figures
	leaves      func() segments.CacheStats // nil: no leaf cache figures
	rt          []metrics.Sample
	lastLookups int64
}

func newSoakProbe(dedup *ingest.Dedup, graph *identity.Graph, leaves func() segments.CacheStats) *soakProbe {
	p := &soakProbe{dedup: dedup, graph: graph, leaves: leaves, rt: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}}
	if dedup != nil {
		p.lastLookups = dedup.Stats().DiskLookups
	}
	return p
}

// sample reads the figures at the end of an interval of length dt.
func (p *soakProbe) sample(dt time.Duration) soakSample {
	metrics.Read(p.rt)
	var s soakSample
	s.GoHeapLiveMB = float64(p.rt[0].Value.Uint64()) / mib
	s.GoRuntimeMB = float64(p.rt[1].Value.Uint64()-p.rt[2].Value.Uint64()) / mib
	if p.dedup != nil {
		st := p.dedup.Stats()
		s.DedupFilterMB, s.DedupPebbleMB, s.DedupDiskMB = float64(st.FilterBytes)/mib, float64(st.PebbleBytes)/mib, float64(st.DiskBytes)/mib
		if dt > 0 {
			s.DedupLookupsPerSec = float64(st.DiskLookups-p.lastLookups) / dt.Seconds()
		}
		p.lastLookups = st.DiskLookups
	}
	if p.graph != nil {
		s.Persons, s.Identifiers = p.graph.Persons(), p.graph.Identifiers()
	}
	if p.leaves != nil {
		st := p.leaves()
		s.LeafCacheMB, s.Leaves = float64(st.Bytes)/mib, st.Leaves
	}
	return s
}

// soakWarmup is the run's warm-up: warmupSec seconds, at most the first
// third of a run of minutes, so that two thirds are fitted.
func soakWarmup(warmupSec, minutes int) time.Duration {
	return min(time.Duration(max(warmupSec, 0))*time.Second, time.Duration(minutes)*time.Minute/3)
}

// growthFit is a least-squares line through one memory series after the
// warm-up, and how much of its growth new identifiers and the leaf
// cache's bitmaps explain.
type growthFit struct {
	Points         int     `json:"points"` // intervals fitted (0: too few, nothing below is set)
	FromS          float64 `json:"from_s"` // first and last fitted interval ends
	ToS            float64 `json:"to_s"`
	StartMB        float64 `json:"fitted_start_mb"` // the line at FromS
	SlopeMBPerHour float64 `json:"slope_mb_per_hour"`
	GrowthMB       float64 `json:"growth_mb"` // the line's rise from FromS to ToS
	GrowthPct      float64 `json:"growth_pct"`
	ExplainedMB    float64 `json:"explained_mb"` // identifiers, leaf cache, deduplication window
	UnexplainedMB  float64 `json:"unexplained_mb"`
	UnexplainedPct float64 `json:"unexplained_pct"`
	UnexplainedMBh float64 `json:"unexplained_mb_per_hour"`
}

// leastSquares fits y = a + b·x; ok is false with fewer than two points
// or no spread in x.
func leastSquares(x, y []float64) (a, b float64, ok bool) {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0, 0, false
	}
	var mx, my float64
	for i := range x {
		mx, my = mx+x[i], my+y[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		sxy += (x[i] - mx) * (y[i] - my)
	}
	if sxx == 0 {
		return 0, 0, false
	}
	b = sxy / sxx
	return my - b*mx, b, true
}

// fitGrowth fits the points of y (MB at the seconds in at) from warmupS
// on; explainedMB is the memory the run's new identifiers and the leaf
// cache's growth account for over the same span.
func fitGrowth(at, y []float64, warmupS, explainedMB float64) growthFit {
	var xs, ys []float64
	for i := range at {
		if at[i] >= warmupS {
			xs, ys = append(xs, at[i]), append(ys, y[i])
		}
	}
	a, b, ok := leastSquares(xs, ys)
	if !ok {
		return growthFit{}
	}
	g := growthFit{Points: len(xs), FromS: xs[0], ToS: xs[len(xs)-1], SlopeMBPerHour: b * 3600}
	g.StartMB = a + b*g.FromS
	g.GrowthMB = b * (g.ToS - g.FromS)
	g.ExplainedMB = explainedMB
	g.UnexplainedMB = g.GrowthMB - explainedMB
	g.UnexplainedMBh = g.UnexplainedMB / ((g.ToS - g.FromS) / 3600)
	if g.StartMB > 0 {
		g.GrowthPct = 100 * g.GrowthMB / g.StartMB
		g.UnexplainedPct = 100 * g.UnexplainedMB / g.StartMB
	}
	return g
}

// soakReport is the growth analysis of the run.
type soakReport struct {
	WarmupS            float64 `json:"warmup_s"`
	NewPersons         int     `json:"new_persons"`     // from the first fitted interval to the last
	NewIdentifiers     int     `json:"new_identifiers"` // idem
	BytesPerIdentifier int     `json:"bytes_per_identifier"`
	IdentifiersMB      float64 `json:"identifiers_mb"` // NewIdentifiers x BytesPerIdentifier
	// LeafCache is the fit of the leaf cache's bitmaps (LeafCacheMB):
	// its growth is explained memory, the cache's bound caps it.
	LeafCache          growthFit `json:"leaf_cache"`
	LeavesFirst        int       `json:"leaves_first"` // leaves cached at the first and last fitted interval
	LeavesLast         int       `json:"leaves_last"`
	DedupFilterDeltaMB float64   `json:"dedup_filter_delta_mb"` // bounded by the filter budget
	DedupPebbleDeltaMB float64   `json:"dedup_pebble_delta_mb"` // bounded by Pebble's memtables and cache
	// GOGC is the collector's percentage (runtime/metrics /gc/gogc:percent)
	// when the report was made: the runtime lets the heap grow to
	// live x (1 + GOGC/100) before it collects, so each explained MB of
	// live heap explains 1 + GOGC/100 MB of resident memory.
	GOGC        int       `json:"gogc"`
	PlatformRSS growthFit `json:"platform_rss"`
	GoHeapLive  growthFit `json:"go_heap_live"`
}

// analyseSoak fits the intervals' platform RSS and live heap after warmup;
// the new identifiers' memory, the fitted growth of the leaf cache's
// bitmaps and the deduplication window's growth are the explained part of
// the live heap, and that times the collector's headroom (1 + gogc/100;
// gogc < 0, the collector off, counts none) the explained part of RSS.
func analyseSoak(ivs []loadInterval, warmup time.Duration, gogc int) soakReport {
	rep := soakReport{WarmupS: warmup.Seconds(), BytesPerIdentifier: identityBytesPerIdentifier, GOGC: gogc}
	var at, rss, heap, leaves []float64
	first := -1
	for i, iv := range ivs {
		at, rss, heap, leaves = append(at, iv.At), append(rss, iv.PlatformRSSMB), append(heap, iv.GoHeapLiveMB), append(leaves, iv.LeafCacheMB)
		if first < 0 && iv.At >= rep.WarmupS {
			first = i
		}
	}
	explained := 0.0
	if first >= 0 {
		f, l := ivs[first], ivs[len(ivs)-1]
		rep.NewPersons, rep.NewIdentifiers = l.Persons-f.Persons, l.Identifiers-f.Identifiers
		rep.DedupFilterDeltaMB, rep.DedupPebbleDeltaMB = l.DedupFilterMB-f.DedupFilterMB, l.DedupPebbleMB-f.DedupPebbleMB
		rep.LeavesFirst, rep.LeavesLast = f.Leaves, l.Leaves
		rep.IdentifiersMB = float64(rep.NewIdentifiers) * identityBytesPerIdentifier / mib
		rep.LeafCache = fitGrowth(at, leaves, rep.WarmupS, 0)
		// The deduplication window's filter and Pebble memory are bounded
		// (a filter per generation from a fixed budget, Pebble's memtables
		// and cache), but a run long enough to start a generation sees its
		// filter arrive at once: explained, as the leaf cache filling to
		// its bound is.
		explained = rep.IdentifiersMB + rep.LeafCache.GrowthMB + rep.DedupFilterDeltaMB + rep.DedupPebbleDeltaMB
	}
	rep.PlatformRSS = fitGrowth(at, rss, rep.WarmupS, explained*heapHeadroom(gogc))
	rep.GoHeapLive = fitGrowth(at, heap, rep.WarmupS, explained)
	return rep
}

// heapHeadroom is how much heap the runtime holds per byte live before it
// collects: 1 + GOGC/100 (the heap goal of the Go GC guide), 1 with the
// collector off.
func heapHeadroom(gogc int) float64 {
	return 1 + float64(max(gogc, 0))/100
}

// currentGOGC reads the collector's percentage (GOGC or
// debug.SetGCPercent; -1 when it is off).
func currentGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(s[0].Value.Uint64())
}

// printSoak writes the growth analysis as text.
func printSoak(out io.Writer, s soakReport) {
	g := s.PlatformRSS
	if g.Points == 0 {
		fmt.Fprintf(out, "soak: fewer than two intervals after the %.0f s warm-up: no growth fit\n", s.WarmupS)
		return
	}
	fmt.Fprintf(out, "soak: warm-up %.0f s; %d intervals fitted (%.0f-%.0f s); %d new persons, %d new identifiers (x %d B = %.1f MB); leaf cache %d -> %d leaves, bitmaps %+.1f MB (fitted, from %.1f MB); dedup filter %+.1f MB, Pebble %+.1f MB; GOGC %d (RSS holds x%.2f of the live heap's growth)\n",
		s.WarmupS, g.Points, g.FromS, g.ToS, s.NewPersons, s.NewIdentifiers, s.BytesPerIdentifier, s.IdentifiersMB,
		s.LeavesFirst, s.LeavesLast, s.LeafCache.GrowthMB, s.LeafCache.StartMB, s.DedupFilterDeltaMB, s.DedupPebbleDeltaMB, s.GOGC, heapHeadroom(s.GOGC))
	for _, f := range []struct {
		name, explained string
		g               growthFit
	}{{"Go heap live", "identifiers, leaf cache and dedup", s.GoHeapLive}, {"platform RSS", "those x GC headroom", s.PlatformRSS}} {
		fmt.Fprintf(out, "  %-12s from %6.1f MB: slope %+7.1f MB/h, growth %+6.1f MB (%+5.1f%%); %s %5.1f MB; unexplained %+6.1f MB (%+5.1f%%, %+7.1f MB/h)\n",
			f.name, f.g.StartMB, f.g.SlopeMBPerHour, f.g.GrowthMB, f.g.GrowthPct, f.explained, f.g.ExplainedMB, f.g.UnexplainedMB, f.g.UnexplainedPct, f.g.UnexplainedMBh)
	}
}
