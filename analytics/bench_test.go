package analytics

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// benchNow is the benchmark data's clock: a year of data before it.
var benchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// benchPersons is CDP_ANALYTICS_BENCH_PERSONS (1,000,000 by default);
// events are twenty per person, orders one and a half per person over
// 40% of them.
func benchPersons(b testing.TB) int {
	if v := os.Getenv("CDP_ANALYTICS_BENCH_PERSONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("CDP_ANALYTICS_BENCH_PERSONS=%q: a number of at least 1000", v)
		}
		return n
	}
	return 1_000_000
}

// benchEvents is CDP_ANALYTICS_BENCH_EVENTS, the number of events (twenty
// per person by default; the 10M-person world has 100M).
func benchEvents(b testing.TB, persons int) int {
	if v := os.Getenv("CDP_ANALYTICS_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < persons {
			b.Fatalf("CDP_ANALYTICS_BENCH_EVENTS=%q: a number of at least the persons (%d)", v, persons)
		}
		return n
	}
	return 20 * persons
}

// benchWorld returns a database of n persons (2% merged into another),
// benchEvents events (20n by default) over a year (video_play,
// video_complete, search, like, live_enter; topics 控糖, 低GI, 减脂, ”),
// and 1.5n orders of 0.4n buyers (5% refunded), each with one rice or oil
// line.
//
// With CDP_BENCH_DB set, the database of that name on the test ClickHouse
// (CDP_TEST_CLICKHOUSE_DSN, e.g. a `cdp engine` left running) is used and
// kept: it is filled only when it holds no persons, and must hold exactly
// n otherwise, so that repeated runs (and profiling between them) skip the
// generation of a 10M-person world. Its parts are as the last run or the
// operator left them: say whether they were merged (OPTIMIZE ... FINAL)
// beside the figures.
func benchWorld(b testing.TB, n int) *store.DB {
	ctx := context.Background()
	name := os.Getenv("CDP_BENCH_DB")
	if name == "" {
		db := storetest.Migrated(b)
		fillBenchWorld(b, db, n)
		return db
	}
	db := storetest.Kept(b, name)
	var have uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("persons")).Scan(&have); err != nil {
		b.Fatal(err)
	}
	switch {
	case have == 0:
		start := time.Now()
		fillBenchWorld(b, db, n)
		b.Logf("generated %d persons in %v", n, time.Since(start))
	case have != uint64(n):
		b.Fatalf("database %s holds %d persons, want %d or none", name, have, n)
	}
	return db
}

