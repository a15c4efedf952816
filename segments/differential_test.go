package segments

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"
	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// The differential test: random rules evaluated by the engine and by a
// deliberately naive SQL translation written from docs/segments.md (one
// subquery per leaf returning canonical person ids `c`, combined with
// IN / NOT IN over the universe of canonical persons). It does not use
// the engine's SQL builder.

const diffPersons = 3000

// diffChannels are order channels; diffCities adds a city without a tier
// and orders without a city to the bench cities.
var diffCategories = []struct{ category, sku string }{
	{"低GI大米", "LGI-5KG"}, {"五常大米", "WC-5KG"}, {"高油酸花生油", "PO-5L"}, {"小包装油", "OIL-1L"},
}

// diffPopulation writes a deterministic population of diffPersons persons
// (some merged into others, some without any records), with events,
// orders (some refunded or cancelled, some by a later version), order
// lines, WeCom messages (some recalled, some sent by staff or in group
// chats) and tags (some deleted, some re-added), plus records of
// unresolved (0) and unknown persons that belong to nobody. It returns
// the fixed segments for in_segment.
func diffPopulation(t testing.TB, db *store.DB) fixedSegments {
	r := rand.New(rand.NewPCG(7, 11))
	var persons, events, orders, lines, msgs, tags [][]any
	ms := func(days float64) time.Time { // a past instant with random milliseconds
		return ago(days).Add(-time.Duration(r.IntN(86_400_000)) * time.Millisecond / 24)
	}
	msgN, evN := 0, 0
	for p := uint32(1); p <= diffPersons; p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
		switch {
		case p%37 == 0: // merged into its neighbour
			to := p - 1
			if to%101 == 0 {
				to--
			}
			persons = append(persons, []any{p, to, to, uint64(2)})
		case p%101 == 0: // merged into a person far away, who is itself canonical
			to := p / 2
			if to%37 == 0 || to%101 == 0 {
				to++
			}
			persons = append(persons, []any{p, to, to, uint64(2)})
		}
		if p%23 == 0 {
			continue // no records at all
		}
		// events
		if r.IntN(100) < 45 {
			for range 1 + r.IntN(6) {
				evN++
				topic := []string{"控糖", "控糖", "减脂", "宝宝辅食", ""}[r.IntN(5)]
				comp := []float64{0.5, 0.75, 0.9, 0.95, 1}[r.IntN(5)]
				src := []string{"douyin", "douyin", "app"}[r.IntN(3)]
				props := fmt.Sprintf(`{"topic":%q,"completion_ratio":%g,"video_id":"v%d"}`, topic, comp, 1+r.IntN(4))
				events = append(events, []any{fmt.Sprintf("d%d", evN), "track", "video_complete", ms(r.Float64() * 120), testNow, src, p, props})
			}
		}
		if r.IntN(100) < 30 {
			for range 1 + r.IntN(4) {
				evN++
				topic := []string{"控糖", "减脂", ""}[r.IntN(3)]
				events = append(events, []any{fmt.Sprintf("d%d", evN), "track", "video_play", ms(r.Float64() * 400), testNow, "douyin", p,
					fmt.Sprintf(`{"topic":%q,"video_id":"v%d"}`, topic, 1+r.IntN(4))})
			}
		}
		if r.IntN(100) < 15 {
			evN++
			kw := []string{"低GI大米", "五常大米", "花生油"}[r.IntN(3)]
			events = append(events, []any{fmt.Sprintf("d%d", evN), "track", "search", ms(r.Float64() * 60), testNow, "app", p,
				fmt.Sprintf(`{"keyword":%q}`, kw)})
		}
		if r.IntN(100) < 10 {
			evN++
			events = append(events, []any{fmt.Sprintf("d%d", evN), "page", "home", ms(r.Float64() * 30), testNow, "app", p, `{}`})
		}
		// orders
		if r.IntN(100) < 55 {
			for o := range 1 + r.IntN(4) {
				id := fmt.Sprintf("o%d-%d", p, o)
				ch := benchChannels[r.IntN(len(benchChannels))]
				at := ms(r.Float64() * 500)
				city, province := "", ""
				switch u := r.IntN(20); {
				case u == 0: // no city
				case u == 1:
					city, province = "拉萨", "西藏" // no tier
				default:
					c := benchCities[r.IntN(len(benchCities))]
					city, province = c.city, c.province
				}
				status := []string{"paid", "paid", "completed", "shipped", "created", "cancelled"}[r.IntN(6)]
				amount := decimal.New(int64(1000+r.IntN(60000)), -2)
				nLines := 1 + r.IntN(2)
				cats := r.Perm(len(diffCategories))[:nLines]
				addVersion := func(version uint64, status string) {
					orders = append(orders, []any{ch, id, version, status, at, at.Add(time.Duration(version) * time.Hour), amount, "CNY",
						province, city, p, "test", testNow})
					for i, ci := range cats {
						lineAmount := amount
						if nLines == 2 {
							lineAmount = amount.Div(decimal.NewFromInt(2)).Round(2)
						}
						c := diffCategories[ci]
						lines = append(lines, []any{ch, id, uint16(i + 1), version, c.sku, c.category, c.category,
							decimal.NewFromInt(1), lineAmount, lineAmount, at, p})
					}
				}
				addVersion(1, status)
				if r.IntN(10) == 0 { // refunded later
					addVersion(2, "refunded")
				} else if status == "created" && r.IntN(2) == 0 {
					addVersion(2, "paid")
				}
			}
		}
		// WeCom messages
		if r.IntN(100) < 12 {
			ext := fmt.Sprintf("wm%d", p)
			for range 1 + r.IntN(3) {
				msgN++
				id := fmt.Sprintf("c%d", msgN)
				content := []string{"最近血糖有点高", "请问有优惠吗", "退订", "控糖的米有吗", "谢谢"}[r.IntN(5)]
				at := ms(r.Float64() * 100)
				switch r.IntN(6) {
				case 0: // staff to the customer
					msgs = append(msgs, []any{id, "send", "zhang", []string{ext}, "", at, "text", content, "", ext, "zhang", p, testNow})
				case 1: // group chat
					msgs = append(msgs, []any{id, "send", ext, []string{"zhang", "li"}, "room1", at, "text", content, "", "", "", p, testNow})
				default:
					msgs = append(msgs, []any{id, "send", ext, []string{"zhang"}, "", at, "text", content, "", ext, "zhang", p, testNow})
					if r.IntN(4) == 0 { // recalled
						msgN++
						msgs = append(msgs, []any{fmt.Sprintf("c%d", msgN), "recall", ext, []string{"zhang"}, "", at.Add(time.Minute), "text", "",
							id, ext, "zhang", p, testNow})
					}
				}
			}
		}
		// tags
		if r.IntN(100) < 20 {
			tag := []string{"控糖", "高端用户", "宝妈"}[r.IntN(3)]
			at := ms(10 + r.Float64()*50)
			tags = append(tags, []any{p, tag, "manual", uint8(0), uint8(0), at})
			switch r.IntN(4) {
			case 0: // deleted
				tags = append(tags, []any{p, tag, "manual", uint8(0), uint8(1), at.Add(24 * time.Hour)})
			case 1: // deleted, then added again
				tags = append(tags, []any{p, tag, "manual", uint8(0), uint8(1), at.Add(24 * time.Hour)},
					[]any{p, tag, "wecom", uint8(0), uint8(0), at.Add(48 * time.Hour)})
			}
		}
	}
	// Records of nobody: unresolved (0) and a person id not in persons.
	for _, p := range []uint32{0, diffPersons + 7} {
		for i := range 5 {
			evN++
			events = append(events, []any{fmt.Sprintf("d%d", evN), "track", "video_complete", ago(float64(i) + 0.5), testNow, "douyin", p,
				`{"topic":"控糖","completion_ratio":1,"video_id":"v1"}`})
		}
		amount := decimal.RequireFromString("999")
		id := fmt.Sprintf("x%d", p)
		orders = append(orders, []any{"tmall", id, uint64(1), "paid", ago(3), ago(3), amount, "CNY", "上海", "上海", p, "test", testNow})
		lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "LGI-5KG", "低GI大米", "低GI大米", decimal.NewFromInt(1), amount, amount, ago(3), p})
		msgs = append(msgs, []any{id, "send", "wmx", []string{"zhang"}, "", ago(1), "text", "血糖 退订", "", "wmx", "zhang", p, testNow})
		tags = append(tags, []any{p, "控糖", "manual", uint8(0), uint8(0), ago(1)})
	}
	storetest.Insert(t, db, "persons", personCols, persons...)
	storetest.Insert(t, db, "events", eventCols, events...)
	storetest.Insert(t, db, "orders", orderCols, orders...)
	storetest.Insert(t, db, "order_lines", lineCols, lines...)
	storetest.Insert(t, db, "wecom_messages", "msgid, action, `from`, tolist, roomid, msgtime, msgtype, content, pre_msgid, external_userid, staff_userid, person_id, received_at", msgs...)
	storetest.Insert(t, db, "person_tags", tagCols, tags...)

	segs := fixedSegments{}
	for _, id := range []string{"seg_a", "seg_b"} {
		var ids []uint32
		for range 400 {
			ids = append(ids, 1+uint32(r.IntN(diffPersons+50))) // absorbed and unknown ids too
		}
		segs[id] = ids
	}
	return segs
}

