package analytics

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testNow is the service's clock: 2026-06-15 20:00 in Beijing.
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// d10 is ten days before testNow: 2026-06-05 20:00 in Beijing.
var d10 = testNow.AddDate(0, 0, -10)

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

var insert = storetest.Insert

const (
	personCols  = "person_id, parent, canonical, version"
	eventCols   = "message_id, type, event, ts, received_at, source, person_id, properties"
	orderCols   = "channel, order_id, version, status, ordered_at, status_at, amount, currency, province, city, person_id, source, received_at"
	lineCols    = "channel, order_id, line_no, version, sku, product_name, category, quantity, unit_price, amount, ordered_at, person_id"
	contactCols = "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, person_id, received_at"
)

var seq int

func ev(person uint32, name, source string, at time.Time, props string) []any {
	seq++
	return []any{fmt.Sprintf("m%d", seq), "track", name, at, testNow, source, person, props}
}

type ord struct {
	person   uint32
	channel  string
	status   string
	at       time.Time
	amount   string
	city     string
	category string
}

// funnelWorld is the population of the funnel tests. Steps: a 控糖
// video_play, a search, a 低GI大米 order; window 7 days.
//
//	P1  play, search +1h, order +1d          level 3, converts in 1 day
//	P2  play (mini_program), search +2h      level 2
//	P3  play (mini_program)                  level 1
//	P4  search, play +1d                     level 1 (any order: 2)
//	P5  play d-20, order d-5 (out of window) level 1
//	P6  play of topic 减脂                    not in the funnel
//	P7  play, search +1h, oil order +3h      level 2
//	P8  play; P9 (merged into 8) search +30m and order +2h: level 3 in 2 h
//	P10 play, search +1h, WeCom del_follow_user +2h, order +5h: level 3 (excluded with the exclusion)
//	P11 play, order +1h, search +2h, order +3h: level 3 (strict order: 1)
//	P12 search only                          not in the funnel (any order: 1)
var funnelWorld = struct {
	events [][]any
	orders []ord
}{
	events: [][]any{
		ev(1, "video_play", "douyin", d10, `{"topic":"控糖"}`), ev(1, "search", "douyin", d10.Add(hours(1)), `{}`),
		ev(2, "video_play", "mini_program", d10, `{"topic":"控糖"}`), ev(2, "search", "douyin", d10.Add(hours(2)), `{}`),
		ev(3, "video_play", "mini_program", d10, `{"topic":"控糖"}`),
		ev(4, "search", "douyin", d10, `{}`), ev(4, "video_play", "douyin", d10.Add(hours(24)), `{"topic":"控糖"}`),
		ev(5, "video_play", "douyin", testNow.AddDate(0, 0, -20), `{"topic":"控糖"}`),
		ev(6, "video_play", "douyin", d10, `{"topic":"减脂"}`),
		ev(7, "video_play", "douyin", d10, `{"topic":"控糖"}`), ev(7, "search", "douyin", d10.Add(hours(1)), `{}`),
		ev(8, "video_play", "douyin", d10, `{"topic":"控糖"}`), ev(9, "search", "douyin", d10.Add(hours(0.5)), `{}`),
		ev(10, "video_play", "douyin", d10, `{"topic":"控糖"}`), ev(10, "search", "douyin", d10.Add(hours(1)), `{}`),
		ev(11, "video_play", "douyin", d10, `{"topic":"控糖"}`), ev(11, "search", "douyin", d10.Add(hours(2)), `{}`),
		ev(12, "search", "douyin", d10, `{}`),
	},
	orders: []ord{
		{1, "douyin_shop", "paid", d10.Add(hours(24)), "39.90", "上海", "低GI大米"},
		{5, "douyin_shop", "paid", testNow.AddDate(0, 0, -5), "39.90", "洛阳", "低GI大米"},
		{7, "douyin_shop", "paid", d10.Add(hours(3)), "169.90", "上海", "高油酸花生油"},
		{9, "douyin_shop", "paid", d10.Add(hours(2)), "39.90", "杭州", "低GI大米"},
		{10, "douyin_shop", "paid", d10.Add(hours(5)), "39.90", "上海", "低GI大米"},
		{11, "douyin_shop", "paid", d10.Add(hours(1)), "39.90", "合肥", "低GI大米"},
		{11, "douyin_shop", "paid", d10.Add(hours(3)), "39.90", "合肥", "低GI大米"},
	},
}

