package segments

import (
	"context"
	"slices"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestLiveRoundReadsTraitsOnlyForTraitKinds: a live round in which most
// persons have new events and one a new order reads the trait snapshot
// again for that one only, and its members still match a fresh engine's.
// Before, the round's kinds were pooled: one record that could change
// traits had every person of the round read again (in the load run
// thousands a second, each read a scan of every order).
func TestLiveRoundReadsTraitsOnlyForTraitKinds(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	s := testStore(t, db)
	e := s.engine
	rules := []string{`ltv > 600`, `did("search", 30) >= 1 && city_tier == 1`}
	compiled := evaluated(t, e, rules) // the trait snapshot is loaded
	// Person 16 (nothing before) and 4 search; person 3 (400 so far) orders 300 more.
	storetest.Insert(t, db, "events", eventCols, event(16, "search", 0.5, `{"keyword":"米"}`), event(4, "search", 0.5, `{"keyword":"油"}`))
	ord, line := order{person: 3, channel: "tmall", id: "late-1", version: 1, status: "paid", days: 0.5, amount: "300",
		province: "广东", city: "广州", category: "rice", sku: "r1"}.rows()
	storetest.Insert(t, db, "orders", orderCols, ord)
	storetest.Insert(t, db, "order_lines", lineCols, line)
	before := e.traitsPatched.Load()
	s.TouchedTables(map[string][]uint32{"events": {16, 4}, "orders": {3}})
	pending := s.takePending()
	if !slices.Equal(pending[KindEvents], []uint32{4, 16}) || !slices.Equal(pending[KindOrders], []uint32{3}) || !slices.Equal(pending[KindTraits], []uint32{3}) {
		t.Fatalf("pending by kind: %v", pending)
	}
	if err := s.update(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if n := e.traitsPatched.Load() - before; n != 1 {
		t.Errorf("the round read the traits of %d persons again, want 1 (the one with an order)", n)
	}
	fresh := testEngine(db, nil)
	for i, c := range compiled {
		sameAsRecomputed(t, e, fresh, rules[i], c)
	}
	// Merges and new persons come with the persons table: their traits are read.
	before = e.traitsPatched.Load()
	s.TouchedTables(map[string][]uint32{"events": {15}, "persons": {16}})
	if err := s.update(ctx, s.takePending()); err != nil {
		t.Fatal(err)
	}
	if n := e.traitsPatched.Load() - before; n != 1 {
		t.Errorf("a round with a new person read the traits of %d persons, want 1", n)
	}
}
