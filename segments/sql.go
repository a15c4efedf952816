package segments

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/schema"
)

// The SQL of behaviour leaves. The general shape is
//
//	SELECT toString(groupBitmapState(c)) FROM (
//	    SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
//	    FROM (<fact: per raw person_id, from one table>) AS f
//	    LEFT JOIN <schema.Canonical(persons, "person_id != canonical")> AS p
//	        ON p.person_id = f.person_id
//	    [GROUP BY c HAVING <condition on the canonical person's aggregate>])
//
// so facts of merged persons count for their canonical person. Only the
// merged persons (2% here) are joined, not every person: the hash table is
// fifty times smaller (a chat leaf over a million persons takes 20 ms of
// CPU instead of 67). Existence and count leaves take a one-level shape
// instead (renderRows); an existence leaf returns raw person ids, folded
// with the trait snapshot's merges (merges.go). Ids that are no person at all
// (records of a person id the persons table does not have) come through
// as themselves; the engine intersects every leaf with the universe of
// canonical persons. User values travel as query parameters ({p0:String},
// ...); the text holds only table names and fixed constants. The other
// parameters are the engine's: {now:Int64} (milliseconds, the
// evaluation's clock; not part of a leaf's key, so a cached leaf is
// reused as time passes, up to its maximum age) and, in the refresh variant,
// {persons:Array(UInt32)}: the canonical persons to recompute.

// personKnown is the condition of a fact's rows on a resolved person
// (person id 0: a record not resolved yet).
const personKnown = "person_id != 0"

// Fixed parameter names.
const (
	paramNow     = "now"
	paramPersons = "persons"
)

// param is a query parameter of a leaf.
type param struct {
	Name  string
	Type  string
	Value any
}

// sqlLeaf is a behaviour leaf computed by ClickHouse: the canonical
// persons whose records satisfy it. It is immutable.
type sqlLeaf struct {
	desc    string
	kinds   []string
	query   string // all persons
	refresh string // only {persons:Array(UInt32)}
	params  []param
	key     string
	// raw: query returns the raw person ids of the leaf's rows; the
	// engine folds merged ones into their canonical persons (merges.go).
	raw bool
	// counted, when not nil, is the leaf's counted form, which the engine
	// runs instead of query on one node (counts.go).
	counted *countedForm
}

func (l *sqlLeaf) String() string  { return l.desc }
func (l *sqlLeaf) Kinds() []string { return l.kinds }

// LeafSQL returns the ClickHouse query of a behaviour leaf and its
// parameters (without {now:Int64}, the evaluation's clock in Unix
// milliseconds), to explain a plan; ok is false for leaves answered in
// memory.
func LeafSQL(l Leaf) (query string, params map[string]any, ok bool) {
	sl, ok := l.(*sqlLeaf)
	if !ok {
		return "", nil, false
	}
	params = map[string]any{}
	for _, p := range sl.params {
		params[p.Name] = p.Value
	}
	return sl.query, params, true
}

// args returns the query's arguments: the leaf's parameters, now (Unix
// milliseconds) and, when persons is not nil, the persons to recompute.
func (l *sqlLeaf) args(nowMS int64, persons []uint32) []any {
	out := make([]any, 0, len(l.params)+2)
	for _, p := range l.params {
		out = append(out, clickhouse.Named(p.Name, p.Value))
	}
	out = append(out, clickhouse.Named(paramNow, nowMS))
	if persons != nil {
		out = append(out, clickhouse.Named(paramPersons, persons))
	}
	return out
}

// golden renders the leaf for golden files: both queries and the
// parameters, one per line.
func (l *sqlLeaf) golden() string {
	var b strings.Builder
	b.WriteString("-- ")
	b.WriteString(l.desc)
	b.WriteString("\n-- kinds: ")
	b.WriteString(strings.Join(l.kinds, ", "))
	b.WriteString("\n")
	for _, p := range l.params {
		v := fmt.Sprint(p.Value)
		if s, ok := p.Value.(string); ok {
			v = strconv.Quote(s)
		}
		fmt.Fprintf(&b, "-- {%s:%s} = %s\n", p.Name, p.Type, v)
	}
	if l.raw {
		b.WriteString("-- raw person ids, folded into canonical persons by the engine\n")
	}
	b.WriteString(l.query)
	if l.counted != nil {
		fmt.Fprintf(&b, ";\n\n-- counted by the engine on one node: persons with %d to %d rows (255: no upper bound)\n", l.counted.lo, l.counted.hi)
		b.WriteString(l.counted.query)
	}
	b.WriteString(";\n\n-- refresh\n")
	b.WriteString(l.refresh)
	b.WriteString(";\n")
	return b.String()
}

