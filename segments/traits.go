package segments

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
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
	merges     *merges               // merged persons and their canonical persons (merges.go)
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
// ascending person id (sortByID).
type traitRows struct {
	ids                 []uint32
	ltv, orders, lastMS []int64
	cities, provinces   []string
}

// traitsSQL computes the traits per person id from orders, with
// person_traits' definitions (lifetime_value, orders, average_order_value,
// last_order_at; TestTraitsMatchPersonTraits holds them equal) without the
// view's scan of every event. City and province are those of the latest
// order that names one, with that order's time (cityAt, provinceAt), so
// that the rows of merged persons can be folded into their canonical
// person in Go (rawTraits.canonical): no join with persons, which was a
// third of the query. Rows come back as one row of groupArray states, one
// per column: clickhouse-go scans an Array column element by element
// through reflection (0.6 s for a million persons); the states decode in
// milliseconds.
func (e *Engine) traitsSQL(refresh bool) string {
	return `SELECT toString(groupArrayState(person_id)), toString(groupArrayState(ltv)), toString(groupArrayState(n)),
		toString(groupArrayState(last)), toString(groupArrayState(city)), toString(groupArrayState(city_at)),
		toString(groupArrayState(province)), toString(groupArrayState(province_at)) FROM (
	SELECT person_id,
		toInt64(sumIf(amount, valid) * 100) AS ltv,
		toInt64(countIf(valid)) AS n,
		if(n > 0, toUnixTimestamp64Milli(maxIf(ordered_at, valid)), 0) AS last,
		argMaxIf(o_city, ordered_at, o_city != '') AS city,
		toUnixTimestamp64Milli(maxIf(ordered_at, o_city != '')) AS city_at,
		argMaxIf(o_province, ordered_at, o_province != '') AS province,
		toUnixTimestamp64Milli(maxIf(ordered_at, o_province != '')) AS province_at
	FROM (SELECT person_id, amount, ordered_at, toString(city) AS o_city, toString(province) AS o_province, ` + schema.ValidOrder + ` AS valid
		FROM ` + e.db.Table("orders") + ` FINAL WHERE person_id != 0` + e.ofPersons(refresh) + `)
	GROUP BY person_id)`
}

// channelsSQL: per channel, the person ids with a valid order in it.
func (e *Engine) channelsSQL(refresh bool) string {
	return `SELECT toString(channel), toString(groupBitmapState(person_id)) FROM ` + e.db.Table("orders") + ` FINAL
	WHERE person_id != 0 AND ` + schema.ValidOrder + e.ofPersons(refresh) + ` GROUP BY channel`
}

// mergesSQL: the persons merged into another, and that canonical person.
func (e *Engine) mergesSQL(refresh bool) string {
	return `SELECT toString(groupArrayState(person_id)), toString(groupArrayState(canonical)) FROM ` + mergedMapping(e.db.Table("persons"), refresh)
}

// ofPersons is the condition on person_id for the refresh variant: the
// persons of the canonical persons {persons}.
func (e *Engine) ofPersons(refresh bool) string {
	if !refresh {
		return ""
	}
	return " AND " + personsOf(e.db.Table("persons"))
}

// rawTraits are trait rows per person id (not yet canonical), channel
// bitmaps of person ids, and the merges that fold them.
type rawTraits struct {
	rows             *traitRows
	cityAt, provAt   []int64 // time of the order that gave city, province
	channels         map[string]*roaring.Bitmap
	mergedIDs, intos []uint32 // person mergedIDs[i] belongs to canonical intos[i]
}

// readTraits reads trait rows, channel bitmaps and merges of canonical persons:
// of every person (persons nil), or of the canonical persons given.
// universe is those canonical persons; a person id neither in it nor
// merged into it (a record of a person that does not exist) is left out.
func (e *Engine) readTraits(ctx context.Context, persons []uint32, universe *roaring.Bitmap) (*traitRows, map[string]*roaring.Bitmap, map[uint32]uint32, error) {
	raw, err := e.readRawTraits(ctx, persons)
	if err != nil {
		return nil, nil, nil, err
	}
	rows, channels, into := raw.canonical(universe)
	return rows, channels, into, nil
}

// readRawTraits runs the three queries of the trait index in parallel.
func (e *Engine) readRawTraits(ctx context.Context, persons []uint32) (*rawTraits, error) {
	var args []any
	if persons != nil {
		args = append(args, clickhouse.Named(paramPersons, persons))
	}
	raw := &rawTraits{}
	var cerr, merr error
	var wg sync.WaitGroup
	wg.Go(func() { raw.channels, cerr = e.readChannels(ctx, args) })
	wg.Go(func() { raw.mergedIDs, raw.intos, merr = e.queryMerges(ctx, args) })
	var states [8][]byte
	err := e.db.Conn.QueryRow(readContext(ctx), e.traitsSQL(persons != nil), args...).
		Scan(&states[0], &states[1], &states[2], &states[3], &states[4], &states[5], &states[6], &states[7])
	if err == nil {
		err = raw.decode(states)
	}
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("segments: read traits: %w", err)
	}
	if merr != nil {
		return nil, merr
	}
	return raw, cerr
}

