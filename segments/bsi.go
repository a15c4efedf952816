package segments

import (
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"
)

// bsi is a bit-sliced index of non-negative integer values over uint32
// person ids: slices[i] holds the persons whose value has bit i set,
// exists the persons with a value (money in fen, times in Unix
// milliseconds: 41 slices). A range query is about two bitmap operations
// per slice (O'Neil and Quass's algorithm), whatever the number of
// persons.
//
// Why our own and not roaring's: roaring64's BSI works on 64-bit bitmaps,
// so every comparison would convert its result to the 32-bit bitmaps that
// everything else (and ClickHouse's groupBitmap) uses; roaring's 32-bit
// BitSliceIndexing answers CompareValue by testing every candidate column
// bit by bit (a Contains per slice per person), not by bitmap operations;
// BenchmarkBSIRange compares the two. This one is ~150 lines.
//
// A bsi is immutable once built: patch returns a new one that shares the
// slices it did not change.
type bsi struct {
	exists *roaring.Bitmap
	slices []*roaring.Bitmap
}

// buildBSI indexes values[i] for ids[i] (in any order). Negative values
// are stored as 0. Slices are set in dense bitsets of all ids and
// converted at once (five times faster than adding ids to a bitmap),
// sliceGroup slices per pass over the values: each value's set bits are
// visited once per pass, not every slice for every value.
func buildBSI(ids []uint32, values []int64) *bsi {
	b := &bsi{exists: roaring.New()}
	b.exists.AddMany(ids)
	b.exists.RunOptimize()
	var top uint64
	var maxID uint32
	for i, v := range values {
		top |= uint64(max(v, 0))
		maxID = max(maxID, ids[i])
	}
	if len(ids) == 0 {
		return b
	}
	// 16 bitsets of 10 million ids are 20 MB at a time.
	const sliceGroup = 16
	n := bits.Len64(top)
	per := int(maxID/64 + 1)
	words := make([]uint64, min(n, sliceGroup)*per)
	for first := 0; first < n; first += sliceGroup {
		count := min(sliceGroup, n-first)
		clear(words)
		mask := uint64(1)<<count - 1
		for j, v := range values {
			u := uint64(max(v, 0)) >> first & mask
			w, bit := int(ids[j]>>6), uint64(1)<<(ids[j]&63)
			for u != 0 {
				words[bits.TrailingZeros64(u)*per+w] |= bit
				u &= u - 1
			}
		}
		for i := range count {
			s := roaring.FromDense(words[i*per:(i+1)*per], true)
			s.RunOptimize()
			b.slices = append(b.slices, s)
		}
	}
	return b
}

// between returns a new bitmap of the persons whose value is in r.
func (b *bsi) between(r intRange) *roaring.Bitmap {
	if r.hi < r.lo || r.hi < 0 {
		return roaring.New()
	}
	maxStored := uint64(1)<<len(b.slices) - 1
	lo, hi := uint64(0), maxStored
	if r.lo > 0 {
		lo = uint64(r.lo)
	}
	if uint64(r.hi) < maxStored {
		hi = uint64(r.hi)
	}
	if lo > maxStored {
		return roaring.New()
	}
	switch {
	case lo == 0 && hi == maxStored:
		return b.exists.Clone()
	case lo == 0:
		return b.le(hi)
	case hi == maxStored:
		return b.ge(lo)
	}
	ge := b.ge(lo)
	ge.And(b.le(hi))
	return ge
}

// le is the persons whose stored value is at most c: walking from the top
// bit, eq keeps those equal to c so far; a 0 where c has a 1 makes them
// less.
func (b *bsi) le(c uint64) *roaring.Bitmap {
	lt, eq := roaring.New(), b.exists.Clone()
	for i := len(b.slices) - 1; i >= 0 && !eq.IsEmpty(); i-- {
		if c>>i&1 == 1 {
			lt.Or(roaring.AndNot(eq, b.slices[i]))
			eq.And(b.slices[i])
		} else {
			eq.AndNot(b.slices[i])
		}
	}
	lt.Or(eq)
	return lt
}

// ge is the persons whose stored value is at least c.
func (b *bsi) ge(c uint64) *roaring.Bitmap {
	gt, eq := roaring.New(), b.exists.Clone()
	for i := len(b.slices) - 1; i >= 0 && !eq.IsEmpty(); i-- {
		if c>>i&1 == 1 {
			eq.And(b.slices[i])
		} else {
			gt.Or(roaring.And(eq, b.slices[i]))
			eq.AndNot(b.slices[i])
		}
	}
	gt.Or(eq)
	return gt
}

// values returns the values of the persons in candidates (which must
// have values), reading each slice once.
func (b *bsi) values(candidates *roaring.Bitmap) map[uint32]int64 {
	out := make(map[uint32]int64, candidates.GetCardinality())
	it := candidates.Iterator()
	for it.HasNext() {
		out[it.Next()] = 0
	}
	buf := make([]uint32, 256)
	for i, s := range b.slices {
		many := roaring.And(s, candidates).ManyIterator()
		for n := many.NextMany(buf); n > 0; n = many.NextMany(buf) {
			for _, id := range buf[:n] {
				out[id] += 1 << i
			}
		}
	}
	return out
}

// patch returns a copy where the persons in clear have no value and
// ids[i] has values[i] (ids ascend). Slices that do not change are
// shared.
func (b *bsi) patch(clear *roaring.Bitmap, ids []uint32, values []int64) *bsi {
	fresh := buildBSI(ids, values)
	out := &bsi{exists: roaring.Or(roaring.AndNot(b.exists, clear), fresh.exists)}
	for i := range max(len(b.slices), len(fresh.slices)) {
		var old, add *roaring.Bitmap
		if i < len(b.slices) {
			old = b.slices[i]
		}
		if i < len(fresh.slices) {
			add = fresh.slices[i]
		}
		switch {
		case old == nil:
			out.slices = append(out.slices, add)
		case !old.Intersects(clear) && (add == nil || add.IsEmpty()):
			out.slices = append(out.slices, old)
		case add == nil:
			out.slices = append(out.slices, roaring.AndNot(old, clear))
		default:
			out.slices = append(out.slices, roaring.Or(roaring.AndNot(old, clear), add))
		}
	}
	return out
}