// fact is the inner, per-raw-person query of a leaf.
type fact struct {
	table string   // qualified table, with FINAL where needed
	cols  string   // select list after person_id (", count() AS v")
	where []string // conditions
	group bool     // GROUP BY person_id
	union *fact    // UNION ALL with another fact of the same columns
}

// leafSpec describes a leaf before it is rendered.
type leafSpec struct {
	desc   string
	kinds  []string
	fact   *fact
	having string // on the canonical person's group; "" for existence
	// rowsHaving is having written over the fact's rows grouped by
	// canonical person ("count() >= 2" for "sum(f.v) >= 2" over per-person
	// counts), when there is such a form: the full query then takes the
	// one-level shape (renderRows).
	rowsHaving string
	// count is the range of rows a person must have, for a spec with
	// rowsHaving (nil: at least one).
	count *intRange
	// query, when set, is the full query, written by the leaf's
	// constructor (an existence leaf read by day: dayQuery); it returns
	// raw person ids. The refresh variant is rendered from fact.
	query string
}

// sqlGen renders leaf specs to SQL with parameters. A leaf's parameters
// are numbered in the order they are added, so the same rule always
// renders the same text (the cache key and golden files rely on it).
type sqlGen struct {
	table  func(string) string
	params []param
}

// param adds a parameter and returns its placeholder.
func (g *sqlGen) param(typ string, v any) string {
	name := fmt.Sprintf("p%d", len(g.params))
	g.params = append(g.params, param{Name: name, Type: typ, Value: v})
	return "{" + name + ":" + typ + "}"
}

// window is the condition "col within the last days days"; nothing for 0.
func (g *sqlGen) window(col string, days int) []string {
	if days <= 0 {
		return nil
	}
	return []string{col + " >= " + g.since(days)}
}

// since is the start of a window of days days: the evaluation's clock
// less days days.
func (g *sqlGen) since(days int) string {
	return "fromUnixTimestamp64Milli({" + paramNow + ":Int64}, 'UTC') - toIntervalDay(" + g.param("UInt32", uint32(days)) + ")"
}

// leaf renders a spec. It consumes the generator's parameters.
func (g *sqlGen) leaf(s leafSpec) *sqlLeaf {
	l := &sqlLeaf{desc: s.desc, kinds: s.kinds, params: g.params}
	l.query = g.render(s, false)
	l.refresh = g.render(s, true)
	l.raw = rowsShape(s) && s.rowsHaving == ""
	if lo, hi, ok := countedRange(s.count); ok && rowsShape(s) && s.query == "" && (s.rowsHaving == "") == (s.count == nil) {
		l.counted = &countedForm{query: g.renderCounted(s), lo: lo, hi: hi}
	}
	var key strings.Builder
	key.WriteString(l.query)
	for _, p := range l.params {
		fmt.Fprintf(&key, "\x00%s=%#v", p.Name, p.Value) // Go syntax: unambiguous for lists
	}
	l.key = key.String()
	g.params = nil
	return l
}

// rowsShape: the full query of s takes the one-level shape (renderRows).
func rowsShape(s leafSpec) bool {
	return s.fact.union == nil && (s.having == "" && s.fact.cols == "" || s.rowsHaving != "")
}

func (g *sqlGen) render(s leafSpec, refresh bool) string {
	if !refresh && s.query != "" {
		return s.query
	}
	if !refresh && rowsShape(s) {
		return g.renderRows(s)
	}
	var b strings.Builder
	b.WriteString("SELECT toString(groupBitmapState(c)) FROM (\n\tSELECT if(p.canonical = 0, f.person_id, p.canonical) AS c\n\tFROM (")
	g.renderFact(&b, s.fact, refresh)
	b.WriteString(") AS f\n\tLEFT JOIN ")
	b.WriteString(mergedMapping(g.table("persons"), refresh))
	b.WriteString(" AS p ON p.person_id = f.person_id")
	return closeLeaf(&b, s.having)
}

// closeLeaf ends a leaf's query: the canonical persons' groups that
// satisfy having (all of them when it is ""), then the bitmap.
func closeLeaf(b *strings.Builder, having string) string {
	if having != "" {
		b.WriteString("\n\tGROUP BY c HAVING ")
		b.WriteString(having)
	}
	b.WriteString("\n)")
	return b.String()
}

