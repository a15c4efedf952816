package segments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// fiveClause is the benchmark's rule: a behaviour count with a filter, a
// categorical trait, a numeric trait, a negated chat and a zero count.
const fiveClause = `did("video_complete", 30, {"topic": "控糖"}) >= 2 && city_tier == 1 && ltv > 300 && !chat("退订", 90) && bought("低GI大米", 365) == 0`

// fiveClauseSQL is fiveClause written by hand as one query (count only).
func fiveClauseSQL(table func(string) string) string {
	persons := "(SELECT person_id, canonical FROM " + table("persons") + " FINAL)"
	return `WITH fromUnixTimestamp64Milli({now:Int64}, 'UTC') AS t0
SELECT count() FROM (
	SELECT p.canonical AS c,
		sumIf(o.amount, o.status NOT IN ('refunded', 'cancelled')) AS ltv,
		argMaxIf(o.city, o.ordered_at, o.city != '') AS city
	FROM ` + table("orders") + ` AS o FINAL
	INNER JOIN ` + persons + ` AS p ON p.person_id = o.person_id
	WHERE o.person_id != 0
	GROUP BY c
	HAVING ltv > 300 AND city IN ('北京', '上海', '广州', '深圳')
) AS t
WHERE t.c IN (
	SELECT p.canonical FROM (SELECT person_id FROM ` + table("events") + `
		WHERE event = 'video_complete' AND topic = '控糖' AND ts >= t0 - INTERVAL 30 DAY AND person_id != 0) AS e
	INNER JOIN ` + persons + ` AS p ON p.person_id = e.person_id
	GROUP BY p.canonical HAVING count() >= 2)
AND t.c NOT IN (
	SELECT p.canonical FROM ` + table("wecom_messages_visible") + ` AS m
	INNER JOIN ` + persons + ` AS p ON p.person_id = m.person_id
	WHERE m.external_userid != '' AND m.from = m.external_userid AND positionUTF8(m.content, '退订') > 0
		AND m.msgtime >= t0 - INTERVAL 90 DAY)
AND t.c NOT IN (
	SELECT p.canonical FROM ` + table("order_lines") + ` AS l FINAL
	INNER JOIN ` + persons + ` AS p ON p.person_id = l.person_id
	WHERE (l.category = '低GI大米' OR l.sku = '低GI大米') AND l.ordered_at >= t0 - INTERVAL 365 DAY
		AND (l.channel, l.order_id) IN (SELECT channel, order_id FROM ` + table("orders") + ` FINAL WHERE status NOT IN ('refunded', 'cancelled')))`
}

// moreEvents appends n behaviour events of random persons 1..persons over
// the last 90 days, column-wise in batches of 500,000 rows, and 20,000
// chat messages containing 退订.
func moreEvents(b testing.TB, db *store.DB, persons, n int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 10))
	type kind struct {
		event string
		props []string
	}
	var videoProps, playProps []string
	for _, topic := range []string{"控糖", "控糖", "减脂", "宝宝辅食", ""} {
		for _, c := range []string{"0.50", "0.80", "0.95", "1.00"} {
			videoProps = append(videoProps, fmt.Sprintf(`{"topic":%q,"completion_ratio":%s}`, topic, c))
		}
		playProps = append(playProps, fmt.Sprintf(`{"topic":%q}`, topic))
	}
	kinds := []kind{
		{"video_play", playProps}, {"video_play", playProps}, {"video_play", playProps}, {"video_play", playProps},
		{"video_complete", videoProps}, {"video_complete", videoProps}, {"video_complete", videoProps},
		{"like", playProps}, {"like", playProps}, {"page_view", []string{`{}`}},
		{"search", []string{`{"keyword":"低GI大米"}`, `{"keyword":"五常大米"}`}},
	}
	sources := []string{"douyin", "douyin", "app", "mini_program"}
	const chunk = 500_000
	for done := 0; done < n; done += chunk {
		m := min(chunk, n-done)
		ids, types, names, sources_, props := make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m)
		ts, recv, pids := make([]time.Time, m), make([]time.Time, m), make([]uint32, m)
		for i := range m {
			k := kinds[r.IntN(len(kinds))]
			ids[i] = fmt.Sprintf("x%d", done+i)
			types[i], names[i] = "track", k.event
			ts[i], recv[i] = testNow.Add(-time.Duration(r.Int64N(int64(90*24*time.Hour)))), testNow
			sources_[i] = sources[r.IntN(len(sources))]
			pids[i] = 1 + uint32(r.IntN(persons))
			props[i] = k.props[r.IntN(len(k.props))]
		}
		batch, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Table("events")+" ("+eventCols+")")
		if err != nil {
			b.Fatal(err)
		}
		for i, col := range []any{ids, types, names, ts, recv, sources_, pids, props} {
			if err := batch.Column(i).Append(col); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
	}
	msgs := &batchWriter{b: b, db: db, table: "wecom_messages", cols: msgCols}
	for i := range 20_000 {
		p := 1 + uint32(r.IntN(persons))
		ext := fmt.Sprintf("wm%d", p)
		msgs.add(fmt.Sprintf("td%d", i), "send", ext, []string{"zhang"}, ago(r.Float64()*120), "text",
			"退订，不要再发了", "", ext, "zhang", p, testNow)
	}
	msgs.flush()
}