// fillBenchWorld inserts benchWorld's rows into db.
func fillBenchWorld(b testing.TB, db *store.DB, n int) {
	ctx := context.Background()
	start := benchNow.AddDate(-1, 0, 0).Unix()
	year := int64(365 * 86400)
	// Inserted in chunks of two million rows: one statement over twenty
	// million would outlast the client's read timeout on a loaded machine.
	chunks := func(rows int, q func(from, count int) string) []string {
		var out []string
		for from := 0; from < rows; from += 2_000_000 {
			out = append(out, q(from, min(2_000_000, rows-from)))
		}
		return out
	}
	var qs []string
	qs = append(qs, chunks(n, func(from, count int) string {
		return fmt.Sprintf(`INSERT INTO %s (person_id, parent, canonical, version)
			SELECT number + 1, if((number + 1) %% 50 = 0, number, number + 1), if((number + 1) %% 50 = 0, number, number + 1), 1 FROM numbers(%d, %d)`, db.Table("persons"), from, count)
	})...)
	qs = append(qs, chunks(benchEvents(b, n), func(from, count int) string {
		return fmt.Sprintf(`INSERT INTO %s (message_id, type, event, ts, received_at, source, person_id, properties)
			SELECT toString(number), 'track', ['video_play', 'video_play', 'video_complete', 'search', 'like', 'live_enter'][intHash32(number) %% 6 + 1],
				toDateTime64(%d + intHash64(number) %% %d, 3), now64(3), ['douyin', 'mini_program'][number %% 2 + 1], intHash32(number * 7) %% %d + 1,
				concat('{"topic":"', ['控糖', '低GI', '减脂', ''][intHash32(number * 3) %% 4 + 1], '"}')
			FROM numbers(%d, %d)`, db.Table("events"), start, year, n, from, count)
	})...)
	qs = append(qs, chunks(n*3/2, func(from, count int) string {
		return fmt.Sprintf(`INSERT INTO %s (channel, order_id, version, status, ordered_at, status_at, amount, currency, city, person_id, source, received_at)
			SELECT ['tmall', 'douyin_shop', 'pos', 'group_buy'][number %% 4 + 1], toString(number), 1, if(number %% 20 = 0, 'refunded', 'completed'),
				toDateTime64(%d + intHash64(number * 11) %% %d, 3) AS t, t, toDecimal64(30 + intHash32(number) %% 300, 2), 'CNY',
				['上海', '杭州', '合肥', '洛阳'][number %% 4 + 1], intHash32(number * 13) %% %d + 1, 'bench', now64(3)
			FROM numbers(%d, %d)`, db.Table("orders"), start, year, n*4/10, from, count)
	})...)
	qs = append(qs, chunks(n*3/2, func(from, count int) string {
		return fmt.Sprintf(`INSERT INTO %s (channel, order_id, line_no, version, sku, product_name, category, quantity, unit_price, amount, ordered_at, person_id)
			SELECT channel, order_id, 1, 1, 'SKU', '', if(cityHash64(order_id) %% 3 = 0, '高油酸花生油', '五常大米'), 1, amount, amount, ordered_at, person_id
			FROM %s AS o WHERE toUInt64(order_id) >= %d AND toUInt64(order_id) < %d`, db.Table("order_lines"), db.Table("orders"), from, from+count)
	})...)
	for _, q := range qs {
		if err := db.Conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalytics times a 4-step funnel (a 控糖 video_play, a
// video_complete, a search and a valid order within 7 days, entered in
// the last 30 days) and a 12-month cohort retention table, each beside
// the plain SQL a BI user would write over the BI views in the same run.
// The engine's cache is skipped. Load on a shared machine makes the
// figures indicative: record uptime with them (docs/analytics.md).
func BenchmarkAnalytics(b *testing.B) {
	n := benchPersons(b)
	db := benchWorld(b, n)
	s := New(Options{DB: db, Now: func() time.Time { return benchNow }})
	ctx := context.Background()
	f := Funnel{Steps: []Step{
		{Kind: "event", Name: "video_play", Filters: []Filter{{Field: "topic", Op: "in", Values: []string{"控糖"}}}},
		{Kind: "event", Name: "video_complete"}, {Kind: "event", Name: "search"}, {Kind: "order"},
	}}
	bi := schema.BIDatabase(db.Database)
	from := benchNow.AddDate(0, 0, -30).In(schema.Beijing).Format(dateLayout)
	biFunnel := fmt.Sprintf(`SELECT level, count() FROM (
		SELECT person_id, windowFunnel(604800000)(toUInt64(toUnixTimestamp64Milli(ts)), name = 'video_play' AND topic = '控糖' AND date >= '%s',
			name = 'video_complete', name = 'search', kind = 'order') AS level
		FROM %s.actions WHERE kind IN ('event', 'order') AND date >= '%s' GROUP BY person_id) WHERE level > 0 GROUP BY level`, from, "`"+bi+"`", from)
	biRetention := `SELECT cohort_month, uniqExact(person_id), ` + retentionColumns(12) + " FROM `" + bi + "`.customer_months GROUP BY cohort_month"
	var persons []uint64
	b.Run(fmt.Sprintf("funnel4/engine/%d", n), func(b *testing.B) {
		for b.Loop() {
			res, err := s.Funnel(ctx, f, true)
			if err != nil {
				b.Fatal(err)
			}
			persons = res.Total.Persons
		}
		b.ReportMetric(float64(persons[0]), "entered")
	})
	b.Run(fmt.Sprintf("funnel4/bi-sql/%d", n), func(b *testing.B) { benchSQL(b, db, biFunnel) })
	b.Run(fmt.Sprintf("retention12/engine/%d", n), func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Retention(ctx, Retention{Cohorts{Months: 12}}, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("retention12/bi-sql/%d", n), func(b *testing.B) { benchSQL(b, db, biRetention) })
}

func retentionColumns(months int) string {
	out := ""
	for k := 1; k <= months; k++ {
		if k > 1 {
			out += ", "
		}
		out += fmt.Sprintf("uniqExactIf(person_id, month_index = %d)", k)
	}
	return out
}

// benchSQL runs a query and reads its rows, b.N times.
func benchSQL(b *testing.B, db *store.DB, q string) {
	ctx := context.Background()
	for b.Loop() {
		rows, err := db.Conn.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
	}
}
