package ingest

import (
	"hash/maphash"
	"sync"
	"time"
)

// dedup remembers the keys (source + messageId, msgid, callback keys) of
// recently accepted records, so a client's retry is acknowledged without
// being stored twice. Keys live for at least the window and at most
// window*(1+1/generations); memory is about 40 bytes per key (5 M keys a
// day: ~200 MB for a 24 h window). It is safe for concurrent use.
//
// A 64-bit hash stands for each key; with 10^7 keys the chance that two
// different keys collide is about 3e-6.
type dedup struct {
	mu     sync.Mutex
	seed   maphash.Seed
	window time.Duration
	gens   []generation // newest last
}

type generation struct {
	start time.Time
	keys  map[uint64]struct{}
}

const dedupGenerations = 8

func newDedup(window time.Duration) *dedup {
	return &dedup{seed: maphash.MakeSeed(), window: window}
}

func (d *dedup) hash(key string) uint64 { return maphash.String(d.seed, key) }

// reserve adds key unless it is already known; it reports whether it was
// added. A reservation whose record could not be spooled is released.
func (d *dedup) reserve(key string, now time.Time) bool {
	h := d.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.gens {
		if _, ok := g.keys[h]; ok {
			return false
		}
	}
	d.current(now)[h] = struct{}{}
	return true
}

// release forgets a reservation.
func (d *dedup) release(key string) {
	h := d.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.gens {
		delete(g.keys, h)
	}
}

// current returns the newest generation's set, rotating and expiring
// generations as time passes. The caller holds d.mu.
func (d *dedup) current(now time.Time) map[uint64]struct{} {
	step := d.window / dedupGenerations
	if n := len(d.gens); n == 0 || now.Sub(d.gens[n-1].start) >= step {
		d.gens = append(d.gens, generation{start: now, keys: map[uint64]struct{}{}})
	}
	// Drop generations that ended before the window began.
	for len(d.gens) > 1 && now.Sub(d.gens[1].start) > d.window {
		d.gens = d.gens[1:]
	}
	return d.gens[len(d.gens)-1].keys
}

// size is the number of keys remembered.
func (d *dedup) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, g := range d.gens {
		n += len(g.keys)
	}
	return n
}
