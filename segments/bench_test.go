package segments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"
	bsi32 "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// benchCities are (city, province, weight): a fifth of persons live in a
// tier-1 city, as in the data generator.
var benchCities = []struct {
	city, province string
	weight         int
}{
	{"北京", "北京", 5}, {"上海", "上海", 5}, {"广州", "广东", 4}, {"深圳", "广东", 4},
	{"成都", "四川", 3}, {"重庆", "重庆", 3}, {"杭州", "浙江", 3}, {"武汉", "湖北", 3},
	{"西安", "陕西", 2}, {"南京", "江苏", 2}, {"合肥", "安徽", 2}, {"济南", "山东", 2},
	{"洛阳", "河南", 1}, {"赣州", "江西", 1}, {"绵阳", "四川", 1}, {"桂林", "广西", 1},
}

var benchChannels = []string{"tmall", "douyin_shop", "group_buy", "pos", "phone", "mini_program"}

// batchWriter appends rows to a table in batches of 100,000.
type batchWriter struct {
	b     testing.TB
	db    *store.DB
	table string
	cols  string
	batch interface {
		Append(...any) error
		Send() error
		Close() error
	}
	n int
}

func (w *batchWriter) add(row ...any) {
	ctx := context.Background()
	if w.batch == nil {
		batch, err := w.db.Conn.PrepareBatch(ctx, "INSERT INTO "+w.db.Table(w.table)+" ("+w.cols+")")
		if err != nil {
			w.b.Fatal(err)
		}
		w.batch = batch
	}
	if err := w.batch.Append(row...); err != nil {
		w.b.Fatalf("%s: %v", w.table, err)
	}
	if w.n++; w.n == 100_000 {
		w.flush()
	}
}

func (w *batchWriter) flush() {
	if w.batch == nil {
		return
	}
	if err := w.batch.Send(); err != nil {
		w.b.Fatalf("%s: %v", w.table, err)
	}
	w.batch.Close()
	w.batch, w.n = nil, 0
}

// generate writes a synthetic brand of n persons: 2% merged into their
// neighbour, 60% with 1-4 orders over a year, 20% watching videos (40%
// of them 控糖), 10% searching, 5% chatting on WeCom.
func generate(b testing.TB, db *store.DB, n int) (rows int) {
	r := rand.New(rand.NewPCG(1, 2))
	w := func(table, cols string) *batchWriter { return &batchWriter{b: b, db: db, table: table, cols: cols} }
	persons, events, orders, lines, msgs := w("persons", personCols), w("events", eventCols),
		w("orders", orderCols), w("order_lines", lineCols), w("wecom_messages", msgCols)
	totalWeight := 0
	for _, c := range benchCities {
		totalWeight += c.weight
	}
	for p := uint32(1); p <= uint32(n); p++ {
		canonical := p
		if p%50 == 0 {
			canonical = p - 1
		}
		persons.add(p, canonical, canonical, uint64(1))
		rows++
		pick := r.IntN(totalWeight)
		city := benchCities[0]
		for _, c := range benchCities {
			if pick -= c.weight; pick < 0 {
				city = c
				break
			}
		}
		if r.IntN(100) < 60 {
			for o := range 1 + r.IntN(4) {
				rows += 2
				id := fmt.Sprintf("b%d-%d", p, o)
				ch := benchChannels[r.IntN(len(benchChannels))]
				at := ago(r.Float64() * 365) // ms apart: no ties for argMax(city)
				status := "paid"
				if u := r.IntN(100); u < 5 {
					status = "refunded"
				} else if u < 7 {
					status = "cancelled"
				}
				amount := decimal.New(int64(5000+r.IntN(45000)), -2)
				cat := []string{"低GI大米", "五常大米", "五常大米", "高油酸花生油", "小包装油", "低GI大米"}[r.IntN(6)]
				orders.add(ch, id, uint64(1), status, at, at, amount, "CNY", city.province, city.city, p, "bench", testNow)
				lines.add(ch, id, uint16(1), uint64(1), "SKU-"+cat, cat, cat, decimal.NewFromInt(1), amount, amount, at, p)
			}
		}
		if r.IntN(100) < 20 {
			topic := []string{"控糖", "控糖", "减脂", "宝宝辅食", ""}[r.IntN(5)]
			for range 1 + r.IntN(8) {
				rows++
				seq++
				events.add(fmt.Sprintf("b%d", seq), "track", "video_complete", ago(float64(r.IntN(60*24))/24), testNow, "douyin", p,
					fmt.Sprintf(`{"topic":%q,"completion_ratio":%.2f}`, topic, 0.5+r.Float64()/2))
			}
		}
		if r.IntN(100) < 10 {
			rows++
			seq++
			events.add(fmt.Sprintf("b%d", seq), "track", "search", ago(float64(r.IntN(30*24))/24), testNow, "douyin", p,
				`{"keyword":"低GI大米"}`)
		}
		if r.IntN(100) < 5 {
			ext := fmt.Sprintf("wm%d", p)
			for m := range 1 + r.IntN(3) {
				rows++
				content := "请问有优惠吗"
				if r.IntN(5) == 0 {
					content = "我家老人血糖高，吃什么米好"
				}
				msgs.add(fmt.Sprintf("bm%d-%d", p, m), "send", ext, []string{"zhang"}, ago(float64(r.IntN(60*24))/24), "text",
					content, "", ext, "zhang", p, testNow)
			}
		}
	}
	for _, x := range []*batchWriter{persons, events, orders, lines, msgs} {
		x.flush()
	}
	return rows
}