// decode reads traitsSQL's groupArray states (ids, ltv, orders, last,
// city, city_at, province, province_at); the columns must be of one
// length.
func (raw *rawTraits) decode(states [8][]byte) error {
	r := &traitRows{}
	var err error
	if r.ids, err = decodeArrayState(states[0], 4, binary.LittleEndian.Uint32); err != nil {
		return err
	}
	int64s := func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }
	for i, dst := range []*[]int64{&r.ltv, &r.orders, &r.lastMS, &raw.cityAt, &raw.provAt} {
		if *dst, err = decodeArrayState(states[[]int{1, 2, 3, 5, 7}[i]], 8, int64s); err != nil {
			return err
		}
	}
	intern := map[string]string{}
	if r.cities, err = decodeStringArrayState(states[4], intern); err != nil {
		return err
	}
	if r.provinces, err = decodeStringArrayState(states[6], intern); err != nil {
		return err
	}
	for _, n := range []int{len(r.ltv), len(r.orders), len(r.lastMS), len(r.cities), len(raw.cityAt), len(r.provinces), len(raw.provAt)} {
		if n != len(r.ids) {
			return fmt.Errorf("%w: trait columns of %d and %d values", errState, len(r.ids), n)
		}
	}
	raw.rows = r
	// ORDER BY person_id in ClickHouse costs a quarter of the query;
	// sortByID takes milliseconds.
	sortByID(r, &raw.cityAt, &raw.provAt)
	return nil
}

// sortByID orders r's rows, and the parallel columns more, by ascending
// id. Ids are unique and dense, so one pass over a slot per id up to the
// largest places them (a comparison sort swapping eight columns takes
// ten times longer).
func sortByID(r *traitRows, more ...*[]int64) {
	if sort.SliceIsSorted(r.ids, func(i, j int) bool { return r.ids[i] < r.ids[j] }) {
		return
	}
	slot := make([]int32, slices.Max(r.ids)+1)
	for i, id := range r.ids {
		slot[id] = int32(i) + 1
	}
	perm := make([]int32, 0, len(r.ids))
	for _, s := range slot {
		if s > 0 {
			perm = append(perm, s-1)
		}
	}
	if len(perm) != len(r.ids) {
		panic("BUG: sortByID: ids are not unique")
	}
	r.ids = permute(r.ids, perm)
	r.ltv, r.orders, r.lastMS = permute(r.ltv, perm), permute(r.orders, perm), permute(r.lastMS, perm)
	r.cities, r.provinces = permute(r.cities, perm), permute(r.provinces, perm)
	for _, m := range more {
		*m = permute(*m, perm)
	}
}

func permute[T any](xs []T, perm []int32) []T {
	out := make([]T, len(perm))
	for i, p := range perm {
		out[i] = xs[p]
	}
	return out
}

