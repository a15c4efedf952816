package segments

import (
	"context"
	"slices"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestNewLeavesFollowMergesAndUnmergesToldByRefresh: leaves first computed
// after a merge, then after an unmerge, that Refresh reported take the
// merges of the trait snapshot as Refresh patched it (the leaf queries no
// longer read the persons table): a count only the merged family reaches
// (merges passed to the query) and an existence leaf of the absorbed
// person's record (raw ids folded by the engine). It fails when the
// snapshot's merges are not patched.
func TestNewLeavesFollowMergesAndUnmergesToldByRefresh(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	storetest.Insert(t, db, "persons", personCols,
		[]any{uint32(1), uint32(1), uint32(1), uint64(1)}, []any{uint32(2), uint32(2), uint32(2), uint64(1)},
		[]any{uint32(3), uint32(3), uint32(3), uint64(1)})
	storetest.Insert(t, db, "events", eventCols, event(1, "like", 1, `{}`), event(2, "like", 2, `{}`), event(2, "search", 1, `{}`))
	e := testEngine(db, nil)
	check := func(rule string, want ...uint32) {
		t.Helper()
		c, err := e.Check(rule)
		if err != nil {
			t.Fatal(err)
		}
		bm, err := e.Evaluate(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := bm.ToArray(); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Errorf("%s: %v, want %v", rule, got, want)
		}
	}
	check(`did("like", 30) >= 2`) // loads the snapshot: nobody merged
	check(`did("search", 30) >= 1`, 2)

	// 2 is merged into 1; each rule below has a window no earlier rule
	// used, so its leaves are computed in full.
	storetest.Insert(t, db, "persons", personCols, []any{uint32(2), uint32(1), uint32(1), uint64(2)})
	if err := e.Refresh(ctx, []uint32{2, 1}, KindPersons); err != nil {
		t.Fatal(err)
	}
	check(`did("like", 31) >= 2`, 1)
	check(`did("search", 31) >= 1`, 1)

	// Unmerged: 2 is its own again.
	storetest.Insert(t, db, "persons", personCols, []any{uint32(2), uint32(2), uint32(2), uint64(3)})
	if err := e.Refresh(ctx, []uint32{2, 1}, KindPersons); err != nil {
		t.Fatal(err)
	}
	check(`did("like", 32) >= 2`)
	check(`did("search", 32) >= 1`, 2)
	check(`did("like", 32) >= 1`, 1, 2)
}
