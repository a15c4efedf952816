package segments

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"
)

// traitSpec says how a trait is indexed.
type traitSpec struct {
	categorical bool    // one bitmap per value
	column      string  // the numeric index it reads
	scale       float64 // rule units to stored units (yuan to fen)
	zeroDefault bool    // every person has a value: 0 without orders
	days        bool    // stored as a time (Unix ms), compared as whole days since
}

// traitSpecs are the traits of the language; their names are the expr
// tags of Traits.
var traitSpecs = map[string]traitSpec{
	"city":                  {categorical: true, scale: 1},
	"province":              {categorical: true, scale: 1},
	"city_tier":             {categorical: true, scale: 1},
	"ltv":                   {column: "ltv", scale: 100, zeroDefault: true},
	"aov":                   {column: "aov", scale: 100},
	"orders_total":          {column: "orders_total", scale: 1, zeroDefault: true},
	"days_since_last_order": {column: "last_order_at", scale: 1, days: true},
}

// DefaultCityTiers are the tiers of the cities the brand sells in (the
// data generator's table): 1 for 北京 上海 广州 深圳, 2 for the new first
// tier, 3 and 4 below. A city not listed has no tier.
func DefaultCityTiers() map[string]int {
	tiers := map[string]int{}
	for tier, names := range [][]string{
		{"北京", "上海", "广州", "深圳"},
		{"成都", "重庆", "杭州", "武汉", "西安", "苏州", "南京", "天津", "长沙", "郑州", "东莞", "青岛", "沈阳", "宁波", "昆明"},
		{"合肥", "福州", "济南", "哈尔滨", "长春", "石家庄", "南昌", "南宁", "贵阳", "太原", "厦门", "无锡", "佛山", "大连"},
		{"洛阳", "赣州", "绵阳", "潍坊", "岳阳", "襄阳", "桂林", "邯郸", "盐城"},
	} {
		for _, n := range names {
			tiers[n] = tier + 1
		}
	}
	return tiers
}

// category is one value of a categorical trait (or an order channel) and
// the persons who have it.
type category struct {
	value   any // string, or int for city_tier
	members *roaring.Bitmap
}

// traitSnapshot is the in-memory trait index: immutable once published,
// shared by concurrent evaluations; a refresh builds a patched copy.
type traitSnapshot struct {
	loaded     time.Time
	universe   *roaring.Bitmap       // every canonical person
	numeric    map[string]*bsi       // by traitSpec.column
	categories map[string][]category // city, province, city_tier
	channels   []category            // persons with a valid order in each channel
}

// known is the persons who have a value of the trait.
func (s *traitSnapshot) known(trait string) *roaring.Bitmap {
	spec := traitSpecs[trait]
	if !spec.categorical {
		return s.numeric[spec.column].exists
	}
	bms := make([]*roaring.Bitmap, 0, len(s.categories[trait]))
	for _, c := range s.categories[trait] {
		bms = append(bms, c.members)
	}
	return roaring.FastOr(bms...)
}

// categoryOf maps the candidates to their value of a categorical trait.
func (s *traitSnapshot) categoryOf(trait string, cands *roaring.Bitmap) map[uint32]any {
	out := map[uint32]any{}
	for _, c := range s.categories[trait] {
		roaring.And(c.members, cands).Iterate(func(id uint32) bool {
			out[id] = c.value
			return true
		})
	}
	return out
}

// traitRows are per-person trait values read from ClickHouse, by
// ascending person id.
type traitRows struct {
	ids                 []uint32
	ltv, orders, lastMS []int64
	cities, provinces   []string
}

func (r *traitRows) Len() int           { return len(r.ids) }
func (r *traitRows) Less(i, j int) bool { return r.ids[i] < r.ids[j] }
func (r *traitRows) Swap(i, j int) {
	r.ids[i], r.ids[j] = r.ids[j], r.ids[i]
	r.ltv[i], r.ltv[j] = r.ltv[j], r.ltv[i]
	r.orders[i], r.orders[j] = r.orders[j], r.orders[i]
	r.lastMS[i], r.lastMS[j] = r.lastMS[j], r.lastMS[i]
	r.cities[i], r.cities[j] = r.cities[j], r.cities[i]
	r.provinces[i], r.provinces[j] = r.provinces[j], r.provinces[i]
}