// canonical folds the rows and channel bitmaps of merged persons into
// their canonical persons (sums of ltv and orders, the latest last order,
// city and province of the latest order naming one) and leaves out person
// ids that are neither in universe nor merged into it. The rows come out
// ascending by canonical id; into maps each merged person folded to its
// canonical person.
func (raw *rawTraits) canonical(universe *roaring.Bitmap) (rows *traitRows, channels map[string]*roaring.Bitmap, into map[uint32]uint32) {
	into = make(map[uint32]uint32, len(raw.mergedIDs))
	merged := roaring.New()
	for i, id := range raw.mergedIDs {
		if universe.Contains(raw.intos[i]) {
			into[id] = raw.intos[i]
			merged.Add(id)
		}
	}
	in := raw.rows
	n := len(in.ids) + len(raw.mergedIDs) // rows kept, and canonical persons without a row of their own
	out := &traitRows{ids: make([]uint32, 0, n), ltv: make([]int64, 0, n), orders: make([]int64, 0, n), lastMS: make([]int64, 0, n),
		cities: make([]string, 0, n), provinces: make([]string, 0, n)}
	cityAt, provAt := make([]int64, 0, n), make([]int64, 0, n)
	type fold struct {
		canonical uint32
		row       int
	}
	var folds []fold
	for i, id := range in.ids {
		switch c, ok := into[id]; {
		case ok:
			folds = append(folds, fold{c, i})
		case universe.Contains(id):
			out.ids, out.ltv, out.orders, out.lastMS = append(out.ids, id), append(out.ltv, in.ltv[i]), append(out.orders, in.orders[i]), append(out.lastMS, in.lastMS[i])
			out.cities, out.provinces = append(out.cities, in.cities[i]), append(out.provinces, in.provinces[i])
			cityAt, provAt = append(cityAt, raw.cityAt[i]), append(provAt, raw.provAt[i])
		}
	}
	// A canonical person absorbing merged ones may have no orders of its
	// own: give it an empty row, then fold.
	var missing []uint32
	for _, f := range folds {
		if _, found := slices.BinarySearch(out.ids, f.canonical); !found {
			missing = append(missing, f.canonical)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		for _, id := range missing {
			out.ids, out.ltv, out.orders, out.lastMS = append(out.ids, id), append(out.ltv, 0), append(out.orders, 0), append(out.lastMS, 0)
			out.cities, out.provinces = append(out.cities, ""), append(out.provinces, "")
			cityAt, provAt = append(cityAt, 0), append(provAt, 0)
		}
		sortByID(out, &cityAt, &provAt)
	}
	for _, f := range folds {
		j, _ := slices.BinarySearch(out.ids, f.canonical)
		i := f.row
		out.ltv[j] += in.ltv[i]
		out.orders[j] += in.orders[i]
		out.lastMS[j] = max(out.lastMS[j], in.lastMS[i])
		if in.cities[i] != "" && raw.cityAt[i] > cityAt[j] {
			out.cities[j], cityAt[j] = in.cities[i], raw.cityAt[i]
		}
		if in.provinces[i] != "" && raw.provAt[i] > provAt[j] {
			out.provinces[j], provAt[j] = in.provinces[i], raw.provAt[i]
		}
	}
	channels = make(map[string]*roaring.Bitmap, len(raw.channels))
	for ch, bm := range raw.channels {
		c := roaring.And(bm, universe)
		merged.Iterate(func(id uint32) bool {
			if bm.Contains(id) {
				c.Add(into[id])
			}
			return true
		})
		channels[ch] = c
	}
	return out, channels, into
}

func (e *Engine) readChannels(ctx context.Context, args []any) (map[string]*roaring.Bitmap, error) {
	rows, err := e.db.Conn.Query(readContext(ctx), e.channelsSQL(len(args) > 0), args...)
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
	where := ""
	var args []any
	if persons != nil {
		where = "person_id IN {" + paramPersons + ":Array(UInt32)}"
		args = append(args, clickhouse.Named(paramPersons, persons))
	}
	q := "SELECT toString(groupBitmapState(canonical)) FROM " + schema.Canonical(e.db.Table("persons"), where)
	var state []byte
	if err := e.db.Conn.QueryRow(readContext(ctx), q, args...).Scan(&state); err != nil {
		return nil, fmt.Errorf("segments: read persons: %w", err)
	}
	return DecodeGroupBitmap(state)
}

// readCanonicalOf reads the canonical persons of persons and, in the same
// read, those of subset (some of persons).
func (e *Engine) readCanonicalOf(ctx context.Context, persons, subset []uint32) (all, sub *roaring.Bitmap, err error) {
	q := "SELECT toString(groupBitmapState(canonical)), toString(groupBitmapStateIf(canonical, person_id IN {subset:Array(UInt32)})) FROM " +
		schema.Canonical(e.db.Table("persons"), "person_id IN {"+paramPersons+":Array(UInt32)}")
	var a, b []byte
	if err := e.db.Conn.QueryRow(readContext(ctx), q, clickhouse.Named(paramPersons, persons), clickhouse.Named("subset", subset)).Scan(&a, &b); err != nil {
		return nil, nil, fmt.Errorf("segments: read persons: %w", err)
	}
	if all, err = DecodeGroupBitmap(a); err != nil {
		return nil, nil, err
	}
	sub, err = DecodeGroupBitmap(b)
	return all, sub, err
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

// buildSnapshot indexes a full read; into is its merges.
func buildSnapshot(universe *roaring.Bitmap, r *traitRows, channels map[string]*roaring.Bitmap, into map[uint32]uint32, tiers map[string]int, now time.Time) *traitSnapshot {
	s := &traitSnapshot{loaded: now, universe: universe, numeric: map[string]*bsi{}, categories: map[string][]category{}, merges: newMerges(into)}
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
// values and merges; the rows and merges (into) of the refreshed
// canonical persons give new ones.
func (s *traitSnapshot) patch(universe, clear *roaring.Bitmap, r *traitRows, channels map[string]*roaring.Bitmap, into map[uint32]uint32, tiers map[string]int) *traitSnapshot {
	out := &traitSnapshot{loaded: s.loaded, universe: universe, numeric: map[string]*bsi{}, categories: map[string][]category{},
		merges: s.merges.patch(clear, into)}
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
