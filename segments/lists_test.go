package segments

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestListLeafHoldsTheSavedPersons evaluates a saved list on the engine:
// its members that are persons, a merged one as its canonical person, an
// id of no person and id 0 left out. On one node the leaf runs in its
// counted form, whose rows have no condition at all (a list's only one,
// person_id != 0, is left to the engine's count): rendered with an empty
// WHERE, the engine refused it as a syntax error, which this test caught
// only through the analytics suite's saved drop-offs before.
func TestListLeafHoldsTheSavedPersons(t *testing.T) {
	db := storetest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	storetest.Insert(t, db, "persons", personCols,
		[]any{uint32(1), uint32(1), uint32(1), uint64(1)},
		[]any{uint32(2), uint32(2), uint32(2), uint64(1)},
		[]any{uint32(3), uint32(3), uint32(3), uint64(1)},
		[]any{uint32(4), uint32(1), uint32(1), uint64(2)}) // merged into 1
	s := testStore(t, db)
	def, err := s.SaveList(ctx, "drop-offs", "", "funnel drop-offs", "{}", roaring.BitmapOf(0, 2, 4, 99), "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Engine().Check(def.Rule)
	if err != nil {
		t.Fatal(err)
	}
	var counted bool
	Walk(c.Plan(), func(n Node) {
		if l, ok := n.(*sqlLeaf); ok {
			counted = counted || l.counted != nil
		}
	})
	if !counted && !db.Sharded {
		t.Fatal("the list's leaf has no counted form on one node; this test is meant to run it")
	}
	est, err := s.Engine().Estimate(ctx, def.Rule, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := est.Sample; !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("list members %v (count %d), want [1 2]: 2 itself, 4 as its canonical 1, not 99 (no person) nor 0", got, est.Count)
	}
}