// ---- the random rule AST and its SQL ----

// rnode is a random rule: its text in the language and its SQL, a query
// returning the canonical ids `c` of its members.
type rnode struct {
	rule string
	sql  string
}

type diffGen struct {
	r    *rand.Rand
	t    func(string) string
	segs fixedSegments
}

func q(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }

var diffNowMS = testNow.UnixMilli()

func (g *diffGen) nowSQL() string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(toInt64(%d), 'UTC')", diffNowMS)
}

// persons maps raw person ids to canonical ones.
func (g *diffGen) persons() string {
	return g.t("diff_persons")
}

func (g *diffGen) universe() string {
	return "SELECT c FROM " + g.t("diff_universe")
}

// materialize stores the person map, the universe and the traits per
// canonical person in memory tables: the rules' queries read them many
// times.
func (g *diffGen) materialize(ctx context.Context, db *store.DB) error {
	for _, s := range []string{
		"CREATE TABLE " + g.t("diff_persons") + " ENGINE = Memory AS SELECT person_id, canonical FROM " + g.t("persons") + " FINAL",
		"CREATE TABLE " + g.t("diff_universe") + " ENGINE = Memory AS SELECT DISTINCT canonical AS c FROM " + g.t("persons") + " FINAL",
		"CREATE TABLE " + g.t("diff_traits") + " ENGINE = Memory AS " + g.traitsQuery(),
	} {
		if err := db.Conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// pick returns a random element.
func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// cmp is a comparison of a number with constants.
type numCmp struct {
	op   string // == != < <= > >= range in notin
	x    float64
	lo   float64
	hi   float64
	list []float64
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// text renders "lhs op ...", sometimes with the operands swapped.
func (c numCmp) text(r *rand.Rand, lhs string) string {
	switch c.op {
	case "range":
		return lhs + " in " + fmtNum(c.lo) + ".." + fmtNum(c.hi)
	case "in", "notin":
		var s []string
		for _, v := range c.list {
			s = append(s, fmtNum(v))
		}
		op := " in "
		if c.op == "notin" {
			op = " not in "
		}
		return lhs + op + "[" + strings.Join(s, ", ") + "]"
	}
	if r.IntN(5) == 0 {
		flipped := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[c.op]
		return fmtNum(c.x) + " " + flipped + " " + lhs
	}
	return lhs + " " + c.op + " " + fmtNum(c.x)
}

// holds is the comparison in Go.
func (c numCmp) holds(v float64) bool {
	switch c.op {
	case "==":
		return v == c.x
	case "!=":
		return v != c.x
	case "<":
		return v < c.x
	case "<=":
		return v <= c.x
	case ">":
		return v > c.x
	case ">=":
		return v >= c.x
	case "range":
		return v >= c.lo && v <= c.hi
	case "in":
		return slices.Contains(c.list, v)
	case "notin":
		return !slices.Contains(c.list, v)
	}
	panic(c.op)
}

// sql is the comparison of the SQL expression v, with constants scaled
// (yuan to fen) and v already in the same unit.
func (c numCmp) sql(v string, scale float64) string {
	n := func(x float64) string { return fmtNum(math.Round(x*scale*1e6) / 1e6) }
	switch c.op {
	case "range":
		return fmt.Sprintf("(%s >= %s AND %s <= %s)", v, n(c.lo), v, n(c.hi))
	case "in", "notin":
		var s []string
		for _, x := range c.list {
			s = append(s, n(x))
		}
		op := " IN "
		if c.op == "notin" {
			op = " NOT IN "
		}
		return "(" + v + op + "(" + strings.Join(s, ", ") + "))"
	}
	return "(" + v + " " + c.op + " " + n(c.x) + ")"
}

// randCmp picks a comparison over the given typical values.
func (g *diffGen) randCmp(vals ...float64) numCmp {
	r := g.r
	switch k := r.IntN(10); {
	case k < 6:
		return numCmp{op: pick(r, "==", "!=", "<", "<=", ">", ">=", ">=", ">"), x: pick(r, vals...)}
	case k < 8:
		a, b := pick(r, vals...), pick(r, vals...)
		if a > b {
			a, b = b, a
		}
		if a != math.Trunc(a) || b != math.Trunc(b) { // ranges are of whole numbers
			return numCmp{op: ">=", x: a}
		}
		return numCmp{op: "range", lo: a, hi: b}
	default:
		list := []float64{pick(r, vals...), pick(r, vals...)}
		return numCmp{op: pick(r, "in", "in", "notin"), list: list}
	}
}

// measureWithZero: every canonical person has a value, 0 without records;
// per is a query of (c, v) for persons with records.
func (g *diffGen) zeroDefault(per string, c numCmp, scale float64) string {
	if c.holds(0) {
		return "SELECT c FROM (" + g.universe() + ") WHERE c NOT IN (SELECT c FROM (" + per + ") WHERE NOT " + c.sql("v", scale) + ")"
	}
	return "SELECT c FROM (" + per + ") WHERE " + c.sql("v", scale)
}

// knownOnly: persons without records have no value and never match.
func (g *diffGen) knownOnly(per string, c numCmp, scale float64) string {
	return "SELECT c FROM (" + per + ") WHERE " + c.sql("v", scale)
}

// perCanonical aggregates facts (with person_id) per canonical person.
func (g *diffGen) perCanonical(facts, agg string) string {
	return "SELECT p.canonical AS c, " + agg + " AS v FROM (" + facts + ") AS f INNER JOIN " + g.persons() +
		" AS p ON p.person_id = f.person_id GROUP BY c"
}

func (g *diffGen) window(col string, days int) string {
	if days == 0 {
		return ""
	}
	return fmt.Sprintf(" AND %s >= %s - INTERVAL %d DAY", col, g.nowSQL(), days)
}

const validSQL = "status NOT IN ('refunded', 'cancelled')"

// eventFacts are the rows of an event (or "order") in a window with
// filters: person_id, ts (and amount for orders).
func (g *diffGen) eventFacts(event string, days int, filters string) string {
	if event == "order" {
		return "SELECT person_id, ordered_at AS ts, amount FROM " + g.t("orders") + " FINAL WHERE person_id != 0 AND " + validSQL +
			filters + g.window("ordered_at", days)
	}
	return "SELECT person_id, ts FROM " + g.t("events") + " WHERE person_id != 0 AND event = " + q(event) + filters + g.window("ts", days)
}

func (g *diffGen) days() int { return pick(g.r, 0, 1, 7, 30, 30, 60, 90, 365) }

func daysArg(d int) string {
	if d == 0 {
		return ""
	}
	return ", " + strconv.Itoa(d)
}

// randFilters returns did's filter map (text, "" when none) and SQL.
func (g *diffGen) randFilters(event string) (string, string) {
	r := g.r
	if r.IntN(2) == 0 {
		return "", ""
	}
	type kv struct{ text, sql string }
	strFilter := func(key, expr string, values ...string) kv {
		if r.IntN(3) == 0 && len(values) > 1 {
			a, b := pick(r, values...), pick(r, values...)
			return kv{fmt.Sprintf("%q: [%q, %q]", key, a, b), fmt.Sprintf(" AND %s IN (%s, %s)", expr, q(a), q(b))}
		}
		v := pick(r, values...)
		return kv{fmt.Sprintf("%q: %q", key, v), fmt.Sprintf(" AND %s = %s", expr, q(v))}
	}
	var opts []func() kv
	switch event {
	case "order":
		opts = []func() kv{
			func() kv { return strFilter("channel", "channel", benchChannels...) },
			func() kv { return strFilter("city", "city", "上海", "北京", "成都", "拉萨") },
			func() kv { return strFilter("province", "province", "广东", "四川", "上海") },
		}
	default:
		js := func(k string) string { return "JSONExtractString(properties, " + q(k) + ")" }
		opts = []func() kv{
			func() kv { return strFilter("topic", js("topic"), "控糖", "减脂", "宝宝辅食") },
			func() kv { return strFilter("keyword", js("keyword"), "低GI大米", "五常大米") },
			func() kv { return strFilter("source", "source", "douyin", "app") },
			func() kv { return strFilter("video_id", js("video_id"), "v1", "v2", "v3") },
			func() kv {
				x := pick(r, 0.75, 0.9, 0.95, 1.0)
				return kv{fmt.Sprintf("%q: %s", "completion", fmtNum(x)),
					fmt.Sprintf(" AND JSONExtractFloat(properties, 'completion_ratio') >= %s", fmtNum(x))}
			},
		}
	}
	n := 1 + r.IntN(2)
	var texts []string
	var sqls string
	for _, i := range r.Perm(len(opts))[:n] {
		f := opts[i]()
		texts = append(texts, f.text)
		sqls += f.sql
	}
	return "{" + strings.Join(texts, ", ") + "}", sqls
}

func (g *diffGen) event() string {
	return pick(g.r, "video_complete", "video_complete", "video_play", "search", "home", "order")
}

// traitsPer is a query of (c, ltv_fen, n, last_ms, city, province) per
// canonical person with orders (valid or not).
func (g *diffGen) traitsPer() string { return "SELECT * FROM " + g.t("diff_traits") }

func (g *diffGen) traitsQuery() string {
	return `SELECT p.canonical AS c,
		toInt64(sumIf(o.amount, o.valid) * 100) AS ltv_fen,
		countIf(o.valid) AS n,
		toUnixTimestamp64Milli(maxIf(o.ordered_at, o.valid)) AS last_ms,
		argMaxIf(o.city, o.ordered_at, o.city != '') AS city,
		argMaxIf(o.province, o.ordered_at, o.province != '') AS province
	FROM (SELECT person_id, amount, ordered_at, toString(city) AS city, toString(province) AS province, ` + validSQL + ` AS valid
		FROM ` + g.t("orders") + ` FINAL WHERE person_id != 0) AS o
	INNER JOIN ` + g.persons() + ` AS p ON p.person_id = o.person_id GROUP BY c`
}

func (g *diffGen) tierSQL(col string) string {
	var names, tiers []string
	for name, tier := range DefaultCityTiers() {
		names = append(names, q(name))
		tiers = append(tiers, strconv.Itoa(tier))
	}
	return "transform(" + col + ", [" + strings.Join(names, ", ") + "], [" + strings.Join(tiers, ", ") + "], 0)"
}

// leaf returns a random leaf.
func (g *diffGen) leaf() rnode {
	r := g.r
	switch r.IntN(24) {
	case 0, 1: // numeric traits with a zero default
		name, scale, vals := "ltv", 100.0, []float64{0, 100, 300, 450.5, 800, 1500}
		expr := "ltv_fen"
		if r.IntN(2) == 0 {
			name, scale, vals, expr = "orders_total", 1, []float64{0, 1, 2, 3, 5}, "n"
		}
		c := g.randCmp(vals...)
		return rnode{c.text(r, name), g.zeroDefault("SELECT c, "+expr+" AS v FROM ("+g.traitsPer()+")", c, scale)}
	case 2: // aov, days_since_last_order: customers with orders
		if r.IntN(2) == 0 {
			c := g.randCmp(50, 150, 250.25, 300, 400)
			return rnode{c.text(r, "aov"), g.knownOnly("SELECT c, roundBankers(ltv_fen / n) AS v FROM ("+g.traitsPer()+") WHERE n > 0", c, 100)}
		}
		c := g.randCmp(7, 30, 60, 90, 180, 365)
		return rnode{c.text(r, "days_since_last_order"),
			g.knownOnly(fmt.Sprintf("SELECT c, intDiv(%d - last_ms, 86400000) AS v FROM (%s) WHERE n > 0", diffNowMS, g.traitsPer()), c, 1)}
	case 3: // text traits
		col := pick(r, "city", "province")
		vals := map[string][]string{"city": {"上海", "北京", "广州", "成都", "拉萨"}, "province": {"广东", "上海", "四川", "西藏"}}[col]
		known := "SELECT c, " + col + " AS v FROM (" + g.traitsPer() + ") WHERE " + col + " != ''"
		switch r.IntN(6) {
		case 0, 1:
			v := pick(r, vals...)
			op := pick(r, "==", "!=")
			return rnode{fmt.Sprintf("%s %s %q", col, op, v), "SELECT c FROM (" + known + ") WHERE v " + map[string]string{"==": "=", "!=": "!="}[op] + " " + q(v)}
		case 2, 3:
			a, b := pick(r, vals...), pick(r, vals...)
			op, sop := " in ", " IN "
			if r.IntN(2) == 0 {
				op, sop = " not in ", " NOT IN "
			}
			return rnode{fmt.Sprintf("%s%s[%q, %q]", col, op, a, b), "SELECT c FROM (" + known + ") WHERE v" + sop + "(" + q(a) + ", " + q(b) + ")"}
		case 4:
			pre := pick(r, "广", "上", "成")
			return rnode{fmt.Sprintf("%s startsWith %q", col, pre), "SELECT c FROM (" + known + ") WHERE startsWith(v, " + q(pre) + ")"}
		default:
			re := pick(r, "^(广东|四川)$", "^(上海|北京)$", "州$")
			return rnode{fmt.Sprintf("%s matches %q", col, re), "SELECT c FROM (" + known + ") WHERE match(v, " + q(re) + ")"}
		}
	case 4: // city_tier
		c := g.randCmp(1, 2, 3, 4)
		return rnode{c.text(r, "city_tier"), g.knownOnly("SELECT c, "+g.tierSQL("city")+" AS v FROM ("+g.traitsPer()+") WHERE v > 0", c, 1)}
	case 5: // arithmetic over traits
		if r.IntN(2) == 0 {
			return rnode{"ltv >= 2 * aov", "SELECT c FROM (" + g.traitsPer() + ") WHERE n > 0 AND ltv_fen >= 2 * roundBankers(ltv_fen / n)"}
		}
		x := pick(r, 150.0, 200.0, 300.0)
		op := pick(r, ">", "<")
		return rnode{fmt.Sprintf("ltv / orders_total %s %s", op, fmtNum(x)),
			fmt.Sprintf("SELECT c FROM (%s) WHERE n > 0 AND ltv_fen / 100 / n %s %s", g.traitsPer(), op, fmtNum(x))}
	case 6: // tag
		tag := pick(r, "控糖", "高端用户", "宝妈")
		facts := "SELECT person_id FROM (SELECT person_id, argMax(deleted, ts) AS d FROM " + g.t("person_tags") + " WHERE tag = " + q(tag) +
			" GROUP BY person_id) WHERE d = 0 AND person_id != 0"
		return rnode{fmt.Sprintf("tag(%q)", tag), "SELECT c FROM (" + g.perCanonical(facts, "1") + ")"}
	case 7, 8, 9: // did
		ev := g.event()
		days := g.days()
		ftext, fsql := g.randFilters(ev)
		args := fmt.Sprintf("%q", ev)
		if ftext != "" {
			if days == 0 {
				days = pick(r, 7, 30, 90)
			}
			args += daysArg(days) + ", " + ftext
		} else {
			args += daysArg(days)
		}
		c := g.randCmp(0, 1, 2, 3)
		return rnode{c.text(r, "did("+args+")"), g.zeroDefault(g.perCanonical(g.eventFacts(ev, days, fsql), "count()"), c, 1)}
	case 10: // never
		ev := g.event()
		days := g.days()
		ftext, fsql := g.randFilters(ev)
		args := fmt.Sprintf("%q", ev)
		if ftext != "" {
			if days == 0 {
				days = 30
			}
			args += daysArg(days) + ", " + ftext
		} else {
			args += daysArg(days)
		}
		return rnode{"never(" + args + ")", "SELECT c FROM (" + g.universe() + ") WHERE c NOT IN (SELECT c FROM (" +
			g.perCanonical(g.eventFacts(ev, days, fsql), "count()") + "))"}
	case 11, 12: // days_since_first / last
		fn, agg := "days_since_first", "min"
		if r.IntN(2) == 0 {
			fn, agg = "days_since_last", "max"
		}
		ev := g.event()
		c := g.randCmp(0, 1, 7, 30, 60, 100, 200)
		per := g.perCanonical(g.eventFacts(ev, 0, ""), fmt.Sprintf("intDiv(%d - toUnixTimestamp64Milli(%s(f.ts)), 86400000)", diffNowMS, agg))
		return rnode{c.text(r, fmt.Sprintf("%s(%q)", fn, ev)), g.knownOnly(per, c, 1)}
	case 13, 14: // bought
		item := pick(r, "低GI大米", "五常大米", "PO-5L", "小包装油")
		days := g.days()
		c := g.randCmp(0, 1, 2)
		return rnode{c.text(r, fmt.Sprintf("bought(%q%s)", item, daysArg(days))),
			g.zeroDefault(g.perCanonical(g.boughtFacts(item, days), "uniqExact(f.channel, f.order_id)"), c, 1)}
	case 15: // lapsed = bought(item) >= 1 && bought(item, days) == 0
		item := pick(r, "低GI大米", "五常大米", "OIL-1L")
		days := pick(r, 30, 60, 90, 180)
		ever := g.perCanonical(g.boughtFacts(item, 0), "1")
		recent := g.perCanonical(g.boughtFacts(item, days), "1")
		return rnode{fmt.Sprintf("lapsed(%q, %d)", item, days),
			"SELECT c FROM (" + ever + ") WHERE c NOT IN (SELECT c FROM (" + recent + "))"}
	case 16: // orders
		days := g.days()
		c := g.randCmp(0, 1, 2, 3)
		return rnode{c.text(r, "orders("+strings.TrimPrefix(daysArg(days), ", ")+")"),
			g.zeroDefault(g.perCanonical(g.eventFacts("order", days, ""), "count()"), c, 1)}
	case 17: // spend
		days := g.days()
		c := g.randCmp(0, 100, 300, 500.5, 1000)
		return rnode{c.text(r, "spend("+strings.TrimPrefix(daysArg(days), ", ")+")"),
			g.zeroDefault(g.perCanonical(g.eventFacts("order", days, ""), "toInt64(sum(f.amount) * 100)"), c, 100)}
	case 18, 19: // chat
		kw := pick(r, "血糖", "退订", "优惠", "控糖", "米")
		days := g.days()
		facts := "SELECT person_id FROM " + g.t("wecom_messages") + " FINAL WHERE action = 'send' AND roomid = '' AND external_userid != ''" +
			" AND `from` = external_userid AND person_id != 0 AND position(content, " + q(kw) + ") > 0" +
			" AND msgid NOT IN (SELECT pre_msgid FROM " + g.t("wecom_messages") + " WHERE action = 'recall')" + g.window("msgtime", days)
		return rnode{fmt.Sprintf("chat(%q%s)", kw, daysArg(days)), "SELECT c FROM (" + g.perCanonical(facts, "1") + ")"}
	case 20: // did_then
		first := pick(r, "video_complete", "video_play", "search", "order")
		then := pick(r, "order", "video_complete", "search")
		if first == then {
			then = "video_play"
		}
		within := pick(r, 1, 7, 30)
		days := pick(r, 30, 90, 365)
		side := func(ev string) string {
			return "SELECT p.canonical AS c, toUnixTimestamp64Milli(f.ts) AS t FROM (" + g.eventFacts(ev, days, "") + ") AS f INNER JOIN " +
				g.persons() + " AS p ON p.person_id = f.person_id"
		}
		return rnode{fmt.Sprintf("did_then(%q, %q, %d, %d)", first, then, within, days),
			fmt.Sprintf("SELECT DISTINCT a.c AS c FROM (%s) AS a INNER JOIN (%s) AS b ON a.c = b.c WHERE b.t > a.t AND b.t - a.t <= %d",
				side(first), side(then), int64(within)*86_400_000)}
	case 21, 22: // bucket
		n := pick(r, 2, 10, 100)
		salt := pick(r, "", "spring-2026", "控糖")
		vals := map[int][]float64{2: {0, 1}, 10: {0, 3, 5, 9}, 100: {0, 10, 50, 99}}[n]
		c := g.randCmp(vals...)
		h := fnv.New32a()
		h.Write([]byte(salt))
		seed := h.Sum32()
		call := fmt.Sprintf("bucket(%d)", n)
		if salt != "" {
			call = fmt.Sprintf("bucket(%d, %q)", n, salt)
		}
		// fmix32(c ^ seed) % n, MurmurHash3's finaliser in 32-bit arithmetic
		per := fmt.Sprintf(`SELECT c, h5 %% %d AS v FROM (SELECT c,
			bitXor(toUInt32(c), toUInt32(%d)) AS h0,
			bitXor(h0, bitShiftRight(h0, 16)) AS h1,
			toUInt32(bitAnd(toUInt64(h1) * 2246822507, 4294967295)) AS h2,
			bitXor(h2, bitShiftRight(h2, 13)) AS h3,
			toUInt32(bitAnd(toUInt64(h3) * 3266489909, 4294967295)) AS h4,
			bitXor(h4, bitShiftRight(h4, 16)) AS h5
			FROM (%s))`, n, seed, g.universe())
		return rnode{c.text(r, call), g.knownOnly(per, c, 1)}
	default: // in_segment, true, false
		switch r.IntN(4) {
		case 0:
			return rnode{"true", g.universe()}
		case 1:
			return rnode{"false", "SELECT c FROM (" + g.universe() + ") WHERE 0"}
		}
		id := pick(r, "seg_a", "seg_b")
		var ids []string
		for _, x := range g.segs[id] {
			ids = append(ids, strconv.Itoa(int(x)))
		}
		return rnode{fmt.Sprintf("in_segment(%q)", id), "SELECT c FROM (" + g.universe() + ") WHERE c IN (" + strings.Join(ids, ", ") + ")"}
	}
}

// boughtFacts are order lines of item (category or SKU) whose order
// counts, in the window: person_id, channel, order_id.
func (g *diffGen) boughtFacts(item string, days int) string {
	return "SELECT person_id, channel, order_id FROM " + g.t("order_lines") + " FINAL WHERE person_id != 0 AND (category = " + q(item) +
		" OR sku = " + q(item) + ") AND (channel, order_id) IN (SELECT channel, order_id FROM " + g.t("orders") + " FINAL WHERE " + validSQL + ")" +
		g.window("ordered_at", days)
}

// node returns a random rule of at most depth levels of and/or/not.
func (g *diffGen) node(depth int) rnode {
	r := g.r
	if depth == 0 || r.IntN(10) < 3 {
		return g.leaf()
	}
	switch r.IntN(5) {
	case 0:
		x := g.node(depth - 1)
		return rnode{pick(r, "!(", "not (") + x.rule + ")",
			"SELECT c FROM (" + g.universe() + ") WHERE c NOT IN (" + x.sql + ")"}
	case 1, 2:
		kids := []rnode{g.node(depth - 1), g.node(depth - 1)}
		if r.IntN(3) == 0 {
			kids = append(kids, g.node(depth-1))
		}
		op := pick(r, " && ", " and ")
		var rules, conds []string
		for _, k := range kids {
			rules, conds = append(rules, k.rule), append(conds, "c IN ("+k.sql+")")
		}
		return rnode{"(" + strings.Join(rules, op) + ")", "SELECT c FROM (" + g.universe() + ") WHERE " + strings.Join(conds, " AND ")}
	default:
		kids := []rnode{g.node(depth - 1), g.node(depth - 1)}
		op := pick(r, " || ", " or ")
		var rules, conds []string
		for _, k := range kids {
			rules, conds = append(rules, k.rule), append(conds, "c IN ("+k.sql+")")
		}
		return rnode{"(" + strings.Join(rules, op) + ")", "SELECT c FROM (" + g.universe() + ") WHERE " + strings.Join(conds, " OR ")}
	}
}

func TestRandomRulesMatchSQL(t *testing.T) {
	db := storetest.Migrated(t)
	segs := diffPopulation(t, db)
	ctx := context.Background()
	e := testEngine(db, segs)
	g := &diffGen{r: rand.New(rand.NewPCG(2026, 615)), t: db.Table, segs: segs}
	if err := g.materialize(ctx, db); err != nil {
		t.Fatal(err)
	}

	// Sanity: the universe and the population's shape.
	var universeN uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM ("+g.universe()+")").Scan(&universeN); err != nil {
		t.Fatal(err)
	}
	if want := uint64(diffPersons - diffPersons/37 - diffPersons/101); universeN != want {
		t.Fatalf("universe %d, want %d", universeN, want)
	}

	if mismatches := diffRules(t, db, e, g, 200); mismatches > 0 {
		t.Errorf("%d mismatches", mismatches)
	}
}

// TestRandomRulesMatchSQLAfterUnmergeAndErasure runs the differential
// test after the mutations identity makes when it unmerges (a merged
// person is its own again and takes back records, re-attributed with
// ALTER UPDATE) and erases (ALTER DELETE; orders kept without their
// person), and after refunds (a new version of orders), on an engine that had cached leaves and traits before them and
// is told with Refresh, as the platform's engine is.
func TestRandomRulesMatchSQLAfterUnmergeAndErasure(t *testing.T) {
	db := storetest.Migrated(t)
	segs := diffPopulation(t, db)
	ctx := context.Background()
	g := &diffGen{r: rand.New(rand.NewPCG(17, 3)), t: db.Table, segs: segs}
	if err := g.materialize(ctx, db); err != nil {
		t.Fatal(err)
	}
	e := testEngine(db, segs)
	diffRules(t, db, e, g, 20)
	// Leaves and traits every change below affects, cached before it.
	fixed := []string{`ltv > 0`, `orders() >= 1`, `bought("低GI大米") >= 1`, `bought("五常大米", 365) == 0`,
		`did("video_complete", 90) >= 2`, `chat("退订", 90)`, `city_tier == 1`}
	compiled := evaluated(t, e, fixed)

	// Unmerge: persons merged into their neighbour (p % 37 == 0) become
	// their own again and take back half of the neighbour's records.
	var split, from, touched []uint32
	var persons [][]any
	for p := uint32(37); p <= diffPersons; p += 37 * 3 {
		split, from, touched = append(split, p), append(from, p-1), append(touched, p, p-1)
		persons = append(persons, []any{p, p, p, uint64(3)})
	}
	storetest.Insert(t, db, "persons", personCols, persons...)
	// Erasure: persons whose events, chats and person row are deleted,
	// their orders kept without them. One mutation a table.
	erased := []uint32{5, 6, 7, 500, 1001, 2002}
	touched = append(touched, erased...)
	move := " UPDATE person_id = transform(person_id, {from:Array(UInt32)}, {to:Array(UInt32)}, person_id) WHERE person_id IN {from:Array(UInt32)} AND cityHash64(%s) %% 2 = 0"
	// Mutations go to each node's local tables (storetest.Mutate): a
	// cluster's Distributed tables take none.
	for _, m := range []struct{ table, action string }{
		{"events", fmt.Sprintf(move, "message_id") + ", DELETE WHERE person_id IN {erased:Array(UInt32)}"},
		{"wecom_messages", fmt.Sprintf(move, "msgid") + ", DELETE WHERE person_id IN {erased:Array(UInt32)}"},
		{"orders", fmt.Sprintf(move, "order_id") + ", UPDATE person_id = 0 WHERE person_id IN {erased:Array(UInt32)}"},
		{"order_lines", fmt.Sprintf(move, "order_id") + ", UPDATE person_id = 0 WHERE person_id IN {erased:Array(UInt32)}"},
		// identity runs its order_lines actions on item_orders too.
		{"item_orders", fmt.Sprintf(move, "order_id") + ", UPDATE person_id = 0 WHERE person_id IN {erased:Array(UInt32)}"},
		{"persons", "DELETE WHERE person_id IN {erased:Array(UInt32)}"},
	} { // an order and its lines move together
		storetest.Mutate(t, db, m.table, m.action, clickhouse.Named("from", from), clickhouse.Named("to", split), clickhouse.Named("erased", erased))
	}
	// Refunds: every order of one person in 5 gets a refunded version.
	var refunded []uint32
	for p := uint32(5); p <= diffPersons; p += 5 {
		refunded = append(refunded, p)
	}
	touched = append(touched, refunded...)
	if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("orders")+" SELECT * REPLACE (version + 1 AS version, 'refunded' AS status) FROM (SELECT * FROM "+
		db.Table("orders")+" FINAL WHERE person_id IN ? AND "+validSQL+")", refunded); err != nil { // the alias status would shadow the column in a WHERE here
		t.Fatal(err)
	}
	var nOrders, nValid uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count(), countIf("+validSQL+") FROM "+db.Table("orders")+" FINAL WHERE person_id IN ?", refunded).Scan(&nOrders, &nValid); err != nil || nOrders < 20 || nValid > 0 {
		t.Fatalf("refunds: %d orders, %d still valid (%v)", nOrders, nValid, err)
	}
	if err := e.Refresh(ctx, touched); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"diff_persons", "diff_universe", "diff_traits"} {
		if err := db.Conn.Exec(ctx, "DROP TABLE "+g.t(tb)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.materialize(ctx, db); err != nil {
		t.Fatal(err)
	}
	var moved uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("events")+" WHERE person_id IN ?", split).Scan(&moved); err != nil || moved == 0 {
		t.Fatalf("%d events re-attributed (%v)", moved, err)
	}
	fresh := testEngine(db, segs)
	for i, c := range compiled {
		sameAsRecomputed(t, e, fresh, fixed[i], c)
	}
	g.r = rand.New(rand.NewPCG(17, 3)) // the same rules again, and new ones
	if mismatches := diffRules(t, db, e, g, 40); mismatches > 0 {
		t.Errorf("%d mismatches after unmerge and erasure", mismatches)
	}
}