// BenchmarkFiveClauseRule1M evaluates fiveClause over a million persons
// and about 20 million events; see benchFiveClause for the figures.
func BenchmarkFiveClauseRule1M(b *testing.B) { benchFiveClause(b, 1_000_000, 20_000_000) }

// BenchmarkFiveClauseRule200K is the same over 200,000 persons and about
// 4 million events (CDP_BENCH_PERSONS persons and twenty times as many
// events when set): small enough to compare one engine with a 2-shard
// cluster in one run (storetest.CompareEnv, docs/scale-out.md).
func BenchmarkFiveClauseRule200K(b *testing.B) {
	persons := 200_000
	if n, err := strconv.Atoi(os.Getenv("CDP_BENCH_PERSONS")); err == nil && n > 0 {
		persons = n
	}
	benchFiveClause(b, persons, 20*persons)
}

// BenchmarkFiveClauseRule10M is the same over ten million persons and
// CDP_BENCH_EVENTS events (default 60 million). Generating them takes
// most of an hour and about 10 GB of disk, so it runs only when
// CDP_BENCH_10M=1:
//
//	CDP_BENCH_10M=1 go test ./segments -run '^$' -bench FiveClauseRule10M -benchtime 3x -timeout 3h
func BenchmarkFiveClauseRule10M(b *testing.B) {
	persons, events, ok := fiveClause10M(b)
	if !ok {
		b.Skip("set CDP_BENCH_10M=1 to generate and evaluate 10 million persons")
	}
	benchFiveClause(b, persons, events)
}

// fiveClause10M returns the 10M-person world's size: ten million persons
// and CDP_BENCH_EVENTS events (default 60 million); ok only when
// CDP_BENCH_10M=1.
func fiveClause10M(b *testing.B) (persons, events int, ok bool) {
	if os.Getenv("CDP_BENCH_10M") != "1" {
		return 0, 0, false
	}
	events = 60_000_000
	if v := os.Getenv("CDP_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CDP_BENCH_EVENTS=%q: want a positive number", v)
		}
		events = n
	}
	return 10_000_000, events, true
}

// fiveClauseData fills db (a new migrated database) with the benchmark's
// brand and returns it:
// persons persons (generate) and about events behaviour events
// (moreEvents), merged (OPTIMIZE FINAL), and how many canonical persons
// it has.
//
// With CDP_BENCH_DB set, db is ignored: the database of that name on the test
// ClickHouse (CDP_TEST_CLICKHOUSE_DSN, e.g. a `cdp engine` left running)
// is used and kept: the data is generated only if it does not hold
// exactly persons persons, so profiling runs skip the generation.
func fiveClauseData(b *testing.B, db *store.DB, persons, events int) (*store.DB, uint64) {
	ctx := context.Background()
	if name := os.Getenv("CDP_BENCH_DB"); name != "" {
		db = storetest.Kept(b, name)
	}
	var have uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("persons")).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have != uint64(persons) {
		if have != 0 {
			b.Fatalf("database %s holds %d persons, want %d or none", db.Database, have, persons)
		}
		start := time.Now()
		generate(b, db, persons)
		var n uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("events")).Scan(&n); err != nil {
			b.Fatal(err)
		}
		moreEvents(b, db, persons, events-int(n)) // generate writes about a million events per million persons
		b.Logf("generated in %v", time.Since(start))
		start = time.Now()
		// item_orders too: at 10M persons its FINAL over ~5 unmerged parts
		// per partition was most of the bought leaf's time.
		for _, t := range []string{"persons", "events", "orders", "order_lines", "wecom_messages", schema.ItemOrders} {
			storetest.Optimize(b, db, t)
		}
		b.Logf("merged (OPTIMIZE FINAL) in %v", time.Since(start))
	}
	var nEvents, universe uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("events")).Scan(&nEvents); err != nil {
		b.Fatal(err)
	}
	if err := db.Conn.QueryRow(ctx, "SELECT uniqExact(canonical) FROM "+db.Table("persons")+" FINAL").Scan(&universe); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d persons (%d canonical), %d events", persons, universe, nEvents)
	return db, universe
}

