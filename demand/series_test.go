package demand

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestMain runs the tests on the engine, or, in a child the crash test
// starts, only a delivery (deliverChild).
func TestMain(m *testing.M) {
	if os.Getenv(childDSN) != "" {
		deliverChild()
	}
	storetest.Main(m)
}

var insert = storetest.Insert

const (
	eventCols = "message_id, type, event, ts, received_at, source, person_id, properties, context"
	msgCols   = "msgid, action, `from`, tolist, roomid, msgtime, msgtype, content, external_userid, staff_userid, person_id, received_at"
	orderCols = "channel, order_id, version, status, ordered_at, status_at, amount, currency, province, city, person_id, source, received_at"
	lineCols  = "channel, order_id, line_no, version, sku, product_name, category, quantity, unit_price, amount, ordered_at, person_id"
)

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

var places = [][2]string{{"四川", "成都"}, {"四川", "绵阳"}, {"广东", "广州"}, {"北京", "北京"}, {"", ""}}

var searchWords = []string{"高油酸花生油推荐", "五常大米 5kg", "低GI大米试用装", "菜籽油", "大米怎么选", "宝宝粥", "花生油 高油酸", "HIGH 低gi"}
var topics = []string{"控糖", "低GI", "减脂", "宝宝辅食", "家常菜", "节日礼盒"}
var chatWords = []string{"有高油酸花生油吗", "五常大米什么时候发货", "谢谢", "小瓶油有吗", "控糖的米"}

// world inserts n random events, chats and orders over 20 days from t0
// (events in batches, so the materialized views see several blocks) and
// returns a person whose events are all theirs to erase.
func world(t *testing.T, db *store.DB, r *rand.Rand, n int) {
	var events, msgs, orders, lines [][]any
	for i := range n {
		at := t0.Add(time.Duration(r.IntN(20*24*60)) * time.Minute)
		pl := places[r.IntN(len(places))]
		ctx := `{}`
		if pl[0] != "" {
			ctx = fmt.Sprintf(`{"location":{"region":%q,"city":%q}}`, pl[0], pl[1])
		}
		person := uint32(1 + r.IntN(50))
		switch r.IntN(4) {
		case 0:
			events = append(events, []any{fmt.Sprintf("e%d", i), "track", "search", at, at, "douyin", person,
				fmt.Sprintf(`{"keyword":%q}`, searchWords[r.IntN(len(searchWords))]), ctx})
		case 1:
			events = append(events, []any{fmt.Sprintf("e%d", i), "track", "video_play", at, at, "douyin", person,
				fmt.Sprintf(`{"topic":%q}`, topics[r.IntN(len(topics))]), ctx})
		case 2:
			ext := fmt.Sprintf("wm%d", person)
			msgs = append(msgs, []any{fmt.Sprintf("m%d", i), "send", ext, []string{"staff"}, "", at, "text",
				chatWords[r.IntN(len(chatWords))], ext, "staff", person, at})
		default:
			status := []string{"paid", "completed", "refunded", "cancelled", "paid"}[r.IntN(5)]
			id := fmt.Sprintf("o%d", i)
			orders = append(orders, []any{"tmall", id, uint64(1), status, at, at, "100", "CNY", pl[0], pl[1], person, "tmall", at})
			for ln := range 1 + r.IntN(2) {
				cat := []string{"高油酸花生油", "五常大米", "低GI大米"}[r.IntN(3)]
				q := 1 + r.IntN(3)
				lines = append(lines, []any{"tmall", id, uint16(ln + 1), uint64(1), "SKU-" + cat, cat, cat, fmt.Sprint(q), "50", fmt.Sprint(50 * q), at, person})
			}
		}
	}
	for i := 0; i < len(events); i += 97 {
		insert(t, db, "events", eventCols, events[i:min(i+97, len(events))]...)
	}
	insert(t, db, "wecom_messages", msgCols, msgs...)
	insert(t, db, "orders", orderCols, orders...)
	insert(t, db, "order_lines", lineCols, lines...)
}