// BenchmarkEstimateFlagship estimates the flagship audience over a
// million persons four ways in the same run, each iteration:
//
//   - engine_cold: nothing cached (trait snapshot and behaviour leaves
//     from ClickHouse), as after a restart;
//   - engine_new_rule: traits loaded, leaves not cached, as for a rule
//     the marketer has just written;
//   - engine_warm: leaves cached (bitmap operations and breakdowns only),
//     as while editing or after Refresh;
//   - sql: the equivalent single query in ClickHouse (count only);
//
// and times a Refresh of 100 persons (the live path: their leaves and
// traits recomputed, the cached bitmaps patched). The counts must agree. Tables are merged (OPTIMIZE FINAL) before timing,
// the steady state after background merges.
func BenchmarkEstimateFlagship(b *testing.B) {
	db := storetest.Migrated(b)
	start := time.Now()
	rows := generate(b, db, 1_000_000)
	ctx := context.Background()
	for _, t := range []string{"persons", "events", "orders", "order_lines", "wecom_messages", schema.ItemOrders} {
		storetest.Optimize(b, db, t)
	}
	b.Logf("generated %d rows in %v", rows, time.Since(start))
	e := testEngine(db, nil)
	query := flagshipSQL(db.Table)
	var cold, newRule, warm, sql, refresh time.Duration
	var count uint64
	estimate := func(d *time.Duration) Estimate {
		t0 := time.Now()
		est, err := e.Estimate(ctx, flagship, 20)
		if err != nil {
			b.Fatal(err)
		}
		*d += time.Since(t0)
		return est
	}
	for b.Loop() {
		e.Invalidate()
		est := estimate(&cold)
		e.cache.invalidate([]string{KindEvents, KindOrders, KindChats, KindTags}) // leaves only
		estimate(&newRule)
		estimate(&warm)
		t0 := time.Now()
		if err := db.Conn.QueryRow(ctx, query, clickhouse.Named("now", testNow.UnixMilli())).Scan(&count); err != nil {
			b.Fatal(err)
		}
		sql += time.Since(t0)
		if count != est.Count {
			b.Fatalf("engine counts %d, SQL %d", est.Count, count)
		}
		persons := make([]uint32, 100)
		for i := range persons {
			persons[i] = uint32(1 + i*9973)
		}
		t0 = time.Now()
		if err := e.Refresh(ctx, persons, KindEvents, KindOrders, KindChats); err != nil {
			b.Fatal(err)
		}
		refresh += time.Since(t0)
		var after time.Duration
		if est := estimate(&after); est.Count != count {
			b.Fatalf("after a refresh with no new records, %d members, want %d", est.Count, count)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(cold), "engine_cold_ms")
	b.ReportMetric(ms(newRule), "engine_new_rule_ms")
	b.ReportMetric(ms(warm), "engine_warm_ms")
	b.ReportMetric(ms(sql), "sql_ms")
	b.ReportMetric(ms(refresh), "refresh_100_persons_ms")
	b.ReportMetric(float64(count), "members")
}

// randomBitmap has each id of [0, n) with probability density.
func randomBitmap(r *rand.Rand, n int, density float64) *roaring.Bitmap {
	ids := make([]uint32, 0, int(float64(n)*density))
	for i := range uint32(n) {
		if r.Float64() < density {
			ids = append(ids, i)
		}
	}
	bm := roaring.New()
	bm.AddMany(ids)
	bm.RunOptimize()
	return bm
}

// BenchmarkBitmapOps times the plan's operations over a million dense
// person ids.
func BenchmarkBitmapOps(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(3, 4))
	x, y := randomBitmap(r, n, 0.5), randomBitmap(r, n, 0.2)
	var many []*roaring.Bitmap
	for range 10 {
		many = append(many, randomBitmap(r, n, 0.05))
	}
	universe := roaring.New()
	universe.AddRange(0, n)
	ops := []struct {
		name string
		fn   func()
	}{
		{"And", func() { roaring.And(x, y) }},
		{"Or", func() { roaring.Or(x, y) }},
		{"AndNot", func() { roaring.AndNot(x, y) }},
		{"Not", func() { roaring.AndNot(universe, x) }},
		{"AndCardinality", func() { x.AndCardinality(y) }},
		{"FastOr10", func() { roaring.FastOr(many...) }},
		{"FastAnd3", func() { roaring.FastAnd(x, y, many[0]) }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			for b.Loop() {
				op.fn()
			}
		})
	}
}

