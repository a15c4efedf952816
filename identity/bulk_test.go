package identity

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// syntheticRecords yields n records of households with 4-6 identifiers
// each, in arrival order, the way an export replay would.
func syntheticRecords(n int, fn func(ref string, ids []Identifier)) {
	buf := make([]Identifier, 0, 3)
	for i := range n {
		h := i / 4 // about four records per household
		buf = buf[:0]
		switch i % 4 {
		case 0:
			buf = append(buf, Identifier{DouyinOpenID, fmt.Sprintf("dy%d", h)}, Identifier{AnonymousID, fmt.Sprintf("a%d", h)})
		case 1:
			buf = append(buf, Identifier{DouyinOpenID, fmt.Sprintf("dy%d", h)}, Identifier{Phone, fmt.Sprintf("h:%016x", h)})
		case 2:
			buf = append(buf, Identifier{TmallOUID, fmt.Sprintf("t%d", h)}, Identifier{Phone, fmt.Sprintf("h:%016x", h)})
		case 3:
			buf = append(buf, Identifier{UnionID, fmt.Sprintf("U%d", h)}, Identifier{WeComExternalUserID, fmt.Sprintf("wm%d", h)}, Identifier{TmallOUID, fmt.Sprintf("t%d", h)})
		}
		fn(fmt.Sprint(i), buf)
	}
}

// BenchmarkBulkResolve10M re-resolves 10 million identifier-bearing records
// into a fresh graph and reports the time and memory per identifier.
func BenchmarkBulkResolve10M(b *testing.B) {
	n := benchN()
	genStart := time.Now()
	syntheticRecords(n, func(string, []Identifier) {})
	genTook := time.Since(genStart)
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g := NewGraph(DefaultRules())
		var ch Changes
		start := time.Now()
		syntheticRecords(n, func(ref string, ids []Identifier) {
			g.Resolve(ref, ids, t0, &ch)
			ch.Reset()
		})
		took := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(took.Seconds(), "s/10M_records")
		b.ReportMetric(float64(n)/took.Seconds(), "records/s")
		b.ReportMetric(float64(n)/(took-genTook).Seconds(), "resolve_only_records/s")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(g.Identifiers()), "bytes/identifier")
		b.ReportMetric(float64(g.Identifiers()), "identifiers")
		runtime.KeepAlive(g)
	}
}

// benchN is the record count of BenchmarkBulkResolve10M (CDP_BENCH_RECORDS
// overrides it for quick profiling).
func benchN() int {
	if v, err := strconv.Atoi(os.Getenv("CDP_BENCH_RECORDS")); err == nil && v > 0 {
		return v
	}
	return 10_000_000
}
