package identity

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestConcurrentErasuresBothFinish runs a second operation whole between
// two steps (mutations) of a first, as two requests at once do: an
// erasure inside an erasure, and an erasure inside an unmerge. Each used
// to drop the other's identifier set (no mutation names it between two
// steps), so the first failed half done with "table doesn't exist".
func TestConcurrentErasuresBothFinish(t *testing.T) {
	ctx := context.Background()
	db := storetest.Migrated(t)
	prot, err := NewProtector(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db, store.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) })
	g := NewGraph(DefaultRules())
	var ch Changes
	resolve := func(ref string, ids ...Identifier) uint32 { return g.Resolve(ref, ids, t0, &ch) }
	a := resolve("a", Identifier{UserID, "u-a"}, Identifier{DouyinOpenID, "dy-a"})
	b := resolve("b", Identifier{UserID, "u-b"}, Identifier{DouyinOpenID, "dy-b"})
	c := resolve("c1", Identifier{UserID, "u-c"})
	resolve("c2", Identifier{DouyinOpenID, "dy-c"})
	resolve("c3", Identifier{UserID, "u-c"}, Identifier{DouyinOpenID, "dy-c"})
	d := resolve("d", Identifier{UserID, "u-d"}, Identifier{DouyinOpenID, "dy-d"})
	if err := Persist(ctx, w, &ch); err != nil {
		t.Fatal(err)
	}
	merges := g.MergesOf(g.Canonical(c))
	if len(merges) != 1 {
		t.Fatalf("person c: %d merges, want 1", len(merges))
	}
	s := &Service{DB: db, Graph: g, Writer: w, Protector: prot, Logger: storetest.Logger()}

	// inside runs op once, after the first mutation of the next operation.
	inside := func(op func() error) *error {
		var err error
		ran := false
		s.afterMutation = func(string) {
			if !ran {
				ran = true
				err = op()
			}
		}
		return &err
	}
	inner := inside(func() error { _, err := s.Erase(ctx, b, "test"); return err })
	if _, err := s.Erase(ctx, a, "test"); err != nil {
		t.Errorf("erasure of a while b's ran between its steps: %v", err)
	}
	if *inner != nil {
		t.Errorf("erasure of b between two steps of a's: %v", *inner)
	}
	inner = inside(func() error { _, err := s.Erase(ctx, d, "test"); return err })
	if _, err := s.Unmerge(ctx, merges[0].ID, "test"); err != nil {
		t.Errorf("unmerge while an erasure ran between its steps: %v", err)
	}
	if *inner != nil {
		t.Errorf("erasure of d between two steps of an unmerge: %v", *inner)
	}
	s.afterMutation = nil

	for _, v := range []string{"u-a", "dy-a", "u-b", "dy-b", "u-d", "dy-d"} {
		var n uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("identity_links")+" WHERE id_value = ?", v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("identifier %s of an erased person still linked (%d rows)", v, n)
		}
	}
	if _, ok := g.Lookup(Identifier{UserID, "u-c"}); !ok {
		t.Error("the unmerged person's identifiers were lost")
	}
	var sets uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND startsWith(name, ?)", db.Database, identifierSetPrefix).Scan(&sets); err != nil {
		t.Fatal(err)
	}
	if sets != 0 {
		t.Errorf("%d identifier sets left after operations that all succeeded", sets)
	}
}

// TestIdentifierSetsDroppable: an idle set is dropped when this process
// left it after a failed operation, or when it is older than the lease
// (another process's, or from before a restart); never while its
// operation runs here, nor while another process's may still run.
func TestIdentifierSetsDroppable(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	name := func(at time.Time) string { return identifierSetPrefix + fmt.Sprint(at.Unix()) + "_abc" }
	var r identifierSets
	live, failed := name(now), name(now.Add(-time.Second))
	r.set(live, true)
	r.set(failed, false)
	for _, c := range []struct {
		name string
		want bool
	}{
		{live, false},
		{failed, true},
		{name(now.Add(-time.Minute)), false}, // another process's, running
		{name(now.Add(-identifierSetLease - time.Second)), true},   // past the lease
		{identifierSetPrefix + "f2w67gg6yuzr3fe5mgonl76efi", true}, // named before sets carried their time
	} {
		if got := r.droppable(c.name, now); got != c.want {
			t.Errorf("droppable(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	r.set(live, false)
	if !r.droppable(live, now) {
		t.Error("a set whose operation failed is not droppable")
	}
}