// BenchmarkBSIRange compares a range query on our bit-sliced index with
// roaring's 32-bit BitSliceIndexing, over a million persons' LTV in fen.
func BenchmarkBSIRange(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(5, 6))
	ids := make([]uint32, n)
	vals := make([]int64, n)
	theirs := bsi32.NewDefaultBSI()
	for i := range ids {
		ids[i], vals[i] = uint32(i), int64(r.IntN(500_000))
		theirs.SetValue(uint64(i), vals[i])
	}
	ours := buildBSI(ids, vals)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			ours.between(intRange{lo: 30001, hi: 100_000})
		}
	})
	b.Run("BitSliceIndexing", func(b *testing.B) {
		for b.Loop() {
			theirs.CompareValue(0, bsi32.RANGE, 30001, 100_000, nil)
		}
	})
}

// BenchmarkReadState compares reading a million-person leaf as a
// groupBitmap state with reading it as an array.
func BenchmarkReadState(b *testing.B) {
	db := storetest.DB(b)
	ctx := context.Background()
	b.Run("state", func(b *testing.B) {
		for b.Loop() {
			var s []byte
			if err := db.Conn.QueryRow(ctx, "SELECT toString(groupBitmapState(toUInt32(number * 3))) FROM numbers(1000000)").Scan(&s); err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeGroupBitmap(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bitmapToArray", func(b *testing.B) {
		for b.Loop() {
			var ids []uint32
			if err := db.Conn.QueryRow(ctx, "SELECT bitmapToArray(groupBitmapState(toUInt32(number * 3))) FROM numbers(1000000)").Scan(&ids); err != nil {
				b.Fatal(err)
			}
			bm := roaring.New()
			bm.AddMany(ids)
		}
	})
}
