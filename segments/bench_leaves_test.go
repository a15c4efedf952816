package segments

import (
	"context"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// queryCost is what one ClickHouse query cost: wall time, rows and bytes
// read (progress packets) and the engine's user CPU (profile events).
type queryCost struct {
	what       string
	took       time.Duration
	rows, size uint64
	cpu        time.Duration
}

// costContext returns ctx reporting the cost of its query into c.
func costContext(ctx context.Context, c *queryCost) context.Context {
	var mu sync.Mutex
	return clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
		mu.Lock()
		c.rows += p.Rows
		c.size += p.Bytes
		mu.Unlock()
	}), clickhouse.WithProfileEvents(func(evs []clickhouse.ProfileEvent) {
		mu.Lock()
		for _, ev := range evs {
			if ev.Name == "UserTimeMicroseconds" && ev.Type == "increment" {
				c.cpu += time.Duration(ev.Value) * time.Microsecond
			}
		}
		mu.Unlock()
	}))
}

// BenchmarkFiveClauseCosts logs where a cold evaluation of fiveClause
// spends its time at 1M persons (the data of BenchmarkFiveClauseRule1M,
// kept with CDP_BENCH_DB), or with CDP_BENCH_10M=1 at 10M persons (the
// data of BenchmarkFiveClauseRule10M): each query alone, one after the
// other, with its rows and bytes read and the engine's CPU, and the
// platform's share of the trait load (decoding and building the snapshot).
//
//	CDP_BENCH_DB=bench1m go test ./segments -run '^$' -bench FiveClauseCosts -benchtime 1x -v
func BenchmarkFiveClauseCosts(b *testing.B) {
	db := fiveClauseWorld(b)
	ctx := context.Background()
	for b.Loop() {
		e := testEngine(db, nil)
		c, err := e.Check(fiveClause)
		if err != nil {
			b.Fatal(err)
		}
		var costs []queryCost
		measure := func(what string, run func(ctx context.Context) error) {
			qc := queryCost{what: what}
			t0 := time.Now()
			if err := run(costContext(ctx, &qc)); err != nil {
				b.Fatal(err)
			}
			qc.took = time.Since(t0)
			costs = append(costs, qc)
		}
		measure("universe", func(ctx context.Context) error { _, err := e.readUniverse(ctx, nil); return err })
		measure("traits", func(ctx context.Context) error {
			var states [8][]byte
			return db.Conn.QueryRow(readContext(ctx), e.traitsSQL(false)).Scan(&states[0], &states[1], &states[2],
				&states[3], &states[4], &states[5], &states[6], &states[7])
		})
		measure("channels", func(ctx context.Context) error { _, err := e.readChannels(ctx, nil); return err })
		measure("merges", func(ctx context.Context) error {
			var a, b []byte
			return db.Conn.QueryRow(readContext(ctx), e.mergesSQL(false)).Scan(&a, &b)
		})
		measure("trait snapshot (all of the above, in parallel, and the build)", func(ctx context.Context) error {
			s, err := e.loadSnapshot(ctx, testNow)
			e.traits = s // published, as after an engine's first evaluation: leaves take its merges
			return err
		})
		Walk(c.plan, func(n Node) {
			if l, ok := n.(*sqlLeaf); ok {
				measure(l.desc, func(ctx context.Context) error {
					_, _, err := e.computeLeaf(ctx, l, testNow)
					return err
				})
			}
		})
		for _, qc := range costs {
			b.Logf("%-70s %6d ms  %10d rows  %8.1f MB  engine CPU %6d ms", qc.what, qc.took.Milliseconds(), qc.rows,
				float64(qc.size)/(1<<20), qc.cpu.Milliseconds())
		}
	}
}

