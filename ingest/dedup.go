package ingest

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Dedup remembers the deduplication keys (source + messageId, msgid,
// callback keys) of the records accepted within the window, so that a
// client's retry is acknowledged without being stored twice, across
// restarts and crashes, while a key older than the window is accepted
// again. It is safe for concurrent use.
//
// Its memory does not grow with the window. The keys live on disk in a
// Pebble store, each under the 8-byte index of its time generation (the
// window cut in dedupGenerations), so a whole generation expires with one
// DeleteRange. In front of the disk each live generation has a blocked
// Bloom filter: a key no filter may hold is new without a disk read, and a
// retry costs one disk lookup. The filters share a fixed budget
// (DedupOptions.FilterBytes). When a generation holds more keys than its
// filter was planned for, the false-positive rate rises: more new keys are
// looked up on disk, which costs time, never a wrong answer, since the disk
// holds every key exactly (the whole key, not a hash). A key lives at least
// the window and at most window*(1+1/dedupGenerations).
//
// Memory: the live generations' filters (a generation's share is taken
// when it starts, so the filters reach FilterBytes once a window has
// passed, and stay there), Pebble's memtables and block cache (at most
// 2×8 MiB + 16 MiB, outside the Go heap), and the keys of the requests in
// flight. Disk: ~35 MB per million keys (messageIds of 36 characters) plus
// Pebble's WAL. At start each generation's filter is loaded from the file
// written when it ended or at a clean stop; one without (the newest after
// a crash) answers "maybe", a disk lookup, until it is rebuilt from its
// keys in the background.
//
// Durability. A request's keys are reserved in memory (a pending set, so
// concurrent copies of a request find them), the records are appended to
// the spool, which fsyncs, and only then are the keys written to the store,
// without an fsync of their own, before the request is acknowledged:
//   - a key reaches the disk only after its record is durable, so a crash
//     never leaves a key whose record was lost, which would turn the retry
//     of an unacknowledged request into a dropped "duplicate";
//   - a durable record whose key had not reached the disk at a crash (a
//     SIGKILL before Pebble's WAL writer flushed, a power loss before the
//     OS wrote it) is found again by Collector.Warm at start: records still
//     in the spool are replayed, and records the pipeline had already moved
//     to ClickHouse are exactly those above the store's watermark. Each
//     write carries a watermark W: every record with a spool sequence ≤ W
//     has its keys in that write or an earlier one. The WAL is replayed as
//     a prefix, so the W that survives a crash is true, and Warm reads only
//     the ClickHouse rows with spool_seq > W instead of the whole window.
//     Without a sync, Pebble hands its WAL to the OS a 32 KiB block at a
//     time and syncs it every MiB: a kill loses at most the last block
//     (about a thousand keys), a power loss at most the last MiB; none
//     after a clean stop.
//
// So a reservation is as durable as the acknowledged record it guards, at
// the cost of one fsync per request (the spool's), as before.
type Dedup struct {
	opts   DedupOptions
	step   time.Duration // a generation's length: window / dedupGenerations, rounded up
	perGen int64         // a generation filter's bytes
	logger *slog.Logger

	db      *pebble.DB
	fs      vfs.FS
	filters string // directory of the filter files

	stripes [dedupStripes]dedupStripe

	mu     sync.RWMutex  // guards gens and newest; held for reading by lookups
	gens   []*generation // ascending index
	newest int64         // index of the generation receiving keys; -1 before the first

	flightMu sync.Mutex
	flights  []uint64      // lower bounds of the spool sequences of requests between reserve and commit
	lastSeq  func() uint64 // the spool's last sequence number
	warmed   bool          // Warm has run: commits may advance the watermark

	diskLookups atomic.Int64 // keys looked up on disk (a filter said maybe)

	persistMu sync.Mutex // serialises filter file writes
	bg        sync.WaitGroup
	stop      chan struct{}
}

// DedupOptions configure a Dedup.
type DedupOptions struct {
	// Dir holds the keys (Dir/keys, a Pebble store) and the filters of the
	// generations that ended (Dir/filters). It is made private (0700). ""
	// keeps everything in memory, growing with the window: for tests and
	// tools, not for a platform.
	Dir string
	// Window is how long a key is remembered to drop client retries. 24 h
	// covers SDK retry queues and WeCom's callback retries many times over.
	Window time.Duration
	// FilterBytes is the memory of the in-memory filters, whatever the
	// window holds: each of the dedupGenerations+1 live generations gets an
	// equal share. Default 128 MiB, or 1 MiB for a store in memory (tests
	// make many).
	FilterBytes int64
	// PlannedKeys is the number of keys per window the filters are sized for
	// until the platform has seen a generation's worth; after that each new
	// generation is sized for the previous one's count when larger.
	PlannedKeys int64
	Logger      *slog.Logger
}

// Defaults. 128 MiB of filters is 10 bits per key, a ~1.2% false-positive
// rate per generation (a new key is looked up on disk in ~0.1 generation
// on average), for 96 M keys a day: 1,100 events/s all day. At 5,000
// events/s all day it is 2.2 bits per key: ~36% per generation, so a new
// key costs ~3 disk lookups (each 10 to 30 µs of CPU: a Pebble Get, from
// its cache or the OS's) until the rate drops; correct all the same.
const (
	dedupGenerations   = 8
	dedupStripes       = 64
	defaultDedupWindow = 24 * time.Hour
	defaultFilterBytes = 128 << 20
	memoryFilterBytes  = 1 << 20
	defaultPlannedKeys = 96_000_000
)

// generation is one slice of the window: its filter and the count of keys
// added to it by this process.
type generation struct {
	idx      int64
	filter   *blockedBloom
	trusted  atomic.Bool  // the filter holds every key of the generation on disk
	dropped  atomic.Bool  // expired: stop rebuilding its filter
	reopened atomic.Bool  // a past generation receiving Warm's keys: its filter file waits
	keys     atomic.Int64 // keys added (sizes the next generation's filter)
}

// mayHave reports whether the generation may hold the key of hash h; a
// filter still being rebuilt after a crash answers maybe.
func (g *generation) mayHave(h uint64) bool { return !g.trusted.Load() || g.filter.has(h) }

// dedupStripe holds the keys reserved and not yet on disk, of the keys
// whose hash falls in it, and the keys being looked up. Its lock guards
// the map only: a lookup, which may read the disk, runs outside it, with
// the key marked keyLookingUp so that a concurrent copy of the key waits
// for the answer (on cond) instead of looking up too.
type dedupStripe struct {
	mu      sync.Mutex
	cond    sync.Cond // L is &mu; signalled when a lookup ends and someone waits
	waiters int
	pending map[string]keyState
}

// keyState is a pending key's state.
type keyState uint8

const (
	keyLookingUp keyState = iota + 1 // a request is looking it up (outside the lock)
	keyReserved                      // new: reserved by a request until its commit or release
)

// genIndex is the generation of time t; floor division, so times before
// 1970 work too.
func (d *Dedup) genIndex(t time.Time) int64 {
	n, s := t.UnixNano(), int64(d.step)
	q := n / s
	if n%s < 0 {
		q--
	}
	return q
}

// oldestLive is the oldest generation whose keys are still within the
// window at now: a generation expires once it ended at least a window ago.
func (d *Dedup) oldestLive(now time.Time) int64 { return d.genIndex(now.Add(-d.opts.Window)) }

// dedupRequest is what one request reserved: its keys, to be written to
// the store once its records are spooled (commit) or forgotten (release).
type dedupRequest struct {
	d    *Dedup
	keys []reservation
	lb   uint64 // registered lower bound of the request's spool sequences; 0: none
}

type reservation struct {
	gen int64
	key string
}

func (d *Dedup) request() *dedupRequest { return &dedupRequest{d: d} }

// reserve reserves key unless it is already known (reserved by a request
// in flight or on disk within the window); it reports whether it did.
func (r *dedupRequest) reserve(key string, now time.Time) (bool, error) {
	d := r.d
	h := xxhash.Sum64String(key)
	s := &d.stripes[h%dedupStripes]
	s.mu.Lock()
	for {
		st, ok := s.pending[key]
		if !ok {
			break
		}
		if st == keyReserved {
			s.mu.Unlock()
			return false, nil
		}
		// Another request is looking the key up: its answer decides
		// (reserved: a duplicate; gone: found on disk or failed, so look
		// again).
		s.waiters++
		s.cond.Wait()
		s.waiters--
	}
	s.pending[key] = keyLookingUp
	s.mu.Unlock()
	// The lookup runs outside the stripe's lock (it may read the disk):
	// the mark above keeps copies of the key waiting, and a key written
	// to disk by a commit stays pending until then, so no copy can miss
	// both.
	gen, found, _, err := d.lookup(key, h, now, now, true)
	var lb uint64
	if err == nil && !found && r.lb == 0 {
		lb = d.beginFlight()
	}
	s.mu.Lock()
	if err != nil || found {
		delete(s.pending, key)
	} else {
		s.pending[key] = keyReserved
	}
	if s.waiters > 0 {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if err != nil || found {
		return false, err
	}
	if lb != 0 {
		r.lb = lb
	}
	r.keys = append(r.keys, reservation{gen: gen, key: key})
	return true, nil
}

// commit writes the reserved keys to the store; the request's records are
// durable in the spool. A failed write keeps the keys reserved in memory
// and the watermark below them, so they are still refused as duplicates
// now and found again by Warm after a restart.
func (r *dedupRequest) commit() {
	if len(r.keys) == 0 {
		return
	}
	d := r.d
	b := d.db.NewBatch()
	// In key order: the memtable's skiplist inserts a batch with one
	// inserter, which starts each search from the last one's place, so
	// sorted keys cost fewer comparisons (the memtable's share of the HTTP
	// side's CPU in cdp bench). Set copies the key: one buffer serves all.
	slices.SortFunc(r.keys, func(a, b reservation) int {
		return cmp.Or(cmp.Compare(uint64(a.gen), uint64(b.gen)), strings.Compare(a.key, b.key))
	})
	var key []byte
	for _, k := range r.keys {
		key = appendDiskKey(key[:0], k.gen, k.key)
		b.Set(key, nil, nil)
	}
	if w, ok := d.watermarkFor(r.lb); ok {
		b.Set(metaWatermark, seqBytes(w), nil)
	}
	err := b.Commit(pebble.NoSync)
	b.Close()
	if err != nil {
		d.logger.Error("deduplication keys not written; they stay reserved in memory", "keys", len(r.keys), "err", err)
		return
	}
	r.forget()
}

// release forgets the reservations of a request whose records were not
// spooled. Their filter bits stay: a false positive costs a disk lookup.
func (r *dedupRequest) release() { r.forget() }

func (r *dedupRequest) forget() {
	for _, k := range r.keys {
		s := &r.d.stripes[xxhash.Sum64String(k.key)%dedupStripes]
		s.mu.Lock()
		delete(s.pending, k.key)
		s.mu.Unlock()
	}
	if r.lb != 0 {
		r.d.endFlight(r.lb)
	}
	r.keys, r.lb = nil, 0
}

// lookup reports whether key (of hash h) is on disk in a live generation,
// and the generation it goes to when new: the newest, or for a key that
// arrived at a past time at (Warm), that time's generation, so that it
// expires a window after it arrived; expired reports such a key already
// older than the window. With mark it records the key in that
// generation's filter. The caller holds the key's stripe or has marked
// the key keyLookingUp in it.
func (d *Dedup) lookup(key string, h uint64, now, at time.Time, mark bool) (gen int64, found, expired bool, err error) {
	d.mu.RLock()
	target, fix := d.target(now, at)
	for fix != nil {
		d.mu.RUnlock()
		fix()
		d.mu.RLock()
		target, fix = d.target(now, at)
	}
	defer d.mu.RUnlock()
	if target == nil {
		return 0, false, true, nil
	}
	oldest := d.oldestLive(now)
	for i := len(d.gens) - 1; i >= 0; i-- { // newest first: retries are usually recent
		g := d.gens[i]
		if g.idx < oldest || !g.mayHave(h) {
			continue
		}
		if found, err := d.onDisk(g.idx, key); err != nil || found {
			return 0, found, false, err
		}
	}
	if mark {
		target.filter.add(h)
		target.keys.Add(1)
	}
	return target.idx, false, false, nil
}

// target is the generation a new key that arrived at time at goes to, or
// nil for a key already older than the window; or else the change to make
// first, under the write lock: a rotation, or reopening a past generation
// for keys Warm adds. The caller holds d.mu for reading.
func (d *Dedup) target(now, at time.Time) (*generation, func()) {
	if d.needRotate(now) {
		return nil, func() { d.rotate(now) }
	}
	newest := d.gens[len(d.gens)-1]
	idx := d.genIndex(at)
	if idx >= newest.idx {
		return newest, nil
	}
	if idx < max(d.oldestLive(now), newest.idx-dedupGenerations) {
		return nil, nil
	}
	i, ok := slices.BinarySearchFunc(d.gens, idx, func(g *generation, idx int64) int { return cmp.Compare(g.idx, idx) })
	if !ok || !d.gens[i].reopened.Load() {
		return nil, func() { d.reopen(idx) }
	}
	return d.gens[i], nil
}

// reopen lets a past generation receive keys again (Warm's, placed by
// their arrival), creating it if it has none: its filter file, which would
// now lack keys, is deleted durably first, and written again once Warm is
// done (warmedUpTo).
func (d *Dedup) reopen(idx int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := slices.BinarySearchFunc(d.gens, idx, func(g *generation, idx int64) int { return cmp.Compare(g.idx, idx) })
	if !ok {
		d.gens = slices.Insert(d.gens, i, d.newGeneration(idx))
	}
	g := d.gens[i]
	if g.reopened.Load() {
		return
	}
	d.persistMu.Lock()
	defer d.persistMu.Unlock()
	if err := d.fs.Remove(d.filterName(idx)); err == nil {
		if err := syncDir(d.fs, d.filters); err != nil {
			d.logger.Warn("deduplication filter file removal not synced", "generation", idx, "err", err)
		}
	}
	g.reopened.Store(true)
}

// needRotate tells whether time now needs a new generation or expires the
// oldest. The caller holds d.mu.
func (d *Dedup) needRotate(now time.Time) bool {
	return len(d.gens) == 0 || d.genIndex(now) > d.newest || d.gens[0].idx < max(d.oldestLive(now), d.newest-dedupGenerations)
}

// rotate starts the generation of now, when it is later than the newest
// (a clock that goes back keeps adding to the newest), and drops the
// generations that ended a window ago: their keys with one DeleteRange (of
// every older key too, so a range a crash left behind goes as well), their
// filters and files. At most dedupGenerations+1 generations are kept, so
// the filters never exceed the budget. The generation that stops receiving
// keys has its filter written to a file, to spare a rebuild at start.
func (d *Dedup) rotate(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if idx := d.genIndex(now); len(d.gens) == 0 || idx > d.newest {
		if len(d.gens) > 0 {
			d.persistLater(d.gens[len(d.gens)-1])
		}
		d.gens = append(d.gens, d.newGeneration(idx))
		d.newest = idx
	}
	keep := max(d.oldestLive(now), d.newest-dedupGenerations)
	n := 0
	for n < len(d.gens)-1 && d.gens[n].idx < keep {
		d.gens[n].dropped.Store(true)
		d.removeFilterFile(d.gens[n].idx)
		n++
	}
	if n == 0 {
		return
	}
	d.gens = append(d.gens[:0:0], d.gens[n:]...)
	if err := d.db.DeleteRange(genPrefix(0), genPrefix(d.gens[0].idx), pebble.NoSync); err != nil {
		d.logger.Warn("expired deduplication keys not deleted; the next expiry retries", "err", err)
	}
}

// newGeneration makes generation idx with an empty filter of the
// generation's share of the budget, its probes sized for the larger of the
// planned keys and the previous generation's count.
func (d *Dedup) newGeneration(idx int64) *generation {
	keys := d.opts.PlannedKeys / dedupGenerations
	if n := len(d.gens); n > 0 {
		keys = max(keys, d.gens[n-1].keys.Load())
	}
	g := &generation{idx: idx, filter: newBlockedBloom(d.perGen, bloomProbes(d.perGen, keys))}
	g.trusted.Store(true)
	return g
}

// beginFlight registers a request that will append records to the spool:
// their sequences will be above the spool's last one now.
func (d *Dedup) beginFlight() uint64 {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	lb := d.seq() + 1
	d.flights = append(d.flights, lb)
	return lb
}

func (d *Dedup) endFlight(lb uint64) {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	for i, f := range d.flights {
		if f == lb {
			d.flights = append(d.flights[:i], d.flights[i+1:]...)
			return
		}
	}
}

// watermarkFor is the watermark a commit of the request registered at lb
// may write with its keys: below every other request in flight, or the
// spool's last sequence when there is none (the committing request's
// records are spooled and its keys are in the same write). Before Warm it
// writes none: the keys of the previous run's last records may be missing.
func (d *Dedup) watermarkFor(lb uint64) (uint64, bool) {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	if !d.warmed {
		return 0, false
	}
	w, self := d.seq(), false
	for _, f := range d.flights {
		if f == lb && !self {
			self = true
			continue
		}
		w = min(w, f-1)
	}
	return w, true
}

func (d *Dedup) seq() uint64 {
	if d.lastSeq == nil {
		return 0
	}
	return d.lastSeq()
}
