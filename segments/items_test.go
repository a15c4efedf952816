package segments

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestItemLeavesFollowRefundsWindowEdgesAndLaterVersions checks the
// bought() and lapsed() leaves, which read item_orders (kept by a
// materialized view that sees inserts only), against a population whose
// answers are known by construction: an order refunded after its
// item_orders row exists (patched and cold), one refunded and then
// completed again, orders a millisecond inside and outside the window, a
// SKU, and an order whose later version names another person.
func TestItemLeavesFollowRefundsWindowEdgesAndLaterVersions(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	var persons [][]any
	for p := uint32(1); p <= 9; p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
	}
	storetest.Insert(t, db, "persons", personCols, persons...)
	const rice = "低GI大米"
	var orders, lines [][]any
	add := func(person uint32, id string, version uint64, status string, at time.Time, category, sku string) {
		amount := decimal.RequireFromString("100")
		orders = append(orders, []any{"tmall", id, version, status, at, at, amount, "CNY", "上海", "上海", person, "test", testNow})
		lines = append(lines, []any{"tmall", id, uint16(1), version, sku, category, category, decimal.NewFromInt(1), amount, amount, at, person})
	}
	day := 24 * time.Hour
	add(1, "o1", 1, "paid", ago(10), rice, "LGI-5KG") // refunded below, after the first evaluation
	add(2, "o2", 1, "paid", ago(20), rice, "LGI-5KG")
	add(3, "o3", 1, "paid", testNow.Add(-30*day+time.Millisecond), rice, "LGI-5KG") // inside 30 days by 1 ms
	add(4, "o4", 1, "paid", testNow.Add(-30*day-time.Millisecond), rice, "LGI-5KG") // outside by 1 ms
	add(5, "o5", 1, "paid", ago(3), "杂粮", "MIX-1")
	add(9, "o9", 1, "paid", testNow.Add(-30*day+time.Millisecond), rice, "LGI-5KG") // refunded below: at the edge of the invalid orders' window
	add(6, "o6a", 1, "paid", ago(40), rice, "LGI-5KG")
	add(6, "o6b", 1, "paid", ago(45), rice, "LGI-5KG")
	add(6, "o6c", 1, "paid", ago(50), rice, "LGI-5KG")
	storetest.Insert(t, db, "orders", orderCols, orders...)
	storetest.Insert(t, db, "order_lines", lineCols, lines...)
	// o6c's latest version is person 8's. Inserted on its own: a block
	// is deduplicated as it is written, two inserts only by FINAL.
	orders, lines = nil, nil
	add(8, "o6c", 2, "completed", ago(50), rice, "LGI-5KG")
	storetest.Insert(t, db, "orders", orderCols, orders...)
	storetest.Insert(t, db, "order_lines", lineCols, lines...)
	// o2 is refunded, then completed again (order versions without lines).
	status := func(person uint32, id string, version uint64, s string, at time.Time) []any {
		return []any{"tmall", id, version, s, at, at.Add(time.Hour), decimal.RequireFromString("100"), "CNY", "上海", "上海", person, "test", testNow}
	}
	storetest.Insert(t, db, "orders", orderCols, status(2, "o2", 2, "refunded", ago(20)), status(2, "o2", 3, "completed", ago(20)),
		status(9, "o9", 2, "refunded", testNow.Add(-30*day+time.Millisecond)))
	// A refunded order whose channel and id run together as o3's do
	// ("tmal" + "lo3", "tmall" + "o3"): o3 still counts.
	collide := status(7, "lo3", 1, "refunded", ago(1))
	collide[0] = "tmal"
	storetest.Insert(t, db, "orders", orderCols, collide)

	cases := []struct {
		rule          string
		before, after []uint32 // before and after o1's refund
	}{
		{`bought("低GI大米", 365) >= 1`, []uint32{1, 2, 3, 4, 6, 8}, []uint32{2, 3, 4, 6, 8}},
		{`bought("低GI大米", 30) >= 1`, []uint32{1, 2, 3}, []uint32{2, 3}},
		{`bought("低GI大米", 30) == 0`, []uint32{4, 5, 6, 7, 8, 9}, []uint32{1, 4, 5, 6, 7, 8, 9}},
		{`bought("低GI大米", 365) == 2`, []uint32{6}, []uint32{6}},
		{`bought("低GI大米") in 1..1`, []uint32{1, 2, 3, 4, 8}, []uint32{2, 3, 4, 8}},
		{`bought("MIX-1", 365) >= 1`, []uint32{5}, []uint32{5}},
		{`lapsed("低GI大米", 30)`, []uint32{4, 6, 8}, []uint32{4, 6, 8}},
		{`lapsed("低GI大米", 15)`, []uint32{2, 3, 4, 6, 8}, []uint32{2, 3, 4, 6, 8}},
	}
	check := func(e *Engine, when string, want func(int) []uint32) {
		t.Helper()
		for i, c := range cases {
			compiled, err := e.Check(c.rule)
			if err != nil {
				t.Fatal(err)
			}
			bm, err := e.Evaluate(ctx, compiled)
			if err != nil {
				t.Fatal(err)
			}
			if got := bm.ToArray(); !slices.Equal(got, want(i)) && !(len(got) == 0 && len(want(i)) == 0) {
				t.Errorf("%s: %s = %v, want %v", when, c.rule, got, want(i))
			}
		}
	}
	e := testEngine(db, nil)
	check(e, "before the refund", func(i int) []uint32 { return cases[i].before })

	storetest.Insert(t, db, "orders", orderCols, status(1, "o1", 2, "refunded", ago(10)))
	if err := e.Refresh(ctx, []uint32{1}, KindOrders); err != nil {
		t.Fatal(err)
	}
	check(e, "after the refund, patched", func(i int) []uint32 { return cases[i].after })
	check(testEngine(db, nil), "after the refund, cold", func(i int) []uint32 { return cases[i].after })
}
