package identity

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestIDTableAgreesWithAMap applies random inserts, updates and deletes to
// an idTable and to a Go map, through several directory doublings, and
// checks every answer and the final contents against the map.
func TestIDTableAgreesWithAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tab, ref := newIDTable(), map[idKey]uint32{}
	var keys []idKey
	for op := range 300_000 {
		switch x := r.IntN(10); {
		case x < 6 || len(keys) == 0: // a new key
			k := idKey{r.Uint64(), r.Uint64()}
			if op%97 == 0 && len(keys) > 0 {
				// Same a as a known key, another b: the 96-bit key tells them apart.
				k.a = keys[r.IntN(len(keys))].a
			}
			v := r.Uint32()
			tab.set(k, v)
			ref[k] = v
			keys = append(keys, k)
		case x < 8: // an update
			k, v := keys[r.IntN(len(keys))], r.Uint32()
			tab.set(k, v)
			ref[k] = v
		default: // a delete
			k := keys[r.IntN(len(keys))]
			tab.del(k)
			delete(ref, k)
		}
		if op%1000 == 0 {
			k := keys[r.IntN(len(keys))]
			got, ok := tab.get(k)
			want, wantOK := ref[k]
			if got != want || ok != wantOK {
				t.Fatalf("op %d: get = %d %v, want %d %v", op, got, ok, want, wantOK)
			}
		}
	}
	if tab.len() != len(ref) {
		t.Fatalf("len = %d, want %d", tab.len(), len(ref))
	}
	if tab.depth < 6 {
		t.Fatalf("depth %d: the test did not double the directory enough", tab.depth)
	}
	for _, k := range keys {
		got, ok := tab.get(k)
		want, wantOK := ref[k]
		if got != want || ok != wantOK {
			t.Fatalf("get = %d %v, want %d %v", got, ok, want, wantOK)
		}
		if _, ok := tab.get(idKey{k.a, k.b ^ 1<<40}); ok {
			t.Fatal("a key differing in b's high bits was found")
		}
	}
	n := 0
	for _, b := range tab.buckets {
		for i := 1; i < len(b); i++ {
			if b[i-1].hi > b[i].hi || (b[i-1].hi == b[i].hi && b[i-1].lo>>32 >= b[i].lo>>32) {
				t.Fatal("bucket not sorted")
			}
		}
		n += len(b)
	}
	if n != len(ref) {
		t.Fatalf("%d slots, want %d", n, len(ref))
	}
}

// BenchmarkIDTable compares the identifier index with the Go map it
// replaced, in the same run: bytes per identifier (live heap after a GC),
// inserts, lookups of known keys and of unknown keys per second.
// CDP_BENCH_IDS sets the number of identifiers (default 4 million, the
// 1M-person world's).
//
//	go test ./identity -run '^$' -bench IDTable -benchmem -benchtime 1x
func BenchmarkIDTable(b *testing.B) {
	n := 4_000_000
	if v, err := strconv.Atoi(os.Getenv("CDP_BENCH_IDS")); err == nil && v > 0 {
		n = v
	}
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]idKey, n)
	for i := range keys {
		keys[i] = idKey{r.Uint64(), r.Uint64()}
	}
	type index struct {
		set func(idKey, uint32)
		get func(idKey) (uint32, bool)
	}
	kinds := []struct {
		name string
		make func() index
	}{
		{"gomap", func() index {
			m := map[idKey]uint32{}
			return index{func(k idKey, v uint32) { m[k] = v }, func(k idKey) (uint32, bool) { v, ok := m[k]; return v, ok }}
		}},
		{"idtable", func() index {
			t := newIDTable()
			return index{t.set, t.get}
		}},
	}
	for _, kind := range kinds {
		b.Run(kind.name, func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ix := kind.make()
				start := time.Now()
				for i, k := range keys {
					ix.set(k, uint32(i))
				}
				inserts := time.Since(start)
				runtime.GC()
				runtime.ReadMemStats(&after)
				start = time.Now()
				found := 0
				for i := 0; i < n; i += 7 {
					if v, ok := ix.get(keys[i]); ok && v == uint32(i) {
						found++
					}
				}
				hits := time.Since(start)
				if found != (n+6)/7 {
					b.Fatalf("found %d of %d", found, (n+6)/7)
				}
				start = time.Now()
				for i := 0; i < n; i += 7 {
					if _, ok := ix.get(idKey{keys[i].b, keys[i].a}); ok {
						b.Fatal("found an unknown key")
					}
				}
				misses := time.Since(start)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/identifier")
				b.ReportMetric(float64(n)/inserts.Seconds(), "inserts/s")
				b.ReportMetric(float64(n/7)/hits.Seconds(), "lookups/s")
				b.ReportMetric(float64(n/7)/misses.Seconds(), "misses/s")
				runtime.KeepAlive(ix)
			}
		})
	}
}
