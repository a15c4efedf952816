package segments

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// persistingEngine is testEngine with the trait snapshot kept in
// ClickHouse, as the platform runs it.
func persistingEngine(db *store.DB) *Engine {
	e := testEngine(db, nil)
	e.opts.PersistTraits = true
	return e
}

// traitRules read every trait and channel.
var traitRules = []string{
	`city == "上海"`, `province == "北京"`, `city_tier == 1`, `ltv > 300`, `aov >= 200`, `orders_total >= 2`,
	`days_since_last_order <= 30`, `orders_total == 0`, `city_tier == 1 && ltv >= 2 * aov`,
}

// TestPersistedTraitsAfterRestartMatchAFullRead: an engine restarted
// after new order versions (a new order, a refund), a merge and an
// unmerge restores the persisted trait snapshot, patches the persons
// changed since its marks, and answers like a full read.
func TestPersistedTraitsAfterRestartMatchAFullRead(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	first := persistingEngine(db)
	evaluated(t, first, traitRules)
	var rows uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("segment_trait_snapshots")).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("persisted snapshots after the first load: %d (%v)", rows, err)
	}

	// While the platform was down: 5 orders again in 北京 (the pipeline
	// numbers its records), 3's order is refunded, 15 is merged into 13,
	// and 11 is split from 10. The received_at of the rows is testNow,
	// long before the read: only the marks find them.
	cols := orderCols + ", spool_seq"
	o1, _ := order{5, "tmall", "o30", 1, "paid", 0.5, "900", "北京", "北京", "五常大米", "WC-5KG"}.rows()
	o2, _ := order{3, "tmall", "o4", 2, "refunded", 20, "400", "广东", "广州", "低GI大米", "LGI-5KG"}.rows()
	storetest.Insert(t, db, "orders", cols, append(o1, uint64(7)), append(o2, uint64(8)))
	storetest.Insert(t, db, "persons", personCols,
		[]any{uint32(15), uint32(13), uint32(13), uint64(3)}, []any{uint32(11), uint32(11), uint32(11), uint64(3)})

	restarted := persistingEngine(db)
	got, err := restarted.restore(ctx, testNow)
	if err != nil || got == nil {
		t.Fatalf("restore: %v, %v", got, err)
	}
	want, err := testEngine(db, nil).readSnapshot(ctx, testNow)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, got, want)

	fresh := testEngine(db, nil)
	for _, rule := range traitRules {
		c, err := restarted.Check(rule)
		if err != nil {
			t.Fatal(err)
		}
		sameAsRecomputed(t, restarted, fresh, rule, c)
	}
}

// TestPersistedTraitsAreNotUsedAcrossAnErasure: a snapshot read around an
// erasure (recorded in suppressions) is not restored.
func TestPersistedTraitsAreNotUsedAcrossAnErasure(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	evaluated(t, persistingEngine(db), traitRules[:1])
	if s, err := persistingEngine(db).restore(ctx, testNow); err != nil || s == nil {
		t.Fatalf("restore before the erasure: %v, %v", s, err)
	}
	storetest.Insert(t, db, "suppressions", "id_type, id_hash, reason, ts, by",
		[]any{"phone", "h:x", "erased", time.Now(), "test"})
	if s, err := persistingEngine(db).restore(ctx, testNow); err != nil || s != nil {
		t.Fatalf("restore after the erasure: %v; want no snapshot, got one: %v", err, s != nil)
	}
}

// TestDecodeSnapshotRefusesEveryTruncation: a persisted snapshot cut
// anywhere is an error, never a panic or a partial index.
func TestDecodeSnapshotRefusesEveryTruncation(t *testing.T) {
	db := population(t)
	s, err := testEngine(db, nil).readSnapshot(context.Background(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeSnapshot(enc, DefaultCityTiers(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, back, s)
	if !slices.Equal(back.merges.ids, s.merges.ids) || !slices.Equal(back.merges.into, s.merges.into) || len(s.merges.ids) != 1 {
		t.Errorf("merges %v into %v, want %v into %v (11 into 10)", back.merges.ids, back.merges.into, s.merges.ids, s.merges.into)
	}
	for n := range len(enc) {
		if _, err := decodeSnapshot(enc[:n], DefaultCityTiers(), testNow); !errors.Is(err, errPersisted) {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(enc), err)
		}
	}
}

// sameSnapshot compares two trait snapshots by what they answer: the
// universe, every numeric trait's persons and values, and the members of
// every city, province, tier and channel.
func sameSnapshot(t *testing.T, got, want *traitSnapshot) {
	t.Helper()
	if !got.universe.Equals(want.universe) {
		t.Fatalf("universe %v, want %v", got.universe.ToArray(), want.universe.ToArray())
	}
	for name, w := range want.numeric {
		g := got.numeric[name]
		if g == nil {
			t.Errorf("%s: no index", name)
			continue
		}
		if !g.exists.Equals(w.exists) {
			t.Errorf("%s: persons %v, want %v", name, g.exists.ToArray(), w.exists.ToArray())
			continue
		}
		gv, wv := g.values(w.exists), w.values(w.exists)
		for id, v := range wv {
			if gv[id] != v {
				t.Errorf("%s of %d: %d, want %d", name, id, gv[id], v)
			}
		}
	}
	byValue := func(cs []category) map[any]*roaring.Bitmap {
		out := map[any]*roaring.Bitmap{}
		for _, c := range cs {
			if !c.members.IsEmpty() {
				out[c.value] = c.members
			}
		}
		return out
	}
	for _, trait := range []string{"city", "province", "city_tier", ""} {
		g, w := got.categories[trait], want.categories[trait]
		if trait == "" {
			g, w = got.channels, want.channels
		}
		gm, wm := byValue(g), byValue(w)
		if len(gm) != len(wm) {
			t.Errorf("%q: %d values, want %d", trait, len(gm), len(wm))
		}
		for v, bm := range wm {
			if gm[v] == nil || !gm[v].Equals(bm) {
				t.Errorf("%q = %v: %v, want %v", trait, v, gm[v], bm.ToArray())
			}
		}
	}
}