// traitsSQL computes the traits per canonical person from orders, with
// person_traits' definitions (lifetime_value, orders, average_order_value,
// last_order_at; TestTraitsMatchPersonTraits holds them equal) without the
// view's scan of every event. City and province are those of the latest
// order that names one. Rows come back as one row of arrays, which
// clickhouse-go decodes column-wise.
func (e *Engine) traitsSQL(refresh bool) string {
	orders, persons := "", ""
	if refresh {
		orders = " AND person_id IN (SELECT person_id FROM " + e.db.Table("persons") + " FINAL WHERE canonical IN {persons:Array(UInt32)})"
		persons = " WHERE canonical IN {persons:Array(UInt32)}"
	}
	return `SELECT groupArray(c), groupArray(ltv), groupArray(n), groupArray(last), groupArray(city), groupArray(province) FROM (
	SELECT p.canonical AS c,
		toInt64(sumIf(o.amount, o.valid) * 100) AS ltv,
		toInt64(countIf(o.valid)) AS n,
		if(n > 0, toUnixTimestamp64Milli(maxIf(o.ordered_at, o.valid)), 0) AS last,
		argMaxIf(o.city, o.ordered_at, o.city != '') AS city,
		argMaxIf(o.province, o.ordered_at, o.province != '') AS province
	FROM (SELECT person_id, amount, ordered_at, toString(city) AS city, toString(province) AS province, ` + validOrder + ` AS valid
		FROM ` + e.db.Table("orders") + ` FINAL WHERE person_id != 0` + orders + `) AS o
	INNER JOIN (SELECT person_id, canonical FROM ` + e.db.Table("persons") + ` FINAL` + persons + `) AS p ON p.person_id = o.person_id
	GROUP BY c)`
}

func (e *Engine) channelsSQL(refresh bool) string {
	orders, persons := "", ""
	if refresh {
		orders = " AND person_id IN (SELECT person_id FROM " + e.db.Table("persons") + " FINAL WHERE canonical IN {persons:Array(UInt32)})"
		persons = " WHERE canonical IN {persons:Array(UInt32)}"
	}
	return `SELECT o.channel, toString(groupBitmapState(p.canonical))
	FROM (SELECT person_id, toString(channel) AS channel, ` + validOrder + ` AS valid
		FROM ` + e.db.Table("orders") + ` FINAL WHERE person_id != 0` + orders + `) AS o
	INNER JOIN (SELECT person_id, canonical FROM ` + e.db.Table("persons") + ` FINAL` + persons + `) AS p ON p.person_id = o.person_id
	WHERE o.valid GROUP BY o.channel`
}

// readTraits reads trait rows and channel bitmaps: of every person, or of
// the canonical persons given.
func (e *Engine) readTraits(ctx context.Context, persons []uint32) (*traitRows, map[string]*roaring.Bitmap, error) {
	var args []any
	if persons != nil {
		args = append(args, clickhouse.Named(paramPersons, persons))
	}
	var channels map[string]*roaring.Bitmap
	var cerr error
	var wg sync.WaitGroup
	wg.Go(func() { channels, cerr = e.readChannels(ctx, args) })
	r := &traitRows{}
	err := e.db.Conn.QueryRow(ctx, e.traitsSQL(persons != nil), args...).
		Scan(&r.ids, &r.ltv, &r.orders, &r.lastMS, &r.cities, &r.provinces)
	wg.Wait()
	if err != nil {
		return nil, nil, fmt.Errorf("segments: read traits: %w", err)
	}
	if cerr != nil {
		return nil, nil, cerr
	}
	if !sort.IsSorted(r) {
		sort.Sort(r)
	}
	return r, channels, nil
}

func (e *Engine) readChannels(ctx context.Context, args []any) (map[string]*roaring.Bitmap, error) {
	rows, err := e.db.Conn.Query(ctx, e.channelsSQL(len(args) > 0), args...)
	if err != nil {
		return nil, fmt.Errorf("segments: read channels: %w", err)
	}
	defer rows.Close()
	channels := map[string]*roaring.Bitmap{}
	for rows.Next() {
		var ch string
		var state []byte
		if err := rows.Scan(&ch, &state); err != nil {
			return nil, err
		}
		if channels[ch], err = DecodeGroupBitmap(state); err != nil {
			return nil, fmt.Errorf("segments: channel %s: %w", ch, err)
		}
	}
	return channels, rows.Err()
}

// readUniverse reads the canonical persons: all, or those of the persons
// given (raw or canonical ids).
func (e *Engine) readUniverse(ctx context.Context, persons []uint32) (*roaring.Bitmap, error) {
	q := "SELECT toString(groupBitmapState(canonical)) FROM " + e.db.Table("persons") + " FINAL"
	var args []any
	if persons != nil {
		q += " WHERE person_id IN {persons:Array(UInt32)}"
		args = append(args, clickhouse.Named(paramPersons, persons))
	}
	var state []byte
	if err := e.db.Conn.QueryRow(ctx, q, args...).Scan(&state); err != nil {
		return nil, fmt.Errorf("segments: read persons: %w", err)
	}
	return DecodeGroupBitmap(state)
}

// numericColumns are the numeric indexes built from trait rows: the
// persons indexed and their values.
func numericColumns(r *traitRows) map[string]func() ([]uint32, []int64) {
	withOrders := func(value func(i int) int64) func() ([]uint32, []int64) {
		return func() ([]uint32, []int64) {
			var ids []uint32
			var vals []int64
			for i, id := range r.ids {
				if r.orders[i] > 0 {
					ids, vals = append(ids, id), append(vals, value(i))
				}
			}
			return ids, vals
		}
	}
	return map[string]func() ([]uint32, []int64){
		"ltv":          func() ([]uint32, []int64) { return r.ids, r.ltv },
		"orders_total": func() ([]uint32, []int64) { return r.ids, r.orders },
		"aov": withOrders(func(i int) int64 {
			return int64(math.RoundToEven(float64(r.ltv[i]) / float64(r.orders[i])))
		}),
		"last_order_at": withOrders(func(i int) int64 { return r.lastMS[i] }),
	}
}

