package segments

import (
	"context"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestLeafCacheBoundedByBytes fills a cache whose byte budget holds two
// dense leaves with three: the least recently used goes, the bytes it
// reports stay within the budget, and the two others are still hits.
func TestLeafCacheBoundedByBytes(t *testing.T) {
	dense := func(from uint64) *roaring.Bitmap { // bitmap containers, ~8 KB each
		bm := roaring.New()
		for i := from; i < from+1<<18; i += 2 {
			bm.Add(uint32(i))
		}
		return bm
	}
	size := dense(0).GetSizeInBytes()
	c := newLeafCache(100, 2*size+size/2, time.Hour)
	ctx := context.Background()
	leaves := []*sqlLeaf{{key: "a", kinds: []string{KindEvents}}, {key: "b", kinds: []string{KindEvents}}, {key: "c", kinds: []string{KindOrders}}}
	get := func(l *sqlLeaf, i int) {
		t.Helper()
		compute := func() (*roaring.Bitmap, error) { return dense(uint64(i) << 20), nil }
		if _, err := c.get(ctx, l, testNow, 0, compute, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range leaves {
		get(l, i)
	}
	s := c.snapshotStats()
	if s.Leaves != 2 || s.Evictions != 1 || s.Bytes > 2*size+size/2 || c.entries["a"] != nil {
		t.Fatalf("after three leaves of %d bytes under a budget of %d: %+v, leaf a kept %v", size, 2*size+size/2, s, c.entries["a"] != nil)
	}
	get(leaves[1], 1)
	get(leaves[2], 2)
	if s2 := c.snapshotStats(); s2.Hits != s.Hits+2 || s2.Misses != s.Misses {
		t.Fatalf("leaves b and c read again: %+v, want two hits (before %+v)", s2, s)
	}
	c.invalidate([]string{KindOrders})
	if s3 := c.snapshotStats(); s3.Leaves != 1 || s3.Bytes != size {
		t.Fatalf("after invalidating orders: %+v, want leaf b's %d bytes", s3, size)
	}
}
