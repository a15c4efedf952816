package segments

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

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
	persons, events := 1_000_000, 20_000_000
	if p, e, ok := fiveClause10M(b); ok {
		persons, events = p, e
	}
	db, _ := fiveClauseData(b, storetest.Migrated(b), persons, events)
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