// renderRows renders the full query of an existence leaf (no HAVING, no
// aggregate in its fact) or of a leaf with rowsHaving in one level, with
// no GROUP BY person_id and no join (25-35% less time for a count over
// 3.3 million events, 10-15% for an order lines existence leaf than
// grouping per person id and joining the merged persons):
//
//   - an existence leaf is one groupBitmap of its rows' raw person ids,
//     which the engine folds into canonical persons (sqlLeaf.raw);
//   - a count leaf maps each row's person id to its canonical person by
//     transform() over the merged persons, a scalar subquery of
//     schema.Canonical (the merged persons only, but a read of every
//     persons row: 3-6 ms of the engine's CPU at a million persons), then
//     keeps the groups by canonical person that satisfy rowsHaving. The
//     trait snapshot's merges are not sent instead: as query parameters,
//     two arrays of 20,000 merges took 45-290 ms and of 200,000 1.3-2.1 s
//     to arrive (the engine parses them into the query's syntax tree).
//
// On one node the engine runs neither: it counts the rows' person ids
// itself (countedForm, counts.go). The refresh variant, restricted to a
// few persons, keeps the general shape.
func (g *sqlGen) renderRows(s leafSpec) string {
	var b strings.Builder
	rows := *s.fact
	rows.group, rows.cols = false, ""
	if s.rowsHaving == "" {
		b.WriteString("SELECT toString(groupBitmapState(f.person_id)) FROM (")
		g.renderFact(&b, &rows, false)
		b.WriteString(") AS f")
		return b.String()
	}
	b.WriteString("WITH (SELECT (groupArray(person_id), groupArray(canonical)) FROM ")
	b.WriteString(mergedMapping(g.table("persons"), false))
	b.WriteString(") AS merged\n")
	b.WriteString("SELECT toString(groupBitmapState(c)) FROM (\n\tSELECT transform(f.person_id, merged.1, merged.2, f.person_id) AS c\n\tFROM (")
	g.renderFact(&b, &rows, false)
	b.WriteString(") AS f")
	return closeLeaf(&b, s.rowsHaving)
}

// refreshMark stands in a nested subquery's conditions for the refresh
// variant's person filter (nothing in the full query).
const refreshMark = "/*refresh*/"

func (g *sqlGen) personFilter() string { return personsOf(g.table("persons")) }

// mergedMapping is the person → OneID mapping (schema.Canonical) of the
// merged persons only, a few percent of all, over the qualified persons
// table; in the refresh variant only those of the canonical persons
// {persons}.
func mergedMapping(persons string, refresh bool) string {
	where := "person_id != canonical"
	if refresh {
		where += " AND canonical IN {" + paramPersons + ":Array(UInt32)}"
	}
	return schema.Canonical(persons, where)
}

// personsOf is the condition on person_id of the refresh variant: the
// person ids of the canonical persons {persons}, merged ones included.
func personsOf(persons string) string {
	return "person_id IN (SELECT person_id FROM " + schema.Canonical(persons, "canonical IN {"+paramPersons+":Array(UInt32)}") + ")"
}

func (g *sqlGen) renderFact(b *strings.Builder, f *fact, refresh bool) {
	mark := ""
	if refresh {
		mark = " AND " + g.personFilter()
	}
	for ; f != nil; f = f.union {
		b.WriteString("\n\t\tSELECT person_id")
		b.WriteString(f.cols)
		b.WriteString(" FROM ")
		b.WriteString(f.table)
		where := f.where
		if refresh {
			where = append(where[:len(where):len(where)], g.personFilter())
		}
		if len(where) > 0 { // none: a stored list's counted rows (renderCounted)
			b.WriteString("\n\t\tWHERE ")
			b.WriteString(strings.ReplaceAll(strings.Join(where, "\n\t\t\tAND "), refreshMark, mark))
		}
		if f.group {
			b.WriteString("\n\t\tGROUP BY person_id")
		}
		if f.union != nil {
			b.WriteString("\n\t\tUNION ALL")
		}
	}
	b.WriteString("\n\t")
}

// having renders "agg BETWEEN lo AND hi" for an integer range, leaving out
// an unbounded side; "" when both are unbounded.
func (g *sqlGen) having(agg string, r intRange) string {
	var parts []string
	if r.lo != minInt {
		parts = append(parts, agg+" >= "+g.param("Int64", r.lo))
	}
	if r.hi != maxInt {
		parts = append(parts, agg+" <= "+g.param("Int64", r.hi))
	}
	return strings.Join(parts, " AND ")
}