// plainSignals is the daily signal count per (class, province, city) by a
// plain query over the raw rows: every (record, dictionary entry) pair
// that matches, counted once per record and class.
func plainSignals(t *testing.T, db *store.DB) map[string]float64 {
	q := `SELECT class, province, city, d, count() FROM (
  SELECT DISTINCT e.message_id AS id, d.class AS class, JSONExtractString(e.context, 'location', 'region') AS province,
         JSONExtractString(e.context, 'location', 'city') AS city, toDate(e.ts, 'Asia/Shanghai') AS d
  FROM ` + db.Table("events") + ` AS e CROSS JOIN (SELECT * FROM ` + db.Table("demand_terms") + ` FINAL WHERE deleted = 0) AS d
  WHERE (e.event = 'search' AND d.match = 'text' AND positionCaseInsensitiveUTF8(e.keyword, d.term) > 0)
     OR (e.event = 'video_play' AND d.match = 'topic' AND toString(e.topic) = d.term)
  UNION ALL
  SELECT DISTINCT m.msgid, d.class, '', '', toDate(m.msgtime, 'Asia/Shanghai')
  FROM ` + db.Table("wecom_messages") + ` AS m CROSS JOIN (SELECT * FROM ` + db.Table("demand_terms") + ` FINAL WHERE deleted = 0) AS d
  WHERE m.action = 'send' AND m.from = m.external_userid AND d.match = 'text' AND positionCaseInsensitiveUTF8(m.content, d.term) > 0)
WHERE province != '' GROUP BY class, province, city, d`
	rows, err := db.Conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var class, prov, city string
		var d time.Time
		var n uint64
		if err := rows.Scan(&class, &prov, &city, &d, &n); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%s|%s|%s|%s", class, prov, city, d.Format(time.DateOnly))] = float64(n)
	}
	return out
}

func matrixCells(d *Daily) map[string]float64 {
	out := map[string]float64{}
	for k, v := range d.Series {
		for i, n := range v {
			if n != 0 {
				out[fmt.Sprintf("%s|%s|%s|%s", k.Class, k.Province, k.City, d.Start.AddDate(0, 0, i).In(beijing).Format(time.DateOnly))] = n
			}
		}
	}
	return out
}

func sameCells(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the plain query found nothing: the fixture is wrong", what)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s %s: materialized %v, raw %v", what, k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %s: materialized %v, raw none", what, k, g)
		}
	}
}

// TestSignalsMatchRawRows checks the materialized signals (summed on
// insert by the materialized views) against a plain query over the raw
// events and chats, then the same after a dictionary change and Rebuild,
// and after an erasure's deletion and Rebuild.
func TestSignalsMatchRawRows(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	s := New(db, nil)
	world(t, db, rand.New(rand.NewPCG(1, 2)), 3000)
	start := beijingDay(t0.AddDate(0, 0, -1))
	got, err := s.Signals(ctx, LevelCity, start, 23)
	if err != nil {
		t.Fatal(err)
	}
	sameCells(t, "inserted", matrixCells(got), plainSignals(t, db))

	terms, err := s.Terms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	terms = append(terms[1:], Term{Term: "宝宝粥", Match: "text", Class: "宝宝粥"})
	if err := s.SetTerms(ctx, terms); err != nil {
		t.Fatal(err)
	}
	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = s.Signals(ctx, LevelCity, start, 23)
	if err != nil {
		t.Fatal(err)
	}
	cells := matrixCells(got)
	sameCells(t, "rebuilt", cells, plainSignals(t, db))
	found := false
	for k := range cells {
		found = found || strings.HasPrefix(k, "宝宝粥|")
	}
	if !found {
		t.Error("the new class 宝宝粥 has no signals after the rebuild")
	}

	// Erasure deletes a person's events; the rebuilt series lose them.
	storetest.Mutate(t, db, "events", "DELETE WHERE person_id = 7")
	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = s.Signals(ctx, LevelCity, start, 23)
	if err != nil {
		t.Fatal(err)
	}
	sameCells(t, "after erasure", matrixCells(got), plainSignals(t, db))
}

