package segments

import (
	"strings"

	"github.com/granarycdp/cdp/schema"
)

// The order leaves over items: bought(item, days) and lapsed(item, days)
// read schema.ItemOrders, the orders holding each category and SKU kept
// from order_lines by a materialized view and sorted by (item, day), so a
// leaf reads one item's rows in its window instead of every order line
// (order_lines is sorted by the order; the category is not in its key).
//
// With FINAL (per partition, readSettings) the table has one row per
// (item, order), carrying the person of the order's latest version with
// a line of the item, and the order's exact ordered_at: the window is
// applied to the millisecond, as over order_lines. What the view does not
// apply is read from the current state: refunded and cancelled orders are
// left out with a NOT IN over orders (any current status, so an order
// that goes back from refunded counts again), and identity's
// mutations of order_lines are run on the table too (schema.ItemOrders).

// boughtLeaf: persons with a number of orders in r that hold a line of the
// category or SKU item, in the window. Orders refunded or cancelled are
// left out with NOT IN over those few orders (an order whose header has
// not arrived yet counts). One row per (item, order), so the count is a
// count of rows.
func (g *sqlGen) boughtLeaf(desc, item string, days int, r intRange) *sqlLeaf {
	f := g.itemFact(item, days)
	spec := leafSpec{desc: desc, kinds: []string{KindOrders}, fact: f}
	if r.lo > 1 || r.hi != maxInt {
		f.cols = ", count() AS v"
		spec.having, spec.count = g.having("sum(f.v)", r), &r
		spec.rowsHaving = strings.ReplaceAll(spec.having, "sum(f.v)", "count()")
	}
	return g.leaf(spec)
}

// lapsedLeaf: persons who bought item, the last time at least days ago
// (one query where bought(item) >= 1 && bought(item, days) == 0 takes two).
func (g *sqlGen) lapsedLeaf(desc, item string, days int) *sqlLeaf {
	f := g.itemFact(item, 0)
	f.cols = ", max(ordered_at) AS v"
	having := "max(f.v) < fromUnixTimestamp64Milli({" + paramNow + ":Int64}, 'UTC') - toIntervalDay(" + g.param("UInt32", uint32(days)) + ")"
	return g.leaf(leafSpec{desc: desc, kinds: []string{KindOrders}, fact: f, having: having})
}

// itemFact is the orders holding a line of the category or SKU item in
// the window, one row per order, per person, from orders that count.
func (g *sqlGen) itemFact(item string, days int) *fact {
	f := &fact{table: g.table(schema.ItemOrders) + " FINAL", group: true,
		where: []string{"item = " + g.param("String", item)}}
	window := g.window("ordered_at", days)
	f.where = append(f.where, window...)
	// The orders left out are read over the same window: an order keeps
	// its ordered_at across versions, so one in the window has every
	// version there (a 30-day leaf reads a month of orders, not all).
	invalid := append([]string{schema.InvalidOrder}, window...)
	f.where = append(f.where, personKnown, orderKey+" NOT IN (SELECT "+orderKey+" FROM "+g.table("orders")+
		" FINAL WHERE "+strings.Join(invalid, " AND ")+refreshMark+")")
	return f
}

// orderKey is an order's (channel, order_id) as one string, the length
// of the channel first so that no two keys meet whatever the texts hold.
// A NOT IN over one string column costs half the engine CPU of one over
// the tuple: at a million persons the bought leaf's probe of 0.6M
// item_orders rows against 0.1M refunded or cancelled orders took 101-122
// ms of engine CPU instead of 182-205 (BenchmarkFiveClauseCosts' data).
const orderKey = "concat(toString(length(channel)), ':', channel, order_id)"
