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
// frozen: readers share them, a patch clones, patches and swaps.
//
// New records do not recompute anything when they arrive: touch only marks
// the persons they name dirty in every leaf reading their kind (and in
// every computation of such a leaf under way). A leaf is brought up to
// date when it is next read, by one query restricted to its dirty persons
// (patch), or in full when more than patchMax persons are dirty. So the
// cost of ingest is the leaves somebody reads (the live segments', each
// round; an analyst's, when asked), not every leaf the cache holds.
//
// Every record kind has a generation, bumped by Invalidate; a computation
// stores its result only if the generations of the kinds it reads did not
// move while it ran, so a leaf read before an invalidation never
// overwrites a newer one. Concurrent requests for the same leaf share one
// computation or patch; an estimate whose cached bitmap is within its
// staleness takes that bitmap instead of waiting for it.
//
// All methods are goroutine-safe.
type leafCache struct {
	mu       sync.Mutex
	max      int
	maxBytes uint64 // of the entries' bitmaps
	bytes    uint64 // the entries' bitmaps now (their sizes when stored)
	maxAge   time.Duration
	entries  map[string]*cacheEntry
	gens     map[string]uint64
	flights  map[string]*flight
	stats    CacheStats
}

// inBackground, as get's stale, asks for an exact leaf without it counting
// as a read (PatchWarm): a leaf nobody reads any more stops being patched.
const inBackground time.Duration = -1

// patchMax is the most dirty persons a leaf is patched for; above it the
// leaf is recomputed in full, which then costs about as much as the
// restricted query and its list of persons.
const patchMax = 20000

type cacheEntry struct {
	leaf     *sqlLeaf
	bm       *roaring.Bitmap // frozen
	size     uint64          // bm.GetSizeInBytes(), fixed since bm is frozen
	computed time.Time       // full computation (its clock); a patch keeps it
	used     time.Time
	// dirty are the persons (as records named them, with their canonical
	// persons then) with records of the leaf's kinds since bm was computed
	// or patched: bm is exact for everyone else. Guarded by mu; nil when
	// there are none.
	dirty *roaring.Bitmap
	// dirtySince is when (the engine's clock) the first of the dirty
	// persons was marked; reads counts the reads of this bitmap.
	dirtySince time.Time
	reads      int
	// full: more than patchMax persons were dirty, so the next read
	// recomputes the leaf in full; dirty is then kept empty (not nil)
	// rather than growing towards every active person in every leaf.
	full bool
}

type flight struct {
	done       chan struct{}
	bm         *roaring.Bitmap
	err        error
	kinds      []string
	dirty      *roaring.Bitmap // persons touched while it runs (guarded by mu)
	dirtySince time.Time
	full       bool // more than patchMax of them (dirty then kept empty)
}

