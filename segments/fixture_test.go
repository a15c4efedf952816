package segments

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testNow is the engine's clock in tests; records are placed relative to
// it, so windows are exact.
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func ago(days float64) time.Time {
	return testNow.Add(-time.Duration(days * float64(24*time.Hour)))
}

const (
	personCols = "person_id, parent, canonical, version"
	eventCols  = "message_id, type, event, ts, received_at, source, person_id, properties"
	orderCols  = "channel, order_id, version, status, ordered_at, status_at, amount, currency, province, city, person_id, source, received_at"
	lineCols   = "channel, order_id, line_no, version, sku, product_name, category, quantity, unit_price, amount, ordered_at, person_id"
	msgCols    = "msgid, action, `from`, tolist, msgtime, msgtype, content, pre_msgid, external_userid, staff_userid, person_id, received_at"
	tagCols    = "person_id, tag, source, sensitive, deleted, ts"
)

var seq int

func event(person uint32, name string, days float64, props string) []any {
	seq++
	return []any{fmt.Sprintf("m%d", seq), "track", name, ago(days), testNow, "douyin", person, props}
}

func video(person uint32, topic string, days float64, completion float64, videoID string) []any {
	return event(person, "video_complete", days, fmt.Sprintf(`{"topic":%q,"completion_ratio":%g,"video_id":%q}`, topic, completion, videoID))
}

// order is an order with one line.
type order struct {
	person   uint32
	channel  string
	id       string
	version  uint64
	status   string
	days     float64
	amount   string
	province string
	city     string
	category string
	sku      string
}

func (o order) rows() ([]any, []any) {
	amount := decimal.RequireFromString(o.amount)
	ord := []any{o.channel, o.id, o.version, o.status, ago(o.days), ago(o.days), amount, "CNY", o.province, o.city, o.person, "test", testNow}
	line := []any{o.channel, o.id, uint16(1), o.version, o.sku, o.category, o.category, decimal.NewFromInt(1), amount, amount, ago(o.days), o.person}
	return ord, line
}

func message(id, action, from string, to []string, days float64, content, pre, external, staff string, person uint32) []any {
	return []any{id, action, from, to, ago(days), "text", content, pre, external, staff, person, testNow}
}

