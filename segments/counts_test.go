package segments

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store/storetest"
)

// arrayState encodes ids as ClickHouse's groupArray(UInt32) state.
func arrayState(ids []uint32) []byte {
	out := binary.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		out = binary.LittleEndian.AppendUint32(out, id)
	}
	return out
}

// TestRowCountsMatchAMap counts random rows (chunks in any order, ids past
// the byte array, saturation past 255, merged persons, id 0) against a
// plain map of exact counts, for ranges at the edges of the byte.
func TestRowCountsMatchAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	exact := map[uint32]int{}
	var c rowCounts
	groups := make([][]uint32, 4)
	for range 20000 {
		id := uint32(rng.IntN(3 << 20))
		switch rng.IntN(10) {
		case 0:
			id = 0
		case 1:
			id = denseIDs + uint32(rng.IntN(5)) // an id of no person, past the array
		case 2:
			id = 7 // one person with hundreds of rows
		}
		g := rng.IntN(len(groups))
		groups[g] = append(groups[g], id)
		exact[id]++
	}
	for _, g := range groups {
		if err := c.addState(arrayState(g)); err != nil {
			t.Fatal(err)
		}
	}
	// 9 merged into 7 (past 255 already), 11 into 12, far ids into 13 and
	// 14.
	m := newMerges(map[uint32]uint32{9: 7, 11: 12, denseIDs + 1: 13, denseIDs + 2: 14})
	for _, id := range []uint32{11, 11, 12, 9} {
		c.add(id, 1)
		exact[id]++
	}
	c.fold(m)
	for i, id := range m.ids {
		exact[m.into[i]] += exact[id]
		delete(exact, id)
	}
	if exact[7] < 300 {
		t.Fatalf("person 7 has %d rows, want past 255", exact[7])
	}
	for _, r := range []intRange{{1, maxInt}, {2, maxInt}, {2, 2}, {1, 3}, {254, maxInt}, {254, 254}, {200, 254}} {
		lo, hi, ok := countedRange(&r)
		if !ok {
			t.Fatalf("%v has no counted form", r)
		}
		want := roaring.New()
		for id, n := range exact {
			if id != 0 && int64(n) >= r.lo && int64(n) <= r.hi {
				want.Add(id)
			}
		}
		if got := c.bitmap(lo, hi); !got.Equals(want) {
			t.Errorf("count %v: %d persons, want %d; extra %v, missing %v", r, got.GetCardinality(), want.GetCardinality(),
				firstOf(roaring.AndNot(got, want)), firstOf(roaring.AndNot(want, got)))
		}
	}
	for _, r := range []intRange{{255, maxInt}, {1, 255}, {0, 3}, {minInt, 2}} {
		if _, _, ok := countedRange(&r); ok {
			t.Errorf("%v has a counted form, but bytes cannot tell it", r)
		}
	}
}

// TestRowCountsRefuseABrokenState: a state whose length disagrees with
// its count is an error, not a guess.
func TestRowCountsRefuseABrokenState(t *testing.T) {
	var c rowCounts
	state := arrayState([]uint32{1, 2, 3})
	for _, bad := range [][]byte{state[:len(state)-1], append(state, 0), nil} {
		if err := c.addState(bad); err == nil {
			t.Errorf("state %x accepted", bad)
		}
	}
}

// TestCountedGroupsStayUnderTheEnginesArrayLimit: the engine refuses a
// groupArray state of more than 16,777,215 values, so a counted leaf of
// more rows than that failed when its rows went into one state (or one
// per chunk of person ids, for many rows per person); countedGroups splits
// them by row number.
func TestCountedGroupsStayUnderTheEnginesArrayLimit(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	const rows = 17_000_000
	var groups, longest uint64
	q := "SELECT count(), max(length(s)) FROM (SELECT toString(groupArrayState(toUInt32(number))) AS s FROM numbers({n:UInt64}) GROUP BY " + countedGroups + ")"
	if err := db.Conn.QueryRow(ctx, q, clickhouse.Named("n", uint64(rows))).Scan(&groups, &longest); err != nil {
		t.Fatal(err)
	}
	if groups < rows/(1<<22) || longest > 4<<22+8 {
		t.Errorf("%d rows in %d groups, the longest state %d bytes", rows, groups, longest)
	}
	err := db.Conn.QueryRow(ctx, "SELECT length(toString(groupArrayState(toUInt32(number)))) FROM numbers({n:UInt64})", clickhouse.Named("n", uint64(rows))).Scan(&longest)
	if err == nil || !strings.Contains(err.Error(), "Too large array size") {
		t.Errorf("one state of %d values: %v, want the engine's refusal (is the limit gone?)", rows, err)
	}
}