// TestSeriesMatchesRawRows checks one series, hourly and daily, signals
// and order demand (valid orders only), against plain queries.
func TestSeriesMatchesRawRows(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	s := New(db, nil)
	world(t, db, rand.New(rand.NewPCG(3, 4)), 2000)
	for _, g := range []string{Hour, Day} {
		q := SeriesQuery{Class: "高油酸花生油", Province: "四川", Granularity: g, From: t0.AddDate(0, 0, -1), To: t0.AddDate(0, 0, 22)}
		pts, err := s.Series(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		bucket := "toStartOfHour(x)"
		if g == Day {
			bucket = "toDateTime(toDate(x, 'Asia/Shanghai'), 'Asia/Shanghai')"
		}
		var units, search float64
		for _, p := range pts {
			units += p.Units
			search += float64(p.Search)
		}
		wantUnits := storetest.Count(t, db, "SELECT toUInt64(sum(l.quantity)) FROM "+db.Table("order_lines")+" AS l FINAL JOIN "+db.Table("orders")+
			" AS o FINAL USING (channel, order_id) WHERE l.category = '高油酸花生油' AND o.province = '四川' AND o.status NOT IN ('refunded', 'cancelled')")
		wantSearch := storetest.Count(t, db, "SELECT count() FROM "+db.Table("events")+" WHERE event = 'search' AND JSONExtractString(context, 'location', 'region') = '四川'"+
			" AND (positionCaseInsensitiveUTF8(keyword, '花生油') > 0 OR positionCaseInsensitiveUTF8(keyword, '高油酸') > 0)")
		if units != float64(wantUnits) || search != float64(wantSearch) || wantUnits == 0 || wantSearch == 0 {
			t.Errorf("%s: units %v searches %v, raw %d and %d", g, units, search, wantUnits, wantSearch)
		}
		buckets := storetest.Count(t, db, "SELECT uniqExact("+bucket+") FROM (SELECT ts AS x FROM "+db.Table("events")+
			" WHERE JSONExtractString(context, 'location', 'region') = '四川' AND ((event = 'search' AND (positionCaseInsensitiveUTF8(keyword, '花生油') > 0 "+
			"OR positionCaseInsensitiveUTF8(keyword, '高油酸') > 0)) OR (event = 'video_play' AND topic = '减脂')) UNION ALL SELECT l.ordered_at FROM "+
			db.Table("order_lines")+" AS l FINAL JOIN "+db.Table("orders")+" AS o FINAL USING (channel, order_id) WHERE l.category = '高油酸花生油' AND o.province = '四川'"+
			" AND o.status NOT IN ('refunded', 'cancelled'))")
		if len(pts) != buckets {
			t.Errorf("%s: %d buckets, raw %d", g, len(pts), buckets)
		}
	}
	units, err := s.OrderUnits(ctx, beijingDay(t0.AddDate(0, 0, -1)), 23)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range units.Series {
		var sum float64
		for _, x := range v {
			sum += x
		}
		want := storetest.Count(t, db, "SELECT toUInt64(sum(l.quantity)) FROM "+db.Table("order_lines")+" AS l FINAL JOIN "+db.Table("orders")+
			" AS o FINAL USING (channel, order_id) WHERE l.category = ? AND o.province = ? AND o.city = ? AND o.status NOT IN ('refunded', 'cancelled')", k.Class, k.Province, k.City)
		if sum != float64(want) {
			t.Errorf("order units %v: %v, raw %d", k, sum, want)
		}
	}
	if len(units.Series) == 0 {
		t.Error("no order units read")
	}
	if _, err := s.Series(ctx, SeriesQuery{Granularity: Day, From: t0, To: t0.Add(time.Hour)}); err == nil {
		t.Error("a series with neither class nor sku was accepted")
	}
}
