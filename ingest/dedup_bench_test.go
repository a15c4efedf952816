package ingest

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// mapDedup is the deduplication memory this package had before the store:
// every key of the window in Go maps (a 64-bit hash per key, ~40 bytes),
// kept here to compare costs in the same run.
type mapDedup struct {
	mu     sync.Mutex
	seed   maphash.Seed
	window time.Duration
	gens   []mapGeneration // newest last
}

type mapGeneration struct {
	start time.Time
	keys  map[uint64]struct{}
}

func newMapDedup(window time.Duration) *mapDedup {
	return &mapDedup{seed: maphash.MakeSeed(), window: window}
}

func (d *mapDedup) reserve(key string, now time.Time) bool {
	h := maphash.String(d.seed, key)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.gens {
		if _, ok := g.keys[h]; ok {
			return false
		}
	}
	step := d.window / dedupGenerations
	if n := len(d.gens); n == 0 || now.Sub(d.gens[n-1].start) >= step {
		d.gens = append(d.gens, mapGeneration{start: now, keys: map[uint64]struct{}{}})
	}
	for len(d.gens) > 1 && now.Sub(d.gens[1].start) > d.window {
		d.gens = d.gens[1:]
	}
	d.gens[len(d.gens)-1].keys[h] = struct{}{}
	return true
}

// benchKey is the deduplication key of a Segment event whose messageId is
// a random-looking UUID (as analytics SDKs make), the i-th of a sequence.
func benchKey(i int) string {
	h1 := xxhash.Sum64(binary.LittleEndian.AppendUint64(nil, uint64(i)))
	h2 := xxhash.Sum64(binary.LittleEndian.AppendUint64(nil, h1))
	return fmt.Sprintf("e|app|%08x-%04x-4%03x-a%03x-%012x", h1>>32, h1>>16&0xffff, h1&0xfff, h2>>48&0xfff, h2&0xffffffffffff)
}

// dedupBench is the store's cost per key, as a request pays it: reserve,
// then the write after the spool append, in requests of batch keys.
type dedupBench struct {
	d     *Dedup
	next  int
	clock time.Time
}

func newDedupBench(b *testing.B, opts DedupOptions) *dedupBench {
	opts.Dir = b.TempDir()
	d, err := OpenDedup(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	d.bind(func() uint64 { return 0 })
	return &dedupBench{d: d, clock: time.Date(2026, 6, 18, 0, 0, 0, 0, time.UTC)}
}

// fill reserves and writes n new keys.
func (s *dedupBench) fill(b *testing.B, n, batch int) {
	for i := 0; i < n; i += batch {
		r := s.d.request()
		for range min(batch, n-i) {
			if ok, err := r.reserve(benchKey(s.next), s.clock); !ok || err != nil {
				b.Fatalf("key %d: %v %v", s.next, ok, err)
			}
			s.next++
		}
		r.commit()
	}
	// Let Pebble finish the flushes and compactions of the fill, so that
	// the timed part pays its own work only.
	for idle := 0; idle < 5; {
		time.Sleep(50 * time.Millisecond)
		if m := s.d.db.Metrics(); m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			idle++
		} else {
			idle = 0
		}
	}
}

// BenchmarkDedup compares, per key, the store (a Bloom filter per
// generation in front of Pebble) with the maps it replaced, with 1 M keys
// already in the window: a new key (for the store: reserve, and the write
// after the spool append, by requests of 100 keys), a retry (a key already
// there), and for the store the disk lookup a filter's false positive
// costs. Each reports the p99 of one lookup (reserve) as p99-ns.
func BenchmarkDedup(b *testing.B) {
	const preload = 1_000_000
	keys := make([]string, preload)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	b.Run("store/new", func(b *testing.B) {
		s := newDedupBench(b, DedupOptions{})
		s.fill(b, preload, 100)
		fresh := make([]string, b.N)
		for i := range fresh {
			fresh[i] = benchKey(preload + i)
		}
		r := s.d.request()
		timedThen(b, func(i int) {
			if ok, err := r.reserve(fresh[i], s.clock); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}, func(i int) {
			if i%100 == 99 || i == b.N-1 {
				r.commit()
				r = s.d.request()
			}
		})
		st := s.d.Stats()
		b.ReportMetric(float64(st.DiskLookups)/float64(preload+b.N), "disk-lookups/key")
		keysM := float64(preload+b.N) / 1e6
		b.ReportMetric(float64(st.DiskBytes)/1e6/keysM, "disk-MB/Mkeys")
		b.ReportMetric(float64(s.d.db.Metrics().Table.Local.LiveSize)/1e6/keysM, "tables-MB/Mkeys")
		b.ReportMetric(float64(st.FilterBytes)/(1<<20), "filter-MiB")
	})
	// A retry of one of the last 10,000 keys (an SDK retrying within
	// seconds or minutes), and of any key of the window (the worst case:
	// the key's blocks are seldom in Pebble's cache).
	for _, tc := range []struct {
		name   string
		recent int
	}{{"store/retry-recent", 10_000}, {"store/retry-any", preload}} {
		b.Run(tc.name, func(b *testing.B) {
			s := newDedupBench(b, DedupOptions{})
			s.fill(b, preload, 100)
			r := s.d.request()
			timed(b, func(i int) {
				if ok, err := r.reserve(keys[preload-1-(i*7919)%tc.recent], s.clock); ok || err != nil {
					b.Fatal(ok, err)
				}
			})
		})
	}
	b.Run("store/disk-miss", func(b *testing.B) {
		s := newDedupBench(b, DedupOptions{})
		s.fill(b, preload, 100)
		g := s.d.gens[len(s.d.gens)-1].idx
		timed(b, func(i int) {
			if found, err := s.d.onDisk(g, keys[(i*7919)%preload]+"x"); found || err != nil {
				b.Fatal(found, err)
			}
		})
	})
	for _, retry := range []bool{false, true} {
		name := map[bool]string{false: "map/new", true: "map/retry"}[retry]
		b.Run(name, func(b *testing.B) {
			d, now := newMapDedup(24*time.Hour), time.Now()
			for _, k := range keys {
				d.reserve(k, now)
			}
			fresh := make([]string, b.N)
			for i := range fresh {
				fresh[i] = benchKey(preload + i)
				if retry {
					fresh[i] = keys[(i*7919)%preload]
				}
			}
			timed(b, func(i int) {
				if d.reserve(fresh[i], now) == retry {
					b.Fatal("wrong answer")
				}
			})
		})
	}
}

// timed runs op b.N times and reports the p99 of its durations and the
// process's CPU time per op (background work included, such as Pebble's
// flushes and compactions; steadier than wall time on a shared machine).
func timed(b *testing.B, op func(i int)) { timedThen(b, op, func(int) {}) }

// timedThen is timed with then run after each op, counted in ns/op and
// cpu-ns/op but not in the op's duration (the write of a request's keys
// after its last reserve).
func timedThen(b *testing.B, op, then func(i int)) {
	lat := make([]time.Duration, b.N)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		op(i)
		lat[i] = time.Since(t0)
		then(i)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
