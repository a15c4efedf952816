package segments

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/store/storetest"
)

// existenceRule is a new rule of three existence leaves that the events'
// projection answers (an event with a topic filter or none; windows that
// start mid-day at the benchmark's clock, 12:00 UTC).
const existenceRule = `did("video_complete", 30, {"topic": "控糖"}) >= 1 && did("video_play", 7) >= 1 && did("like", 90, {"topic": "减脂"}) == 0`

// existenceRuleSQL is existenceRule written by hand as one query (count
// only): what a SQL-cohort tool sends.
func existenceRuleSQL(table func(string) string) string {
	return `WITH fromUnixTimestamp64Milli({now:Int64}, 'UTC') AS t0
SELECT count() FROM (
	SELECT p.canonical AS c
	FROM ` + table("events") + ` AS e
	INNER JOIN (SELECT person_id, canonical FROM ` + table("persons") + ` FINAL) AS p ON p.person_id = e.person_id
	WHERE e.person_id != 0 AND e.event IN ('video_complete', 'video_play', 'like') AND e.ts >= t0 - INTERVAL 90 DAY
	GROUP BY c
	HAVING countIf(e.event = 'video_complete' AND e.topic = '控糖' AND e.ts >= t0 - INTERVAL 30 DAY) > 0
		AND countIf(e.event = 'video_play' AND e.ts >= t0 - INTERVAL 7 DAY) > 0
		AND countIf(e.event = 'like' AND e.topic = '减脂') = 0
)`
}

// BenchmarkExistenceRule1M evaluates existenceRule as a new rule (the
// trait snapshot loaded, no leaf cached) at 1M persons (the data of
// BenchmarkFiveClauseRule1M, kept with CDP_BENCH_DB), and logs each leaf
// alone (rows read, engine CPU), beside the same audience as one SQL
// query in the same run:
//
//	CDP_BENCH_DB=bench1m go test ./segments -run '^$' -bench ExistenceRule1M -benchtime 3x -v
func BenchmarkExistenceRule1M(b *testing.B) {
	db, _ := fiveClauseData(b, storetest.Migrated(b), 1_000_000, 20_000_000)
	ctx := context.Background()
	e := testEngine(db, nil)
	c, err := e.Check(existenceRule)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Evaluate(ctx, c); err != nil { // the trait snapshot, loaded once as a running platform has it
		b.Fatal(err)
	}
	var newRule, sql time.Duration
	var members, count uint64
	for b.Loop() {
		var costs []queryCost
		Walk(c.plan, func(n Node) {
			if l, ok := n.(*sqlLeaf); ok {
				qc := queryCost{what: l.desc}
				t0 := time.Now()
				if _, _, err := e.computeLeaf(costContext(ctx, &qc), l, testNow); err != nil {
					b.Fatal(err)
				}
				qc.took = time.Since(t0)
				costs = append(costs, qc)
			}
		})
		for _, qc := range costs {
			b.Logf("%-55s %6d ms  %10d rows  %8.1f MB  engine CPU %6d ms", qc.what, qc.took.Milliseconds(), qc.rows,
				float64(qc.size)/(1<<20), qc.cpu.Milliseconds())
		}

		e.cache.invalidate([]string{KindEvents, KindOrders, KindChats, KindTags}) // leaves only
		t0 := time.Now()
		bm, err := e.Evaluate(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		newRule += time.Since(t0)
		members = bm.GetCardinality()

		t0 = time.Now()
		if err := db.Conn.QueryRow(readContext(ctx), existenceRuleSQL(db.Table), clickhouse.Named("now", testNow.UnixMilli())).Scan(&count); err != nil {
			b.Fatal(err)
		}
		sql += time.Since(t0)
		if count != members {
			b.Fatalf("engine counts %d, SQL %d", members, count)
		}
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(newRule), "engine_new_rule_ms")
	b.ReportMetric(ms(sql), "sql_tuned_ms")
	b.ReportMetric(float64(members), "members")
}