// countedRules are leaves with a counted form (counts.go): a count over
// searches and existence leaves the day projection cannot serve.
var countedRules = []string{
	`did("search", 30) >= 2`,
	`did("video_play", 90) >= 5`,
	`did("video_complete", 30, {"completion": 0.9}) >= 1`,
	`bought("低GI大米", 365) == 2`,
}

// BenchmarkCountedLeaves computes each of countedRules' leaves both ways
// in the same run, one after the other, at 1M persons (the data of
// BenchmarkFiveClauseRule1M, kept with CDP_BENCH_DB) or with
// CDP_BENCH_10M=1 at 10M: ClickHouse's bitmap form (GROUP BY ... HAVING,
// or groupBitmap, folded by the engine) against the counted form, with
// the engine's CPU and the platform's, and checks both give the same
// persons.
//
//	CDP_BENCH_DB=bench1m go test ./segments -run '^$' -bench CountedLeaves -benchtime 3x -v
func BenchmarkCountedLeaves(b *testing.B) {
	db := fiveClauseWorld(b)
	ctx := context.Background()
	e := testEngine(db, nil)
	if _, err := e.snapshot(ctx, testNow); err != nil { // merges published, as on a running platform
		b.Fatal(err)
	}
	m, err := e.mergesFor(ctx)
	if err != nil {
		b.Fatal(err)
	}
	type form struct {
		name string
		run  func(context.Context, *sqlLeaf) (*roaring.Bitmap, error)
	}
	forms := []form{
		{"bitmap (ClickHouse)", func(ctx context.Context, l *sqlLeaf) (*roaring.Bitmap, error) {
			bm, err := e.queryBitmap(ctx, l.desc, l.query, l.args(testNow.UnixMilli(), nil))
			if err == nil && l.raw {
				bm = m.fold(bm)
			}
			return bm, err
		}},
		{"counted (engine)", func(ctx context.Context, l *sqlLeaf) (*roaring.Bitmap, error) { return e.countLeaf(ctx, l, testNow) }},
	}
	for b.Loop() {
		for _, rule := range countedRules {
			c, err := e.Check(rule)
			if err != nil {
				b.Fatal(err)
			}
			Walk(c.plan, func(n Node) {
				l, ok := n.(*sqlLeaf)
				if !ok || l.counted == nil {
					return
				}
				var got []*roaring.Bitmap
				for _, f := range forms {
					qc := queryCost{what: l.desc}
					runtime.GC() // the process's CPU below is this leaf's, not a collection of earlier garbage
					var before, after syscall.Rusage
					syscall.Getrusage(syscall.RUSAGE_SELF, &before)
					t0 := time.Now()
					bm, err := f.run(costContext(ctx, &qc), l)
					qc.took = time.Since(t0)
					syscall.Getrusage(syscall.RUSAGE_SELF, &after)
					if err != nil {
						b.Fatal(err)
					}
					got = append(got, bm)
					platform := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime))
					sys := time.Duration(syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Stime))
					b.Logf("%-50s %-20s %5d ms  %9d rows  engine CPU %5d ms  platform CPU %4d ms user, %4d ms system  %d persons", l.desc, f.name,
						qc.took.Milliseconds(), qc.rows, qc.cpu.Milliseconds(), platform.Milliseconds(), sys.Milliseconds(), bm.GetCardinality())
				}
				if !got[0].Equals(got[1]) {
					b.Fatalf("%s: the forms differ: %d and %d persons", l.desc, got[0].GetCardinality(), got[1].GetCardinality())
				}
			})
		}
	}
}

// fiveClauseWorld is the five-clause benchmarks' data: 1M persons and 20M
// events (kept with CDP_BENCH_DB), or with CDP_BENCH_10M=1 the 10M world.
func fiveClauseWorld(b *testing.B) *store.DB {
	persons, events := 1_000_000, 20_000_000
	if p, e, ok := fiveClause10M(b); ok {
		persons, events = p, e
	}
	db, _ := fiveClauseData(b, storetest.Migrated(b), persons, events)
	return db
}