// benchFiveClause evaluates fiveClause over the brand of fiveClauseData,
// each iteration:
//
//   - engine_cold_ms: a new engine (trait snapshot and leaves loaded from
//     ClickHouse), nothing persisted: a platform's first start;
//   - engine_restart_ms: a new engine with Options.PersistTraits and a
//     persisted trait snapshot (written once before the loop, as the
//     platform's previous run did): the snapshot is restored and patched
//     (no person changed here), the leaves read from ClickHouse;
//   - engine_new_rule_ms: the same engine with its leaves dropped and its
//     trait snapshot kept: a rule nobody has run before, as a running
//     platform answers it (the snapshot is loaded once per process and
//     patched as records arrive);
//   - engine_warm_ms: the same engine again (leaves cached);
//   - sql_ms: fiveClauseSQL, the same audience as one query, with the
//     server's default settings (what a SQL-cohort tool sends);
//   - sql_tuned_ms: the same query with the engine's readSettings (FINAL
//     per partition), so the engine's gain from them is not counted as
//     the bitmaps' gain;
//   - restore_traits_ms: restoring the persisted trait snapshot alone (the
//     row read, decoded and validated, the changed persons looked up);
//   - persist_ms, persisted_MB: writing the persisted snapshot once
//     (before the loop), and its size;
//   - index_MB_per_1M_persons: heap retained by the new engine after its
//     cold evaluation (trait snapshot and cached leaves: the heap after the
//     evaluation less the heap once the engine is dropped), per million
//     canonical persons;
//   - heap_inuse_MB, heap_live_MB, rss_MB: the benchmark process right
//     after the cold evaluation (the engine holding its trait snapshot and
//     leaves): the Go heap in use before a GC (garbage included), the live
//     heap after one, and the process's resident memory; peak_rss_MB: the
//     process's peak resident memory at the end (getrusage), generation
//     included when it ran.
//
// Generation and OPTIMIZE FINAL are outside the timing.
//
// With storetest.CompareEnv it runs on one engine and on a 2-shard
// cluster (storetest.Topologies).
func benchFiveClause(b *testing.B, persons, events int) {
	storetest.Topologies(b, func(b *testing.B, db *store.DB) { fiveClauseOn(b, db, persons, events) })
}