// buildSnapshot indexes a full read.
func buildSnapshot(universe *roaring.Bitmap, r *traitRows, channels map[string]*roaring.Bitmap, tiers map[string]int, now time.Time) *traitSnapshot {
	s := &traitSnapshot{loaded: now, universe: universe, numeric: map[string]*bsi{}, categories: map[string][]category{}}
	for name, col := range numericColumns(r) {
		ids, vals := col()
		s.numeric[name] = buildBSI(ids, vals)
	}
	s.fixZeroDefaults()
	s.categories["city"] = categoriesOf(r.ids, r.cities)
	s.categories["province"] = categoriesOf(r.ids, r.provinces)
	s.categories["city_tier"] = tiersOf(s.categories["city"], tiers)
	s.channels = channelList(channels)
	return s
}

// fixZeroDefaults makes every person in the universe known for the
// traits that default to zero.
func (s *traitSnapshot) fixZeroDefaults() {
	for _, spec := range traitSpecs {
		if spec.zeroDefault {
			idx := *s.numeric[spec.column]
			idx.exists = s.universe
			s.numeric[spec.column] = &idx
		}
	}
}

// patch returns a copy of s for a refresh: persons in clear lose their
// values; the rows (of the refreshed canonical persons) give new ones.
func (s *traitSnapshot) patch(universe, clear *roaring.Bitmap, r *traitRows, channels map[string]*roaring.Bitmap, tiers map[string]int) *traitSnapshot {
	out := &traitSnapshot{loaded: s.loaded, universe: universe, numeric: map[string]*bsi{}, categories: map[string][]category{}}
	for name, col := range numericColumns(r) {
		ids, vals := col()
		out.numeric[name] = s.numeric[name].patch(clear, ids, vals)
	}
	out.fixZeroDefaults()
	out.categories["city"] = patchCategories(s.categories["city"], clear, categoriesOf(r.ids, r.cities))
	out.categories["province"] = patchCategories(s.categories["province"], clear, categoriesOf(r.ids, r.provinces))
	out.categories["city_tier"] = tiersOf(out.categories["city"], tiers)
	out.channels = patchCategories(s.channels, clear, channelList(channels))
	return out
}

// categoriesOf groups ids (ascending) by value; "" is no value.
func categoriesOf(ids []uint32, values []string) []category {
	byValue := map[string][]uint32{}
	for i, v := range values {
		if v != "" {
			byValue[v] = append(byValue[v], ids[i])
		}
	}
	out := make([]category, 0, len(byValue))
	for v, members := range byValue {
		bm := roaring.New()
		bm.AddMany(members)
		bm.RunOptimize()
		out = append(out, category{value: v, members: bm})
	}
	sortCategories(out)
	return out
}

func tiersOf(cities []category, tiers map[string]int) []category {
	byTier := map[int][]*roaring.Bitmap{}
	for _, c := range cities {
		if t := tiers[c.value.(string)]; t > 0 {
			byTier[t] = append(byTier[t], c.members)
		}
	}
	out := make([]category, 0, len(byTier))
	for t, bms := range byTier {
		out = append(out, category{value: t, members: roaring.FastOr(bms...)})
	}
	sortCategories(out)
	return out
}

func channelList(m map[string]*roaring.Bitmap) []category {
	out := make([]category, 0, len(m))
	for ch, bm := range m {
		out = append(out, category{value: ch, members: bm})
	}
	sortCategories(out)
	return out
}

// patchCategories removes clear from every value and adds the fresh
// members; values left empty disappear. Unchanged bitmaps are shared.
func patchCategories(old []category, clear *roaring.Bitmap, fresh []category) []category {
	add := map[any]*roaring.Bitmap{}
	for _, c := range fresh {
		add[c.value] = c.members
	}
	var out []category
	for _, c := range old {
		bm := c.members
		if bm.Intersects(clear) {
			bm = roaring.AndNot(bm, clear)
		}
		if a := add[c.value]; a != nil {
			bm = roaring.Or(bm, a)
			delete(add, c.value)
		}
		if !bm.IsEmpty() {
			out = append(out, category{value: c.value, members: bm})
		}
	}
	for v, bm := range add {
		out = append(out, category{value: v, members: bm})
	}
	sortCategories(out)
	return out
}

func sortCategories(cs []category) {
	slices.SortFunc(cs, func(a, b category) int {
		switch av := a.value.(type) {
		case int:
			return cmp.Compare(av, b.value.(int))
		default:
			return cmp.Compare(av.(string), b.value.(string))
		}
	})
}
