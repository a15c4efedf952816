package segments

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestBSIRangesMatchAScan checks every kind of range against a scan of the
// values, before and after a patch.
func TestBSIRangesMatchAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	values := map[uint32]int64{}
	var ids []uint32
	var vals []int64
	for id := uint32(0); id < 5000; id += 1 + uint32(r.IntN(3)) {
		v := int64(r.IntN(1000))
		ids, vals, values[id] = append(ids, id), append(vals, v), v
	}
	idx := buildBSI(ids, vals)
	check := func(stage string) {
		for _, rg := range []intRange{
			{minInt, maxInt}, {0, 0}, {1, maxInt}, {minInt, 499}, {250, 750}, {999, 999},
			{1000, maxInt}, {-5, 3}, {minInt, -1}, {512, 512}, {511, 513},
		} {
			want := roaring.New()
			for id, v := range values {
				if v >= rg.lo && v <= rg.hi {
					want.Add(id)
				}
			}
			if got := idx.between(rg); !got.Equals(want) {
				t.Errorf("%s: range %v: %d persons, want %d", stage, rg, got.GetCardinality(), want.GetCardinality())
			}
		}
		vs := idx.values(idx.exists)
		for id, v := range values {
			if vs[id] != v {
				t.Fatalf("%s: value of %d is %d, want %d", stage, id, vs[id], v)
			}
		}
	}
	check("built")

	// Patch: clear some persons, give others (old and new) new values,
	// including larger than any so far (a new slice).
	clear := roaring.BitmapOf(0, 3, 9, 4000)
	for _, id := range clear.ToArray() {
		delete(values, id)
	}
	newIDs := []uint32{3, 4000, 6000, 7000}
	newVals := []int64{5, 0, 4096, 12}
	for i, id := range newIDs {
		values[id] = newVals[i]
	}
	old := idx
	oldExists := old.exists.Clone()
	idx = idx.patch(clear, newIDs, newVals)
	check("patched")
	if !old.exists.Equals(oldExists) {
		t.Error("patch modified the original index")
	}
	if !slices.Equal(idx.between(intRange{4096, 4096}).ToArray(), []uint32{6000}) {
		t.Error("a value with a new top bit is not found")
	}
}

// TestBSIOfTimesMatchesAScan indexes values of 41 bits (Unix
// milliseconds, as last_order_at), built in several groups of slices.
func TestBSIOfTimesMatchesAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const base = int64(1_780_000_000_000)
	values := map[uint32]int64{}
	var ids []uint32
	var vals []int64
	for id := uint32(1); id < 20000; id += 1 + uint32(r.IntN(5)) {
		v := base + r.Int64N(400*dayMS)
		if r.IntN(50) == 0 {
			v = int64(r.IntN(3)) // and a few tiny ones
		}
		ids, vals, values[id] = append(ids, id), append(vals, v), v
	}
	idx := buildBSI(ids, vals)
	if len(idx.slices) != 41 {
		t.Fatalf("%d slices, want 41", len(idx.slices))
	}
	for _, rg := range []intRange{{base + 100*dayMS, maxInt}, {minInt, base + 37*dayMS + 12345}, {base + dayMS, base + 2*dayMS}, {0, 1}} {
		want := roaring.New()
		for id, v := range values {
			if v >= rg.lo && v <= rg.hi {
				want.Add(id)
			}
		}
		if got := idx.between(rg); !got.Equals(want) || want.IsEmpty() {
			t.Errorf("range %v: %d persons, want %d", rg, got.GetCardinality(), want.GetCardinality())
		}
	}
	vs := idx.values(idx.exists)
	for id, v := range values {
		if vs[id] != v {
			t.Fatalf("value of %d is %d, want %d", id, vs[id], v)
		}
	}
}