// eventFact is the rows of a source: an event name from the events table,
// or "order" (orders not refunded or cancelled), narrowed by filters and a
// window.
func (g *sqlGen) eventFact(src source, days int, cols string, group bool) *fact {
	if src.event == orderEvent {
		f := &fact{table: g.table("orders") + " FINAL", cols: cols, group: group,
			where: []string{personKnown, schema.ValidOrder}}
		f.where = append(f.where, g.filters(src.filters)...)
		f.where = append(f.where, g.window("ordered_at", days)...)
		return f
	}
	f := &fact{table: g.table("events"), cols: cols, group: group,
		where: []string{"event = " + g.param("String", src.event), personKnown}}
	f.where = append(f.where, g.filters(src.filters)...)
	f.where = append(f.where, g.window("ts", days)...)
	return f
}

// filters renders property filters. Keys are sorted, so the text does not
// depend on the order the marketer wrote them in.
func (g *sqlGen) filters(fs []filter) []string {
	sorted := append([]filter(nil), fs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].key < sorted[j].key })
	var out []string
	for _, f := range sorted {
		out = append(out, g.filter(f))
	}
	return out
}

func (g *sqlGen) filter(f filter) string {
	col := f.column
	if col == "" {
		if f.number != nil {
			col = "JSONExtractFloat(properties, " + g.param("String", f.key) + ")"
		} else {
			col = "JSONExtractString(properties, " + g.param("String", f.key) + ")"
		}
	}
	switch {
	case f.number != nil && f.atLeast: // the completion column is Float32: 0.9 must be its 0.9
		return col + " >= " + g.param("Float32", float32(*f.number))
	case f.number != nil:
		return col + " = " + g.param("Float64", *f.number)
	case len(f.values) == 1:
		return col + " = " + g.param("String", f.values[0])
	default:
		return col + " IN " + g.param("Array(String)", f.values)
	}
}

// The leaves, one constructor per function of the language.

// countLeaf: persons whose count of src rows in the window is in r (r.lo >= 1).
func (g *sqlGen) countLeaf(desc string, src source, days int, r intRange) *sqlLeaf {
	if r.lo <= 1 && r.hi == maxInt {
		return g.existsLeaf(desc, src, days)
	}
	f := g.eventFact(src, days, ", count() AS v", true)
	spec := leafSpec{desc: desc, kinds: src.kinds(), fact: f, having: g.having("sum(f.v)", r), count: &r}
	spec.rowsHaving = strings.ReplaceAll(spec.having, "sum(f.v)", "count()")
	return g.leaf(spec)
}

// existsLeaf: persons with at least one src row in the window.
func (g *sqlGen) existsLeaf(desc string, src source, days int) *sqlLeaf {
	if !byDay(src) {
		f := g.eventFact(src, days, "", true)
		return g.leaf(leafSpec{desc: desc, kinds: src.kinds(), fact: f})
	}
	conds := append([]string{"event = " + g.param("String", src.event)}, g.filters(src.filters)...)
	f := &fact{table: g.table("events"), group: true, where: append([]string{conds[0], personKnown}, conds[1:]...)}
	since := ""
	if days > 0 {
		since = g.since(days)
		f.where = append(f.where, "ts >= "+since)
	}
	return g.leaf(leafSpec{desc: desc, kinds: src.kinds(), fact: f, query: dayQuery(g.table("events"), conds, since)})
}

// byDay: an existence leaf of src can be read by day from the events'
// projection schema.PersonsByDay, whose key (event, topic, keyword, UTC
// day) covers its conditions: an event (not orders) with no filter or
// topic and keyword filters only.
func byDay(src source) bool {
	if src.event == orderEvent {
		return false
	}
	for _, f := range src.filters {
		if f.column != "topic" && f.column != "keyword" || f.number != nil {
			return false
		}
	}
	return true
}

// dayQuery is the full query of an existence leaf over events with
// conditions conds on the projection's key only (event, topic, keyword), in the
// window that starts at the expression since ("" for all time). The
// window's whole UTC days come from the projection schema.PersonsByDay
// (the engine picks it for a query that filters on event, topic and
// toDate(ts) only and aggregates groupBitmapState(person_id)): about one
// row per day instead of every event of the window. The window's first,
// partial day is read from the events by ts, so a window that starts
// mid-day is exact; there is no end (rows stamped after the clock count,
// as in the other leaves). Both bitmaps are OR'ed and person id 0
// (unresolved, which the projection keeps) removed; the ids are raw,
// folded by the engine like any existence leaf (merges.go).
func dayQuery(events string, conds []string, since string) string {
	where := strings.Join(conds, "\n\t\tAND ")
	if since == "" {
		return "SELECT toString(bitmapAndnot(groupBitmapState(person_id), bitmapBuild([toUInt32(0)])))\nFROM " + events +
			"\nWHERE " + strings.ReplaceAll(where, "\n\t\t", "\n\t")
	}
	return "SELECT toString(bitmapAndnot(groupBitmapMergeState(b), bitmapBuild([toUInt32(0)]))) FROM (" +
		"\n\tSELECT groupBitmapState(person_id) AS b FROM " + events +
		"\n\tWHERE " + where +
		"\n\t\tAND toDate(ts) > toDate(" + since + ")" +
		"\n\tUNION ALL" +
		"\n\tSELECT groupBitmapState(person_id) AS b FROM " + events +
		"\n\tWHERE " + where +
		"\n\t\tAND toDate(ts) = toDate(" + since + ")" +
		"\n\t\tAND ts >= " + since +
		"\n)"
}

