package demand

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// benchSize is CDP_DEMAND_BENCH_EVENTS, the number of search events
// (200,000 by default; the size is 100,000,000), with a tenth as
// many orders.
func benchSize(b *testing.B) int {
	v, set := os.LookupEnv("CDP_DEMAND_BENCH_EVENTS")
	if !set {
		return 200_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		b.Fatalf("CDP_DEMAND_BENCH_EVENTS=%q: a number of at least 1000", v)
	}
	return n
}

// benchAt is the benchmark's clock: detection and forecasts run as of it.
var benchAt = time.Date(2026, 6, 1, 4, 0, 0, 0, time.UTC)

// benchDemandWorld fills events (searches of dictionary words in the
// generator's 44 cities, over the 460 days detection reads) and orders
// with a line each, by INSERT ... SELECT in chunks of two million rows;
// the materialized views sum the searches into demand_signals_hourly as
// they are inserted. Orders go to a tenth of n persons (demand reads no
// person table: persons are the order's buyer only).
func benchDemandWorld(b *testing.B, n int) *store.DB {
	db := storetest.Migrated(b)
	var provinces, cities []string
	seen := map[string]bool{}
	for _, k := range gen.GenerateDemand(gen.DemandConfig{Seed: 1, Start: benchAt, Days: 1}).Keys {
		if !seen[k.City] {
			seen[k.City] = true
			provinces, cities = append(provinces, "'"+k.Province+"'"), append(cities, "'"+k.City+"'")
		}
	}
	place := fmt.Sprintf("intHash32(number * 5) %% %d + 1", len(cities))
	prov, city := "["+strings.Join(provinces, ",")+"]["+place+"]", "["+strings.Join(cities, ",")+"]["+place+"]"
	words := "['高油酸花生油', '五常大米', '低GI大米', '菜籽油', '玉米油', '小瓶油', '中秋礼盒', '控糖', '大米'][intHash32(number * 3) % 9 + 1]"
	start, span := benchAt.AddDate(0, 0, -460).Unix(), int64(460*86400)
	var qs []string
	for from := 0; from < n; from += 2_000_000 {
		qs = append(qs, fmt.Sprintf(`INSERT INTO %s (message_id, type, event, ts, received_at, source, person_id, properties, context)
			SELECT toString(number), 'track', 'search', toDateTime64(%d + intHash64(number) %% %d, 3) AS t, t, ['douyin', 'mini_program'][number %% 2 + 1],
				intHash32(number * 7) %% %d + 1, concat('{"keyword":"', %s, '"}'), concat('{"location":{"region":"', %s, '","city":"', %s, '"}}')
			FROM numbers(%d, %d)`, db.Table("events"), start, span, max(n/10, 1), words, prov, city, from, min(2_000_000, n-from)))
	}
	for from := 0; from < n/10; from += 2_000_000 {
		qs = append(qs, fmt.Sprintf(`INSERT INTO %s (channel, order_id, version, status, ordered_at, status_at, amount, currency, province, city, person_id, source, received_at)
			SELECT ['tmall', 'douyin_shop', 'pos'][number %% 3 + 1], toString(number), 1, if(number %% 20 = 0, 'refunded', 'completed'),
				toDateTime64(%d + intHash64(number * 11) %% %d, 3) AS t, t, toDecimal64(30 + intHash32(number) %% 300, 2), 'CNY', %s, %s,
				intHash32(number * 13) %% %d + 1, 'bench', now64(3)
			FROM numbers(%d, %d)`, db.Table("orders"), start, span, prov, city, max(n/10, 1), from, min(2_000_000, n/10-from)))
	}
	qs = append(qs, fmt.Sprintf(`INSERT INTO %s (channel, order_id, line_no, version, sku, product_name, category, quantity, unit_price, amount, ordered_at, person_id)
			SELECT channel, order_id, 1, 1, 'SKU', '', ['高油酸花生油', '五常大米', '低GI大米', '菜籽油', '小包装油'][cityHash64(order_id) %% 5 + 1], 1 + cityHash64(order_id) %% 3,
				amount, amount, ordered_at, person_id FROM %s`, db.Table("order_lines"), db.Table("orders")))
	for _, q := range qs {
		if err := db.Conn.Exec(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkDemandRound times, over CDP_DEMAND_BENCH_EVENTS search events
// and a tenth as many orders, a full detection round (DetectAt: every
// class × city, province and national series, the cooldown's windows
// re-tested, the hourly signals of 446 days read), a full forecast round
// (ForecastAt: every series of units ordered at every level) and, as the
// plain-SQL reference, the read of the daily signal series detection
// needs. Load on a shared machine makes the figures indicative: record
// uptime with them (docs/demand.md).
//
//	CDP_DEMAND_BENCH_EVENTS=100000000 go test ./demand -run '^$' -bench DemandRound -benchtime 3x -timeout 4h
func BenchmarkDemandRound(b *testing.B) {
	n := benchSize(b)
	db := benchDemandWorld(b, n)
	s, ctx, o := New(db, nil), context.Background(), DefaultDetectOptions()
	b.Logf("%d search events, %d orders", n, n/10)
	b.Run("detect", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.DetectAt(ctx, benchAt, 4, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forecast", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ForecastAt(ctx, benchAt, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same round with regressors loaded: the generator's promotions
	// and daily rain per province (the regressor CSV an operator would
	// upload, future days included) over the days the forecast reads.
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 7, Start: benchAt.AddDate(0, 0, -o.History()), Days: o.History() + Horizon, Promotions: 150, Weather: true})
	values, err := ParseRegressorCSV(bytes.NewReader(w.RegressorCSV()))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.ImportRegressors(ctx, values, "bench"); err != nil {
		b.Fatal(err)
	}
	b.Run("forecast-regressors", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ForecastAt(ctx, benchAt, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain-sql-daily-series", func(b *testing.B) {
		q := "SELECT class, province, city, toDate(hour, 'Asia/Shanghai') AS d, sum(signals) FROM " + db.Table("demand_signals_hourly") +
			" WHERE hour >= toDateTime(?, 'UTC') AND hour < toDateTime(?, 'UTC') GROUP BY class, province, city, d"
		for b.Loop() {
			rows, err := db.Conn.Query(ctx, q, benchAt.AddDate(0, 0, -446).Unix(), benchAt.Unix())
			if err != nil {
				b.Fatal(err)
			}
			cells := 0
			for rows.Next() {
				cells++
			}
			rows.Close()
			if cells == 0 {
				b.Fatal("no daily cells")
			}
		}
	})
}