func fiveClauseOn(b *testing.B, db *store.DB, persons, events int) {
	ctx := context.Background()
	db, universe := fiveClauseData(b, db, persons, events)
	query := fiveClauseSQL(db.Table)
	var cold, restart, restore, newRule, warm, sql, tuned time.Duration
	persistMS, persistMB := persistOnce(b, db)
	var heap, inuse, live, rss float64
	var count, members uint64
	for b.Loop() {
		var with, without runtime.MemStats
		e := testEngine(db, nil)
		t0 := time.Now()
		c, err := e.Check(fiveClause)
		if err != nil {
			b.Fatal(err)
		}
		bm, err := e.Evaluate(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		cold += time.Since(t0)
		members = bm.GetCardinality()

		bm = nil
		runtime.ReadMemStats(&with)
		inuse += float64(with.HeapInuse)
		runtime.GC()
		runtime.ReadMemStats(&with) // the engine holds its trait snapshot and leaves
		live += float64(with.HeapAlloc)
		rss += residentBytes(b)

		re := testEngine(db, nil)
		re.opts.PersistTraits = true
		t0 = time.Now()
		rbm, err := re.Evaluate(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		restart += time.Since(t0)
		if !re.restored.Load() || re.traits == nil {
			b.Fatal("the restarted engine did not restore its traits")
		}
		if rbm.GetCardinality() != members {
			b.Fatalf("restart %d members, cold %d", rbm.GetCardinality(), members)
		}
		t0 = time.Now()
		if s, err := testEngine(db, nil).restore(ctx, testNow); err != nil || s == nil {
			b.Fatalf("restore: %v (snapshot %v)", err, s != nil)
		}
		restore += time.Since(t0)
		re, rbm = nil, nil

		e.cache.invalidate([]string{KindEvents, KindOrders, KindChats, KindTags}) // leaves only
		t0 = time.Now()
		if bm, err = e.Evaluate(ctx, c); err != nil {
			b.Fatal(err)
		}
		newRule += time.Since(t0)
		if bm.GetCardinality() != members {
			b.Fatalf("new rule %d members, cold %d", bm.GetCardinality(), members)
		}

		t0 = time.Now()
		bm, err = e.Evaluate(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		warm += time.Since(t0)
		if bm.GetCardinality() != members {
			b.Fatalf("warm %d members, cold %d", bm.GetCardinality(), members)
		}
		runtime.KeepAlive(e)
		e, bm = nil, nil
		runtime.GC()
		runtime.ReadMemStats(&without)
		heap += float64(int64(with.HeapAlloc) - int64(without.HeapAlloc))

		t0 = time.Now()
		if err := db.Conn.QueryRow(ctx, query, clickhouse.Named("now", testNow.UnixMilli())).Scan(&count); err != nil {
			b.Fatal(err)
		}
		sql += time.Since(t0)
		if count != members {
			b.Fatalf("engine counts %d, SQL %d", members, count)
		}
		t0 = time.Now()
		if err := db.Conn.QueryRow(readContext(ctx), query, clickhouse.Named("now", testNow.UnixMilli())).Scan(&count); err != nil {
			b.Fatal(err)
		}
		tuned += time.Since(t0)
		if count != members {
			b.Fatalf("engine counts %d, tuned SQL %d", members, count)
		}
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(cold), "engine_cold_ms")
	b.ReportMetric(ms(restart), "engine_restart_ms")
	b.ReportMetric(ms(restore), "restore_traits_ms")
	b.ReportMetric(persistMS, "persist_ms")
	b.ReportMetric(persistMB, "persisted_MB")
	b.ReportMetric(ms(newRule), "engine_new_rule_ms")
	b.ReportMetric(ms(warm), "engine_warm_ms")
	b.ReportMetric(ms(sql), "sql_ms")
	b.ReportMetric(ms(tuned), "sql_tuned_ms")
	b.ReportMetric(heap/n/(1<<20)/(float64(universe)/1e6), "index_MB_per_1M_persons")
	b.ReportMetric(inuse/n/(1<<20), "heap_inuse_MB")
	b.ReportMetric(live/n/(1<<20), "heap_live_MB")
	b.ReportMetric(rss/n/(1<<20), "rss_MB")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(ru.Maxrss)/(1<<10), "peak_rss_MB") // Maxrss is in KiB on Linux
	b.ReportMetric(float64(members), "members")
}

// residentBytes is this process's resident memory (/proc/self/statm).
func residentBytes(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		b.Fatalf("/proc/self/statm: %q", raw)
	}
	pages, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * float64(os.Getpagesize())
}

// persistOnce writes the trait snapshot as a platform's earlier run would
// have, and returns how long the write took in milliseconds and the
// encoded snapshot's size in MB.
func persistOnce(b *testing.B, db *store.DB) (ms, mb float64) {
	ctx := context.Background()
	e := testEngine(db, nil)
	marks, err := e.readMarks(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.readSnapshot(ctx, testNow)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := e.persist(ctx, s, marks); err != nil {
		b.Fatal(err)
	}
	ms = float64(time.Since(t0).Microseconds()) / 1000
	enc, err := s.encode()
	if err != nil {
		b.Fatal(err)
	}
	return ms, float64(len(enc)) / (1 << 20)
}