// CacheStats describes the leaf cache, for metrics and the console.
type CacheStats struct {
	Leaves    int    `json:"leaves"`
	Bytes     uint64 `json:"bytes"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Refreshes uint64 `json:"refreshes"` // leaves patched for their dirty persons
	Evictions uint64 `json:"evictions"`
	// Waits are reads that waited for a computation or patch another
	// caller had started (an estimate within its staleness does not).
	Waits uint64 `json:"waits"`
	// Queries are the engine's leaf and patch queries of callers in the
	// foreground (estimates, live rounds, plans; not PatchWarm), SlotWait
	// the time they waited in all for one of its query slots
	// (Options.Concurrency) and QueryTime the time they took once in one.
	Queries   uint64        `json:"queries"`
	SlotWait  time.Duration `json:"slot_wait_ns"`
	QueryTime time.Duration `json:"query_time_ns"`
}

func newLeafCache(max int, maxBytes uint64, maxAge time.Duration) *leafCache {
	return &leafCache{max: max, maxBytes: maxBytes, maxAge: maxAge, entries: map[string]*cacheEntry{},
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

// get returns the leaf's bitmap at now: from the cache when younger than
// maxAge and clean (or dirty for at most stale); patched (patch(old,
// dirty) returns old brought up to date for the dirty persons) when some
// persons are dirty; else from compute. The bitmap is frozen: do not
// modify it.
func (c *leafCache) get(ctx context.Context, l *sqlLeaf, now time.Time, stale time.Duration, compute func() (*roaring.Bitmap, error),
	patch func(old, dirty *roaring.Bitmap) (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	for {
		c.mu.Lock()
		e := c.entries[l.key]
		if e != nil && now.Sub(e.computed) >= c.maxAge {
			e = nil
		}
		// An estimate (stale > 0) takes the cached bitmap while its first
		// unpatched record is at most stale old, even when a patch of it
		// is under way: that patch (PatchWarm's, every half staleness)
		// keeps it within its staleness without the estimate waiting.
		usable := e != nil && (e.dirty == nil || stale > 0 && now.Sub(e.dirtySince) <= stale) && stale != inBackground
		if f := c.flights[l.key]; f != nil && !usable {
			c.stats.Waits++
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
		if e != nil && e.dirty == nil && stale == inBackground {
			c.mu.Unlock() // patched by a reader since PatchWarm listed it
			return e.bm, nil
		}
		if usable {
			e.used = time.Now()
			e.reads++
			c.stats.Hits++
			c.mu.Unlock()
			return e.bm, nil
		}
		return c.fly(l, e, now, stale == inBackground, compute, patch)
	}
}

// fly computes (e nil or too dirty) or patches e as a flight others wait
// for, and stores the result with the persons touched meanwhile as its
// dirty ones. Called with mu; returns without.
func (c *leafCache) fly(l *sqlLeaf, e *cacheEntry, now time.Time, background bool, compute func() (*roaring.Bitmap, error),
	patch func(old, dirty *roaring.Bitmap) (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	f := &flight{done: make(chan struct{}), kinds: l.kinds, dirty: roaring.New()}
	c.flights[l.key] = f
	gen := c.generation(l.kinds)
	computed := now
	run := compute
	if e != nil && !e.full && e.dirty.GetCardinality() <= patchMax {
		old, dirty := e.bm, e.dirty.Clone()
		computed = e.computed
		run = func() (*roaring.Bitmap, error) { return patch(old, dirty) }
		c.stats.Refreshes++
	} else {
		c.stats.Misses++
	}
	c.mu.Unlock()

	f.bm, f.err = run()
	c.mu.Lock()
	delete(c.flights, l.key)
	if f.err == nil && c.generation(l.kinds) == gen {
		next := &cacheEntry{leaf: l, bm: f.bm, size: f.bm.GetSizeInBytes(), computed: computed, used: time.Now(), reads: 1}
		switch {
		case e != nil && background: // not a read: the leaf ages as if untouched
			next.used, next.reads = e.used, e.reads
		case e != nil:
			next.reads = e.reads + 1
		}
		if f.full || !f.dirty.IsEmpty() {
			next.dirty, next.dirtySince, next.full = f.dirty, f.dirtySince, f.full
		}
		c.put(next)
		c.evict()
	}
	c.mu.Unlock()
	close(f.done)
	return f.bm, f.err
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// put stores e, replacing its leaf's entry. Called with mu.
func (c *leafCache) put(e *cacheEntry) {
	c.drop(e.leaf.key)
	c.entries[e.leaf.key] = e
	c.bytes += e.size
}

// drop removes a leaf's entry. Called with mu.
func (c *leafCache) drop(key string) {
	if old := c.entries[key]; old != nil {
		c.bytes -= old.size
		delete(c.entries, key)
	}
}

// evict drops the least recently used entries above max or maxBytes (the
// last entry stays, whatever its size). Called with mu.
func (c *leafCache) evict() {
	for len(c.entries) > c.max || (c.bytes > c.maxBytes && len(c.entries) > 1) {
		var oldest *cacheEntry
		for _, e := range c.entries {
			if oldest == nil || e.used.Before(oldest.used) {
				oldest = e
			}
		}
		c.drop(oldest.leaf.key)
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
			c.drop(key)
		}
	}
}

// touch marks persons dirty, at now, in the entries and the computations
// under way that read any of kinds.
func (c *leafCache) touch(kinds []string, persons *roaring.Bitmap, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if reads(e.leaf.kinds, kinds) {
			if e.dirty == nil {
				e.dirty, e.dirtySince = roaring.New(), now
			}
			e.dirty, e.full = addDirty(e.dirty, e.full, persons)
		}
	}
	for _, f := range c.flights {
		if reads(f.kinds, kinds) {
			if f.dirty.IsEmpty() && !f.full {
				f.dirtySince = now
			}
			f.dirty, f.full = addDirty(f.dirty, f.full, persons)
		}
	}
}

// addDirty adds persons to a dirty set; past patchMax persons the leaf
// will be recomputed in full, so the set is dropped (full) instead of
// growing towards every active person: at 10,000 events/s a leaf nobody
// reads again would otherwise hold (and touch would extend, under mu) a
// bitmap of everyone active since it was computed.
func addDirty(dirty *roaring.Bitmap, full bool, persons *roaring.Bitmap) (*roaring.Bitmap, bool) {
	if full {
		return dirty, true
	}
	dirty.Or(persons)
	if dirty.GetCardinality() > patchMax {
		return roaring.New(), true
	}
	return dirty, false
}

// rereadDirty returns the leaves with dirty persons that were read more
// than once, the last time within recent: those analysts come back to.
func (c *leafCache) rereadDirty(recent time.Duration) []*sqlLeaf {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sqlLeaf
	for _, e := range c.entries {
		if e.dirty != nil && e.reads > 1 && time.Since(e.used) <= recent {
			out = append(out, e.leaf)
		}
	}
	return out
}

func (c *leafCache) snapshotStats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Leaves, s.Bytes = len(c.entries), c.bytes
	return s
}
