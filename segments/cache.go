package segments

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// leafCache keeps behaviour leaves' bitmaps by leaf key (SQL text and
// parameters) with the time they were computed. Bitmaps in the cache are
// frozen: readers share them, a refresh clones, patches and swaps.
//
// Every record kind has a generation, bumped by Invalidate and Refresh; a
// computation stores its result only if the generations of the kinds it
// reads did not move while it ran, so a leaf read before new records
// arrived never overwrites a newer one. Concurrent requests for the same
// missing leaf share one computation.
//
// All methods are goroutine-safe.
type leafCache struct {
	mu      sync.Mutex
	max     int
	maxAge  time.Duration
	entries map[string]*cacheEntry
	gens    map[string]uint64
	flights map[string]*flight
	stats   CacheStats
}

type cacheEntry struct {
	leaf     *sqlLeaf
	bm       *roaring.Bitmap // frozen
	computed time.Time       // full computation (its clock); Refresh keeps it
	used     time.Time
}

type flight struct {
	done chan struct{}
	bm   *roaring.Bitmap
	err  error
}

// CacheStats describes the leaf cache, for metrics and the console.
type CacheStats struct {
	Leaves    int    `json:"leaves"`
	Bytes     uint64 `json:"bytes"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Refreshes uint64 `json:"refreshes"` // leaves patched by Refresh
	Evictions uint64 `json:"evictions"`
}

func newLeafCache(max int, maxAge time.Duration) *leafCache {
	return &leafCache{max: max, maxAge: maxAge, entries: map[string]*cacheEntry{},
		gens: map[string]uint64{}, flights: map[string]*flight{}}
}

// generation sums the generations of kinds and of persons (merges touch
// every leaf); it only grows.
func (c *leafCache) generation(kinds []string) uint64 {
	g := c.gens[KindPersons]
	for _, k := range kinds {
		g += c.gens[k]
	}
	return g
}

// get returns the leaf's bitmap, from the cache when younger than maxAge
// at now, else from compute. The bitmap is frozen: do not modify it.
func (c *leafCache) get(ctx context.Context, l *sqlLeaf, now time.Time, compute func() (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	for {
		c.mu.Lock()
		if e := c.entries[l.key]; e != nil && now.Sub(e.computed) < c.maxAge {
			e.used = time.Now()
			c.stats.Hits++
			c.mu.Unlock()
			return e.bm, nil
		}
		if f := c.flights[l.key]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
				continue // the caller who computed it gave up; try again
			}
			return f.bm, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.flights[l.key] = f
		gen := c.generation(l.kinds)
		c.stats.Misses++
		c.mu.Unlock()

		f.bm, f.err = compute()
		c.mu.Lock()
		delete(c.flights, l.key)
		if f.err == nil && c.generation(l.kinds) == gen {
			c.entries[l.key] = &cacheEntry{leaf: l, bm: f.bm, computed: now, used: time.Now()}
			c.evict()
		}
		c.mu.Unlock()
		close(f.done)
		return f.bm, f.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// evict drops the least recently used entries above max. Called with mu.
func (c *leafCache) evict() {
	for len(c.entries) > c.max {
		var oldest *cacheEntry
		for _, e := range c.entries {
			if oldest == nil || e.used.Before(oldest.used) {
				oldest = e
			}
		}
		delete(c.entries, oldest.leaf.key)
		c.stats.Evictions++
	}
}

// reads reports whether a leaf reading leafKinds is affected by a change
// of kinds: merges (persons) affect every leaf.
func reads(leafKinds, kinds []string) bool {
	for _, k := range kinds {
		if k == KindPersons || slices.Contains(leafKinds, k) {
			return true
		}
	}
	return false
}

// invalidate drops the entries reading any of kinds (all when kinds is
// empty) and bumps their generations.
func (c *leafCache) invalidate(kinds []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(kinds) == 0 {
		kinds = []string{KindPersons}
	}
	for _, k := range kinds {
		c.gens[k]++
	}
	for key, e := range c.entries {
		if reads(e.leaf.kinds, kinds) {
			delete(c.entries, key)
		}
	}
}

// affected bumps the generations of kinds and returns the entries that
// read them, for a refresh.
func (c *leafCache) affected(kinds []string) []*cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range kinds {
		c.gens[k]++
	}
	var out []*cacheEntry
	for _, e := range c.entries {
		if reads(e.leaf.kinds, kinds) {
			out = append(out, e)
		}
	}
	return out
}

// replace swaps old's bitmap for a patched one, unless old was dropped or
// replaced meanwhile.
func (c *leafCache) replace(old *cacheEntry, bm *roaring.Bitmap) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[old.leaf.key] != old {
		return false
	}
	c.entries[old.leaf.key] = &cacheEntry{leaf: old.leaf, bm: bm, computed: old.computed, used: old.used}
	c.stats.Refreshes++
	return true
}

func (c *leafCache) snapshotStats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Leaves = len(c.entries)
	for _, e := range c.entries {
		s.Bytes += e.bm.GetSizeInBytes()
	}
	return s
}