// cohortWorld adds the retention customers (Beijing dates):
//
//	C21 tmall        2026-01-10 rice 100, 02-05 rice 50, 04-20 oil 80
//	C22 pos          2026-01-25 oil 60, 01-28 oil 40, 03-03 oil 30
//	C23 tmall        2026-02-14 rice 70; 03-01 rice 200 refunded
//	C24 douyin_shop  2026-02-20 rice 90, 03-10 rice 90
//	C25 tmall        2026-01-31 20:00 UTC = 02-01 04:00 Beijing, rice 55
var cohortWorld = []ord{
	{21, "tmall", "paid", day(2026, 1, 10), "100", "上海", "五常大米"},
	{21, "tmall", "paid", day(2026, 2, 5), "50", "上海", "五常大米"},
	{21, "tmall", "paid", day(2026, 4, 20), "80", "上海", "高油酸花生油"},
	{22, "pos", "completed", day(2026, 1, 25), "60", "北京", "高油酸花生油"},
	{22, "pos", "completed", day(2026, 1, 28), "40", "北京", "小包装油"},
	{22, "pos", "completed", day(2026, 3, 3), "30", "北京", "高油酸花生油"},
	{23, "tmall", "paid", day(2026, 2, 14), "70", "杭州", "东北大米"},
	{23, "tmall", "refunded", day(2026, 3, 1), "200", "杭州", "东北大米"},
	{24, "douyin_shop", "paid", day(2026, 2, 20), "90", "合肥", "五常大米"},
	{24, "douyin_shop", "paid", day(2026, 3, 10), "90", "合肥", "五常大米"},
	{25, "tmall", "paid", time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC), "55", "上海", "五常大米"},
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 4, 0, 0, 0, time.UTC) }

// world inserts both populations and returns a service on them.
func world(t testing.TB) (*Service, *store.DB) {
	t.Helper()
	db := storetest.Migrated(t)
	var persons [][]any
	for p := uint32(1); p <= 25; p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
	}
	persons = append(persons, []any{uint32(9), uint32(8), uint32(8), uint64(2)}) // 9 merged into 8
	insert(t, db, "persons", personCols, persons...)
	insert(t, db, "events", eventCols, funnelWorld.events...)
	insertOrders(t, db, append(append([]ord(nil), funnelWorld.orders...), cohortWorld...))
	insert(t, db, "wecom_contact_events", contactCols,
		[]any{"k1", d10.Add(hours(2)), "del_follow_user", "corp", "zhang", "wm10", "", uint32(10), testNow},
		[]any{"k2", d10.Add(-hours(48)), "add_external_contact", "corp", "zhang", "wm10", "douyin_live", uint32(10), testNow},
		[]any{"k3", d10.Add(-hours(48)), "add_external_contact", "corp", "zhang", "wm1", "store_qr", uint32(1), testNow},
	)
	return New(Options{DB: db, Now: func() time.Time { return testNow }}), db
}

func insertOrders(t testing.TB, db *store.DB, list []ord) {
	var ords, lines [][]any
	for i, o := range list {
		id := fmt.Sprintf("o%d", i)
		amount := decimal.RequireFromString(o.amount)
		ords = append(ords, []any{o.channel, id, uint64(1), o.status, o.at, o.at, amount, "CNY", "", o.city, o.person, "test", testNow})
		lines = append(lines, []any{o.channel, id, uint16(1), uint64(1), "SKU", o.category, o.category, decimal.NewFromInt(1), amount, amount, o.at, o.person})
	}
	insert(t, db, "orders", orderCols, ords...)
	insert(t, db, "order_lines", lineCols, lines...)
}
