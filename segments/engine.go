package segments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store"
)

var (
	// ErrNoResolver: a rule uses in_segment but Options.Segments is nil.
	ErrNoResolver = errors.New("segments: no segment resolver configured")
	// ErrUnknownSegment is what a SegmentResolver wraps for an id it does
	// not know.
	ErrUnknownSegment = errors.New("segments: unknown segment")
)

// SegmentResolver gives the members of other segments, for
// in_segment("id"). The caller implements it (from segment_members or its
// live membership) and owns cycle detection: Compiled.Segments lists the
// ids a rule refers to.
type SegmentResolver interface {
	// SegmentMembers returns the current members of a segment, or an
	// error wrapping ErrUnknownSegment. The engine treats the bitmap as
	// frozen and never modifies it; it must not change while in use.
	// Bitmaps read from storage should come from DecodeGroupBitmap,
	// which validates them.
	SegmentMembers(ctx context.Context, id string) (*roaring.Bitmap, error)
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// Now is the clock windows are measured from (time.Now when nil).
	Now func() time.Time
	// Segments resolves in_segment; nil makes such rules fail to evaluate.
	Segments SegmentResolver
	// CityTiers maps a city to its tier for city_tier.
	CityTiers map[string]int
	// LeafMaxAge is how long a behaviour leaf is reused before it is
	// recomputed in full.
	LeafMaxAge time.Duration
	// TraitMaxAge is the same for the trait snapshot.
	TraitMaxAge time.Duration
	// MaxLeaves bounds the leaf cache (least recently used out).
	MaxLeaves int
	// MaxLeafBytes bounds the leaf cache's bitmaps in bytes (least
	// recently used out, the last one kept), whatever their number.
	MaxLeafBytes uint64
	// Concurrency bounds the engine's parallel ClickHouse queries.
	Concurrency int
	// BreakdownTop is how many cities an Estimate lists.
	BreakdownTop int
	// EstimateStaleness lets an Estimate (only: Evaluate, which live
	// segments and campaign plans use, is always exact) use a cached leaf
	// whose first not-yet-patched record arrived at most this long ago on
	// the engine's clock. 0: estimates are exact too. PatchWarm keeps
	// the leaves analysts read again patched in the background, so their
	// estimates are answered from memory.
	EstimateStaleness time.Duration
	// PersistTraits keeps the trait snapshot in ClickHouse
	// (segment_trait_snapshots, persist.go): written after each full
	// read, read back and patched for the persons changed since at the
	// engine's first load, so a restart does not aggregate every order
	// again. The platform sets it; an engine over a database that changes
	// behind the platform's back (orders rewritten by hand) must not.
	PersistTraits bool
}

// DefaultOptions are the defaults for a brand of a few million persons.
func DefaultOptions() Options {
	return Options{
		Now:       time.Now,
		CityTiers: DefaultCityTiers(),
		// Windows count whole days; a leaf 10 minutes old is wrong only
		// for persons whose records sit within 10 minutes of a window's
		// edge, and Refresh keeps it current for new records.
		LeafMaxAge: 10 * time.Minute,
		// Traits do not age with the clock (days_since_last_order is
		// computed at evaluation); the reload only repairs a missed
		// Refresh.
		TraitMaxAge: time.Hour,
		// A leaf over 1M dense persons is at most ~130 KB (16 bitmap
		// containers of 8 KB), so 1,000 leaves stay under ~130 MB.
		MaxLeaves: 1000,
		// At 10M persons a dense leaf is ~1.3 MB, and 1,000 of them would
		// be ~1.3 GB: 256 MiB keeps ~200 of the densest there, and binds
		// nothing at 1M persons (1,000 leaves, ~130 MB).
		MaxLeafBytes: 256 << 20,
		// 4 parallel leaf queries keep a small embedded engine busy
		// without starving the ingest writer; a server can take more.
		Concurrency:  4,
		BreakdownTop: 20,
	}
}

// Engine compiles and evaluates segment rules against one ClickHouse
// database. It caches behaviour leaves and the trait snapshot; all its
// methods are goroutine-safe. Bitmaps it returns belong to the caller.
type Engine struct {
	db    *store.DB
	opts  Options
	log   *slog.Logger
	cache *leafCache
	// slots admits the engine's queries, at most Options.Concurrency at
	// once, analysts' estimates first (slots.go).
	slots *slots
	// bgSem admits PatchWarm's queries to slots: at most half of them,
	// so estimates and live rounds always find the other half.
	bgSem chan struct{}

	traitsMu     sync.Mutex
	traits       *traitSnapshot // frozen
	traitsGen    uint64         // bumped when the snapshot is dropped or patched
	traitsFlight *traitsFlight

	restored atomic.Bool // the persisted snapshot was tried (or Invalidate made it useless)

	refreshMu sync.Mutex // one Refresh at a time: patches build on each other
	canon     canonMemo  // canonical persons of the dirty set patches share

	queries, slotWait, queryTime atomic.Int64 // foreground queries: CacheStats
	traitsPatched                atomic.Int64 // canonical persons whose traits patches read again
}