// population inserts the known test population (see engine_test.go for
// who is who) and returns the database.
func population(t testing.TB) *store.DB {
	t.Helper()
	db := storetest.Migrated(t)
	var persons [][]any
	for _, p := range []uint32{1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16} {
		persons = append(persons, []any{p, p, p, uint64(1)})
	}
	persons = append(persons, []any{uint32(11), uint32(10), uint32(10), uint64(2)}) // 11 merged into 10
	storetest.Insert(t, db, "persons", personCols, persons...)

	storetest.Insert(t, db, "events", eventCols,
		video(1, "控糖", 5, 0.95, "v1"), video(1, "控糖", 6, 0.95, "v1"),
		video(2, "", 12, 1, "v2"),
		video(4, "控糖", 1, 0.5, "v2"), video(4, "控糖", 2, 0.5, "v2"), video(4, "控糖", 3, 0.95, "v2"),
		video(5, "控糖", 10, 0.9, "v3"), video(5, "控糖", 20, 1, "v3"),
		video(6, "控糖", 7, 1, "v2"), video(6, "控糖", 40, 1, "v2"),
		video(7, "减脂", 2, 1, "v2"), video(7, "减脂", 4, 1, "v2"),
		video(10, "控糖", 8, 0.92, "v2"), video(11, "控糖", 9, 0.99, "v2"),
		video(12, "控糖", 1, 1, "v2"), video(12, "控糖", 2, 1, "v2"), video(12, "控糖", 3, 1, "v2"),
		video(12, "控糖", 4, 1, "v2"), video(12, "控糖", 5, 1, "v2"),
		event(12, "video_play", 10, `{"topic":"控糖"}`),
		event(13, "search", 3, `{"keyword":"低GI大米"}`), event(13, "search", 20, `{"keyword":"五常大米"}`),
		event(15, "video_play", 100, `{}`),
		video(0, "控糖", 1, 1, "v2"), video(0, "控糖", 2, 1, "v2"), // unresolved: nobody's
	)

	var ords, lines [][]any
	for _, o := range []order{
		{1, "tmall", "o1", 1, "paid", 100, "200", "上海", "上海", "低GI大米", "LGI-5KG"},
		{1, "tmall", "o2", 1, "paid", 45, "150", "上海", "上海", "五常大米", "WC-5KG"},
		{2, "douyin_shop", "o3", 1, "paid", 10, "500", "北京", "北京", "五常大米", "WC-5KG"},
		{3, "tmall", "o4", 1, "completed", 20, "400", "广东", "广州", "低GI大米", "LGI-5KG"},
		{4, "pos", "o5", 1, "completed", 35, "800", "四川", "成都", "高油酸花生油", "PO-5L"},
		{5, "group_buy", "o6", 1, "paid", 50, "250", "上海", "上海", "小包装油", "OIL-1L"},
		{6, "mini_program", "o7", 1, "paid", 5, "600", "广东", "深圳", "五常大米", "WC-5KG"},
		{7, "tmall", "o8", 1, "paid", 15, "320", "上海", "上海", "五常大米", "WC-5KG"},
		{7, "tmall", "o9", 1, "paid", 12, "200", "上海", "上海", "低GI大米", "LGI-5KG"},
		{7, "tmall", "o9", 2, "refunded", 12, "200", "上海", "上海", "低GI大米", "LGI-5KG"},
		{10, "phone", "o10", 1, "paid", 80, "200", "上海", "上海", "五常大米", "WC-5KG"},
		{11, "tmall", "o11", 1, "paid", 3, "150", "上海", "上海", "五常大米", "WC-5KG"},
		{12, "tmall", "o15", 1, "cancelled", 5, "99", "浙江", "杭州", "低GI大米", "LGI-5KG"},
		{13, "pos", "o12", 1, "completed", 200, "500", "北京", "北京", "低GI大米", "LGI-5KG"},
		{13, "douyin_shop", "o13", 1, "paid", 70, "500", "北京", "北京", "五常大米", "WC-5KG"},
		{14, "tmall", "o14", 1, "paid", 61, "350", "北京", "北京", "低GI大米", "LGI-5KG"},
	} {
		o, l := o.rows()
		ords, lines = append(ords, o), append(lines, l)
	}
	storetest.Insert(t, db, "orders", orderCols, ords...)
	storetest.Insert(t, db, "order_lines", lineCols, lines...)

	storetest.Insert(t, db, "wecom_messages", msgCols,
		message("c1", "send", "wmP2", []string{"zhang"}, 5, "最近血糖有点高，有什么推荐", "", "wmP2", "zhang", 2),
		message("c2", "send", "zhang", []string{"wmP6"}, 3, "您的血糖控制得怎么样", "", "wmP6", "zhang", 6),
		message("c3", "send", "wmP6", []string{"zhang"}, 2, "血糖偏高", "", "wmP6", "zhang", 6),
		message("c4", "recall", "wmP6", []string{"zhang"}, 2, "", "c3", "wmP6", "zhang", 6),
		message("c5", "send", "wmP3", []string{"li"}, 40, "想买控血糖的米", "", "wmP3", "li", 3),
	)
	storetest.Insert(t, db, "person_tags", tagCols,
		[]any{uint32(1), "控糖", "manual", uint8(1), uint8(0), ago(10)},
		[]any{uint32(5), "控糖", "manual", uint8(1), uint8(0), ago(20)},
		[]any{uint32(5), "控糖", "manual", uint8(1), uint8(1), ago(5)},
		[]any{uint32(11), "控糖", "wecom", uint8(1), uint8(0), ago(3)},
		[]any{uint32(12), "控糖", "manual", uint8(1), uint8(0), ago(30)},
		[]any{uint32(13), "高端用户", "manual", uint8(0), uint8(0), ago(30)},
	)
	return db
}

// universe is every canonical person of the population.
var universe = []uint32{1, 2, 3, 4, 5, 6, 7, 10, 12, 13, 14, 15, 16}

// except is the universe without ids.
func except(ids ...uint32) []uint32 {
	var out []uint32
	for _, p := range universe {
		if !slices.Contains(ids, p) {
			out = append(out, p)
		}
	}
	return out
}

func testEngine(db *store.DB, resolver SegmentResolver) *Engine {
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	opts.Segments = resolver
	opts.Logger = storetest.Logger()
	return NewEngine(db, opts)
}

type fixedSegments map[string][]uint32

func (f fixedSegments) SegmentMembers(_ context.Context, id string) (*roaring.Bitmap, error) {
	ids, ok := f[id]
	if !ok {
		return nil, fmt.Errorf("%q: %w", id, ErrUnknownSegment)
	}
	return roaring.BitmapOf(ids...), nil
}

// testStore is a store over db with the engine's clock at testNow.
func testStore(t testing.TB, db *store.DB) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	s, err := NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