// diffRules evaluates n random rules with the engine and with the naive
// SQL, reports every mismatch and returns how many there were.
func diffRules(t *testing.T, db *store.DB, e *Engine, g *diffGen, rules int) int {
	ctx := context.Background()
	var universeN uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM ("+g.universe()+")").Scan(&universeN); err != nil {
		t.Fatal(err)
	}
	mismatches, empty, full, unbounded := 0, 0, 0, 0
	start := time.Now()
	var engineTime, sqlTime time.Duration
	for i := range rules {
		n := g.node(3)
		// Rules Check refuses as unbounded are evaluated too: saved
		// before the bounds, they still run.
		c, refused, err := e.checkSaved(n.rule)
		if err != nil {
			t.Errorf("rule %d %s: check: %v", i, n.rule, err)
			mismatches++
			continue
		}
		if _, err := e.Check(n.rule); (err != nil) != (refused != nil) {
			t.Errorf("rule %d %s: Check says %v, checkSaved %v", i, n.rule, err, refused)
		} else if refused != nil {
			unbounded++
		}
		t0 := time.Now()
		got, err := e.Evaluate(ctx, c)
		if err != nil {
			t.Errorf("rule %d %s: evaluate: %v", i, n.rule, err)
			continue
		}
		engineTime += time.Since(t0)
		t0 = time.Now()
		var ids []uint32
		if err := db.Conn.QueryRow(ctx, "SELECT arraySort(groupUniqArray(toUInt32(c))) FROM ("+n.sql+")").Scan(&ids); err != nil {
			t.Fatalf("rule %d %s: SQL: %v\n%s", i, n.rule, err, n.sql)
		}
		sqlTime += time.Since(t0)
		want := roaring.BitmapOf(ids...)
		switch want.GetCardinality() {
		case 0:
			empty++
		case universeN:
			full++
		}
		if !got.Equals(want) {
			mismatches++
			extra, missing := roaring.AndNot(got, want), roaring.AndNot(want, got)
			t.Errorf("rule %d:\n\t%s\n\tengine %d members, SQL %d; engine only %v, SQL only %v",
				i, n.rule, got.GetCardinality(), want.GetCardinality(), firstIDs(extra, 8), firstIDs(missing, 8))
		}
	}
	t.Logf("%d rules in %v (engine %v, SQL %v); %d empty, %d everyone, %d unbounded, %d mismatches",
		rules, time.Since(start), engineTime, sqlTime, empty, full, unbounded, mismatches)
	return mismatches
}

func firstIDs(bm *roaring.Bitmap, n int) []uint32 {
	out := []uint32{}
	it := bm.Iterator()
	for it.HasNext() && len(out) < n {
		out = append(out, it.Next())
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