type traitsFlight struct {
	done chan struct{}
	snap *traitSnapshot
	err  error
}

// NewEngine makes an engine over db. Zero fields of opts take their
// defaults.
func NewEngine(db *store.DB, opts Options) *Engine {
	def := DefaultOptions()
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.CityTiers == nil {
		opts.CityTiers = def.CityTiers
	}
	if opts.LeafMaxAge <= 0 {
		opts.LeafMaxAge = def.LeafMaxAge
	}
	if opts.TraitMaxAge <= 0 {
		opts.TraitMaxAge = def.TraitMaxAge
	}
	if opts.MaxLeaves <= 0 {
		opts.MaxLeaves = def.MaxLeaves
	}
	if opts.MaxLeafBytes == 0 {
		opts.MaxLeafBytes = def.MaxLeafBytes
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	if opts.BreakdownTop <= 0 {
		opts.BreakdownTop = def.BreakdownTop
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{db: db, opts: opts, log: log, cache: newLeafCache(opts.MaxLeaves, opts.MaxLeafBytes, opts.LeafMaxAge),
		slots: newSlots(opts.Concurrency), bgSem: make(chan struct{}, max(1, opts.Concurrency/2))}
}

// Check parses, type-checks and compiles a rule. Problems in the rule are
// *RuleError, including a clause that would read without bounds (see
// bounds.go: behaviour events or chats without a window or over more
// than MaxScanDays, a per-customer condition nothing narrows). The
// Compiled names this engine's tables: evaluate it with this engine.
func (e *Engine) Check(rule string) (*Compiled, error) {
	return compile(rule, e.db.Table)
}

// checkSaved is Check for a rule saved before the bounds existed: an
// unbounded one still compiles (it keeps running as its owner wrote it)
// and the refusal is returned beside it, for a warning.
func (e *Engine) checkSaved(rule string) (*Compiled, *RuleError, error) {
	c, err := compileUnbounded(rule, e.db.Table)
	if err != nil {
		return nil, nil, err
	}
	return c, c.unbounded, nil
}

// Evaluate returns the rule's members: canonical person ids. The bitmap
// is the caller's.
func (e *Engine) Evaluate(ctx context.Context, c *Compiled) (*roaring.Bitmap, error) {
	bm, owned, _, err := e.evaluate(ctx, c)
	if err != nil {
		return nil, err
	}
	if !owned {
		bm = bm.Clone()
	}
	return bm, nil
}

// evaluate returns the members (owned or shared) and the trait snapshot
// it used.
func (e *Engine) evaluate(ctx context.Context, c *Compiled) (*roaring.Bitmap, bool, *traitSnapshot, error) {
	return e.evaluateAt(ctx, c, 0)
}

// evaluateAt is evaluate with leaves up to stale out of date accepted
// (see Options.EstimateStaleness).
func (e *Engine) evaluateAt(ctx context.Context, c *Compiled, stale time.Duration) (*roaring.Bitmap, bool, *traitSnapshot, error) {
	ev, err := e.prepare(ctx, c.plan, e.opts.Now(), stale)
	if err != nil {
		return nil, false, nil, err
	}
	bm, owned, err := ev.eval(c.plan)
	return bm, owned, ev.traits, err
}

// prepare loads the trait snapshot and the plan's behaviour leaves in
// parallel.
func (e *Engine) prepare(parent context.Context, plan Node, now time.Time, stale time.Duration) (*evaluator, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ev := &evaluator{ctx: parent, e: e, now: now, stale: stale, sql: map[string]*roaring.Bitmap{}}
	var leaves []*sqlLeaf
	Walk(plan, func(n Node) {
		if l, ok := n.(*sqlLeaf); ok {
			if _, dup := ev.sql[l.key]; !dup {
				ev.sql[l.key] = nil
				leaves = append(leaves, l)
			}
		}
	})
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	wg.Go(func() {
		s, err := e.snapshot(ctx, now)
		if err != nil {
			fail(err)
		}
		ev.traits = s
	})
	for _, l := range leaves {
		wg.Go(func() {
			bm, err := e.leaf(ctx, l, now, stale)
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			ev.sql[l.key] = bm
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return ev, nil
}

// leaf returns a behaviour leaf's bitmap (frozen), cached or computed:
// the query's canonical ids within the universe of the trait snapshot
// (loaded meanwhile, in parallel), which leaves out ids of no person.
func (e *Engine) leaf(ctx context.Context, l *sqlLeaf, now time.Time, stale time.Duration) (*roaring.Bitmap, error) {
	return e.cache.get(ctx, l, now, stale, func() (*roaring.Bitmap, error) {
		bm, folded, err := e.computeLeaf(ctx, l, now)
		if err != nil {
			return nil, err
		}
		s, err := e.snapshot(ctx, now)
		if err != nil {
			return nil, err
		}
		if l.raw && !folded {
			m, err := e.mergesFor(ctx)
			if err != nil {
				return nil, err
			}
			bm = m.fold(bm)
		}
		bm.And(s.universe)
		return bm, nil
	}, func(old, dirty *roaring.Bitmap) (*roaring.Bitmap, error) {
		return e.patchLeaf(ctx, l, old, dirty, now)
	})
}

// backgroundKey marks the context of PatchWarm's work.
type backgroundKey struct{}

// queryBitmap runs a query returning one groupBitmap state.
func (e *Engine) queryBitmap(ctx context.Context, desc, query string, args []any) (*roaring.Bitmap, error) {
	var bm *roaring.Bitmap
	err := e.admitted(ctx, desc, func(ctx context.Context) error {
		var state []byte
		if err := e.db.Conn.QueryRow(ctx, query, args...).Scan(&state); err != nil {
			return err
		}
		var err error
		bm, err = DecodeGroupBitmap(state)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.log.Debug("segment leaf", "leaf", desc, "persons", bm.GetCardinality())
	return bm, nil
}

// admitted runs one ClickHouse query of the engine's, run(ctx) with
// readContext's settings, in one of the engine's query slots (and, for
// PatchWarm's, one of its half), counting a foreground query's wait and
// time. An error names the leaf desc.
func (e *Engine) admitted(ctx context.Context, desc string, run func(context.Context) error) error {
	background := ctx.Value(backgroundKey{}) != nil
	if background {
		select {
		case e.bgSem <- struct{}{}:
			defer func() { <-e.bgSem }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	queued := time.Now()
	if err := e.slots.acquire(ctx, urgencyOf(ctx)); err != nil {
		return err
	}
	defer e.slots.release()
	start := time.Now()
	err := run(readContext(ctx))
	if !background {
		e.queries.Add(1)
		e.slotWait.Add(int64(start.Sub(queued)))
		e.queryTime.Add(int64(time.Since(start)))
	}
	if err != nil {
		return fmt.Errorf("segments: leaf %s: %w", desc, err)
	}
	return nil
}

// PatchWarm patches the cached leaves with dirty persons that were read
// more than once, the last time within a minute: those of the rules
// analysts come back to, so their estimates are answered from memory
// (Options.EstimateStaleness). A leaf read once (a rule tried and dropped)
// is left until it is read again, and a patch here does not count as a
// read, so leaves nobody reads stop costing anything within a minute.
// Store.RunLive calls it every half EstimateStaleness. It returns how many
// leaves it patched.
//
// Its queries take at most half of the engine's query slots
// (Options.Concurrency), so an estimate's or a live round's query never
// waits for all of them.
func (e *Engine) PatchWarm(ctx context.Context) (int, error) {
	ctx = withUrgency(context.WithValue(ctx, backgroundKey{}, true), background)
	leaves := e.cache.rereadDirty(time.Minute)
	now := e.opts.Now()
	errs := make([]error, len(leaves))
	var wg sync.WaitGroup
	for i, l := range leaves {
		wg.Go(func() { _, errs[i] = e.leaf(ctx, l, now, inBackground) })
	}
	wg.Wait()
	return len(leaves), errors.Join(errs...)
}

// Stats describes the leaf cache.
func (e *Engine) Stats() CacheStats {
	st := e.cache.snapshotStats()
	st.Queries, st.SlotWait, st.QueryTime = uint64(e.queries.Load()), time.Duration(e.slotWait.Load()), time.Duration(e.queryTime.Load())
	return st
}

// Estimate is a rule's audience size while a marketer edits it.
type Estimate struct {
	Count    uint64   `json:"count"`
	Universe uint64   `json:"universe"` // every person
	Sample   []uint32 `json:"sample"`   // member ids, evenly spread
	// ByCity counts members per city, largest first: the top
	// Options.BreakdownTop cities, then "*" for the other cities
	// together and "" for members without a known city.
	ByCity []Count `json:"by_city"`
	// ByChannel counts members who ordered in each channel (a member may
	// count in several) and, as "", members without orders.
	ByChannel []Count `json:"by_channel"`
	TookMS    float64 `json:"took_ms"`
}

// Count is a value and how many members have it.
type Count struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

// Estimate checks a rule and counts its members, with a sample of ids
// (up to sample, at most 1,000) and breakdowns by city and order channel.
// Problems in the rule are *RuleError. Its queries go ahead of live
// rounds' and PatchWarm's for the engine's query slots (slots.go): an
// analyst waits for the answer.
func (e *Engine) Estimate(ctx context.Context, rule string, sample int) (Estimate, error) {
	start := time.Now()
	c, err := e.Check(rule)
	if err != nil {
		return Estimate{}, err
	}
	bm, _, snap, err := e.evaluateAt(withUrgency(ctx, interactive), c, e.opts.EstimateStaleness)
	if err != nil {
		return Estimate{}, err
	}
	est := Estimate{
		Count:     bm.GetCardinality(),
		Universe:  snap.universe.GetCardinality(),
		Sample:    sampleOf(bm, min(sample, 1000)),
		ByCity:    breakdown(bm, snap.categories["city"], e.opts.BreakdownTop),
		ByChannel: breakdown(bm, snap.channels, len(snap.channels)),
	}
	est.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return est, nil
}

// sampleOf picks n members spread evenly over the id range.
func sampleOf(bm *roaring.Bitmap, n int) []uint32 {
	card := bm.GetCardinality()
	if n <= 0 || card == 0 {
		return []uint32{}
	}
	if uint64(n) >= card {
		return bm.ToArray()
	}
	out := make([]uint32, 0, n)
	for i := range uint64(n) {
		id, err := bm.Select(uint32(i * card / uint64(n)))
		if err != nil {
			panic("BUG: select within cardinality: " + err.Error())
		}
		out = append(out, id)
	}
	return out
}

// breakdown counts members per category with AndCardinality (nothing is
// materialised), largest first, top entries then "*" for the rest and ""
// for members in no category.
func breakdown(members *roaring.Bitmap, cats []category, top int) []Count {
	out := []Count{}
	var inAny uint64
	for _, c := range cats {
		if n := members.AndCardinality(c.members); n > 0 {
			out = append(out, Count{Value: fmt.Sprint(c.value), Count: n})
			inAny += n
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	if len(out) > top {
		var rest uint64
		for _, c := range out[top:] {
			rest += c.Count
		}
		out = append(out[:top], Count{Value: "*", Count: rest})
	}
	bms := make([]*roaring.Bitmap, len(cats))
	for i, c := range cats {
		bms[i] = c.members
	}
	if none := members.GetCardinality() - members.AndCardinality(roaring.FastOr(bms...)); none > 0 {
		out = append(out, Count{Value: "", Count: none})
	}
	return out
}

// Overlap compares two audiences.
type Overlap struct {
	A       uint64  `json:"a"`
	B       uint64  `json:"b"`
	Both    uint64  `json:"both"`
	OnlyA   uint64  `json:"only_a"`
	OnlyB   uint64  `json:"only_b"`
	Either  uint64  `json:"either"`
	Jaccard float64 `json:"jaccard"` // Both / Either; 0 when both are empty
}

// Overlap evaluates two rules and compares their members. Its queries,
// like an Estimate's, go ahead of live rounds' for the query slots: an
// analyst waits for them.
func (e *Engine) Overlap(ctx context.Context, a, b *Compiled) (Overlap, error) {
	ctx = withUrgency(ctx, interactive)
	am, _, _, err := e.evaluate(ctx, a)
	if err != nil {
		return Overlap{}, err
	}
	bm, _, _, err := e.evaluate(ctx, b)
	if err != nil {
		return Overlap{}, err
	}
	o := Overlap{A: am.GetCardinality(), B: bm.GetCardinality(), Both: am.AndCardinality(bm)}
	o.OnlyA, o.OnlyB = o.A-o.Both, o.B-o.Both
	o.Either = o.A + o.B - o.Both
	if o.Either > 0 {
		o.Jaccard = float64(o.Both) / float64(o.Either)
	}
	return o, nil
}