// recencyLeaf: persons whose first (agg "min") or last ("max") src row is
// a number of whole days ago in r. days is a window that holds every row
// that can matter (recencyWindow), 0 for all time.
func (g *sqlGen) recencyLeaf(desc string, src source, agg string, days int, r intRange) *sqlLeaf {
	f := g.eventFact(src, days, ", "+agg+"("+g.tsOf(src)+") AS v", true)
	since := "intDiv({" + paramNow + ":Int64} - toUnixTimestamp64Milli(" + agg + "(f.v)), 86400000)"
	return g.leaf(leafSpec{desc: desc, kinds: src.kinds(), fact: f, having: g.having(since, r)})
}

func (g *sqlGen) tsOf(src source) string {
	if src.event == orderEvent {
		return "ordered_at"
	}
	return "ts"
}

// spendLeaf: persons whose spend in the window, in fen, is in r (r.lo >= 1).
func (g *sqlGen) spendLeaf(desc string, days int, r intRange) *sqlLeaf {
	f := g.eventFact(source{event: orderEvent}, days, ", toInt64(sum(amount) * 100) AS v", true)
	return g.leaf(leafSpec{desc: desc, kinds: []string{KindOrders}, fact: f, having: g.having("sum(f.v)", r)})
}

// chatLeaf: persons who wrote a WeCom message containing keyword in the
// window (one-to-one chats, the customer's own messages, recalls left out).
func (g *sqlGen) chatLeaf(desc, keyword string, days int) *sqlLeaf {
	f := &fact{table: g.table("wecom_messages_visible"), group: true,
		where: []string{personKnown, "external_userid != ''", "`from` = external_userid",
			"positionUTF8(content, " + g.param("String", keyword) + ") > 0"}}
	f.where = append(f.where, g.window("msgtime", days)...)
	return g.leaf(leafSpec{desc: desc, kinds: []string{KindChats}, fact: f})
}

// tagLeaf: persons who carry the tag (the latest row per person and tag
// is not deleted).
func (g *sqlGen) tagLeaf(desc, tag string) *sqlLeaf {
	f := &fact{table: "(SELECT person_id, deleted FROM " + g.table("person_tags") + " FINAL WHERE tag = " + g.param("String", tag) + ")",
		group: true, where: []string{"deleted = 0", personKnown}}
	return g.leaf(leafSpec{desc: desc, kinds: []string{KindTags}, fact: f})
}

// funnelLeaf: persons who did first and then, within withinDays of it,
// then, both in the window.
func (g *sqlGen) funnelLeaf(desc string, first, then string, withinDays, days int) *sqlLeaf {
	var names []string
	kinds := map[string]bool{}
	for _, s := range []string{first, then} {
		if s == orderEvent {
			kinds[KindOrders] = true
		} else {
			names = append(names, s)
			kinds[KindEvents] = true
		}
	}
	var f *fact
	if len(names) > 0 {
		f = &fact{table: g.table("events"), cols: ", ts, toString(event) AS e",
			where: []string{"event IN " + g.param("Array(String)", names), personKnown}}
		f.where = append(f.where, g.window("ts", days)...)
	}
	if kinds[KindOrders] {
		o := &fact{table: g.table("orders") + " FINAL", cols: ", ordered_at AS ts, 'order' AS e",
			where: []string{personKnown, schema.ValidOrder}}
		o.where = append(o.where, g.window("ordered_at", days)...)
		if f == nil {
			f = o
		} else {
			f.union = o
		}
	}
	window := g.param("UInt64", uint64(withinDays)*86400000)
	having := "windowFunnel(" + window + ")(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = " +
		g.param("String", first) + ", f.e = " + g.param("String", then) + ") = 2"
	return g.leaf(leafSpec{desc: desc, kinds: sortedKinds(kinds), fact: f, having: having})
}

func sortedKinds(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
