package ingest_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// engineCostVariant is a table event rows are inserted into: the events
// table itself, or a copy of it without one of its costs.
type engineCostVariant struct {
	name string
	// ddl creates the table %[1]s from the events table %[2]s; empty:
	// the events table itself (with the demand view).
	ddl []string
}

// engineCostVariants: the real table, then copies without the demand
// view (a copy has no view; it keeps the persons_by_day_keyword and
// latest_name projections), without the view and latest_name, then also
// without both projections, and from there without the
// person_idx skipping index, without the LowCardinality columns, without
// the sort, without the month partitions (one part per insert instead of
// one per month), and without all of these.
var engineCostVariants = []engineCostVariant{
	{name: "events"},
	{name: "noview", ddl: []string{"CREATE TABLE %[1]s AS %[2]s"}},
	{name: "nolatestname", ddl: []string{"CREATE TABLE %[1]s AS %[2]s", "ALTER TABLE %[1]s DROP PROJECTION IF EXISTS " + schema.LatestName}},
	{name: "noproj", ddl: []string{"CREATE TABLE %[1]s AS %[2]s", dropProjection}},
	{name: "noindex", ddl: []string{"CREATE TABLE %[1]s AS %[2]s", dropProjection, "ALTER TABLE %[1]s DROP INDEX person_idx"}},
	{name: "nolowcard", ddl: []string{"CREATE TABLE %[1]s AS %[2]s", dropProjection, "ALTER TABLE %[1]s " + noLowCardinality}},
	{name: "nosort", ddl: []string{"CREATE TABLE %[1]s AS %[2]s ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY tuple() SETTINGS non_replicated_deduplication_window = 1000", dropProjection}},
	{name: "nopartition", ddl: []string{"CREATE TABLE %[1]s AS %[2]s ENGINE = MergeTree PARTITION BY tuple() ORDER BY (event, toDate(ts), ts) SETTINGS non_replicated_deduplication_window = 1000", dropProjection}},
	{name: "bare", ddl: []string{"CREATE TABLE %[1]s AS %[2]s ENGINE = MergeTree PARTITION BY tuple() ORDER BY tuple() SETTINGS non_replicated_deduplication_window = 1000",
		dropProjection, "ALTER TABLE %[1]s DROP INDEX person_idx", "ALTER TABLE %[1]s " + noLowCardinality}},
}

// dropProjection takes the projections (schema.PersonsByDay for the
// segment engine, schema.LatestName for the campaigns, which a copy
// keeps) off a copy.
const dropProjection = "ALTER TABLE %[1]s DROP PROJECTION IF EXISTS " + schema.PersonsByDay + ", DROP PROJECTION IF EXISTS " + schema.LatestName

const noLowCardinality = "MODIFY COLUMN type String, MODIFY COLUMN event String, MODIFY COLUMN source String, " +
	"MODIFY COLUMN topic String DEFAULT JSONExtractString(properties, 'topic'), MODIFY COLUMN id_types Array(String)"

// BenchmarkEngineCPUByTableVariant inserts the same 200,000 event rows
// (those of BenchmarkEngineCPUByBatchSize: 12 months, all of them
// search or video_play, so every row goes through the demand view: its
// worst case) in batches of CDP_BENCH_BATCH rows (default 15,000, the
// size of `cdp bench`'s pipeline batches) into the events table and into
// copies of it without one of its costs each (engineCostVariants), the
// variants in a rotated order in each of CDP_BENCH_ROUNDS rounds
// (default 3). It reports, per variant, the median over the rounds of
// the CPU the engine says the inserts took per row (its answer's
// UserTimeMicroseconds + SystemTimeMicroseconds; background merges are
// not in it) and of the parts the inserts wrote per batch (the demand
// view's included). The difference to "events" is that cost's share. Run it with
// -benchtime 1x.
func BenchmarkEngineCPUByTableVariant(b *testing.B) {
	db := storetest.Migrated(b)
	ctx := context.Background()
	size, rounds := 15_000, 3
	if v := os.Getenv("CDP_BENCH_BATCH"); v != "" {
		fmt.Sscan(v, &size)
	}
	if v := os.Getenv("CDP_BENCH_ROUNDS"); v != "" {
		fmt.Sscan(v, &rounds)
	}
	const n = 200_000
	batches := engineCostBatches(n, size, "ec-")
	cpu := map[string][]float64{}
	parts := map[string][]float64{}
	b.ResetTimer()
	for round := 0; round < rounds; round++ {
		for k := range engineCostVariants {
			v := engineCostVariants[(k+round)%len(engineCostVariants)]
			table := "events"
			if v.ddl != nil {
				table = fmt.Sprintf("events_cost_%s_%d", v.name, round)
				for _, q := range v.ddl {
					if err := db.Conn.Exec(ctx, fmt.Sprintf(q, db.Table(table), db.Table("events"))); err != nil {
						b.Fatalf("%s: %v", q, err)
					}
				}
			} else if err := db.Conn.Exec(ctx, "TRUNCATE TABLE "+db.Table("events")); err != nil {
				b.Fatal(err)
			}
			m := store.NewMetrics(nil)
			w := store.NewWriter(db, store.WriterOptions{Metrics: m})
			tw := w.Table(table, benchEventColumns...)
			for i, cols := range batches {
				if err := tw.InsertColumns(ctx, fmt.Sprintf("cost-%s-%d-%d", v.name, round, i), cols...); err != nil {
					b.Fatal(err)
				}
			}
			w.Close(ctx)
			cpu[v.name] = append(cpu[v.name], counter(b, m.WriterEngineCPU.WithLabelValues(table))*1e6/n)
			parts[v.name] = append(parts[v.name], counter(b, m.WriterParts.WithLabelValues(table))/float64(len(batches)))
		}
	}
	b.StopTimer()
	for _, v := range engineCostVariants {
		b.ReportMetric(median(cpu[v.name]), v.name+"-engine-µs/row")
		b.ReportMetric(median(parts[v.name]), v.name+"-parts/batch")
		b.Logf("%s: engine µs/row %.2f (rounds %v), parts per batch %v", v.name, median(cpu[v.name]), fmtFloats(cpu[v.name]), fmtFloats(parts[v.name]))
	}
}

// engineCostBatches are n event rows over 12 months, one in three a
// search and the others a video_play with a topic, in batches of size;
// message ids are prefix and the row's number.
func engineCostBatches(n, size int, prefix string) [][]any {
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	var batches [][]any
	for from := 0; from < n; from += size {
		var c benchEvents
		for i := from; i < min(from+size, n); i++ {
			ev, props := "video_play", `{"topic":"控糖","video_id":"v0","duration_s":31}`
			if i%3 == 0 {
				ev, props = "search", `{"keyword":"高油酸花生油","results":12}`
			}
			c.add(i, prefix+strconv.Itoa(i), ev, props, `{"location":{"region":"浙江","city":"杭州"}}`,
				start.Add(time.Duration(i%365)*24*time.Hour+time.Duration(i)*time.Millisecond))
		}
		batches = append(batches, c.columns())
	}
	return batches
}

func fmtFloats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, " / ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func counter(b *testing.B, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
