package segments

// The engine's trait snapshot: loading it (restored from the persisted
// copy when there is one, persist.go), and keeping it current as persons
// change (Refresh, Invalidate).

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// snapshot returns the trait snapshot, loading it when missing or older
// than TraitMaxAge; concurrent callers share one load.
func (e *Engine) snapshot(ctx context.Context, now time.Time) (*traitSnapshot, error) {
	for {
		e.traitsMu.Lock()
		if s := e.traits; s != nil && now.Sub(s.loaded) < e.opts.TraitMaxAge {
			e.traitsMu.Unlock()
			return s, nil
		}
		if f := e.traitsFlight; f != nil {
			e.traitsMu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
				continue
			}
			return f.snap, f.err
		}
		f := &traitsFlight{done: make(chan struct{})}
		e.traitsFlight, f.snap = f, nil
		gen := e.traitsGen
		e.traitsMu.Unlock()

		f.snap, f.err = e.loadSnapshot(ctx, now)
		e.traitsMu.Lock()
		e.traitsFlight = nil
		if f.err == nil && gen == e.traitsGen {
			e.traits = f.snap
		}
		e.traitsMu.Unlock()
		close(f.done)
		return f.snap, f.err
	}
}

// loadSnapshot builds the trait snapshot: at the first load of an engine
// with Options.PersistTraits, from the persisted one if there is one to
// use; otherwise from a full read, which it then persists.
func (e *Engine) loadSnapshot(ctx context.Context, now time.Time) (*traitSnapshot, error) {
	var marks traitMarks
	var markErr error
	if e.opts.PersistTraits {
		if !e.restored.Load() {
			s, err := e.restore(ctx, now)
			if err != nil && isContextErr(err) && ctx.Err() != nil {
				return nil, err
			}
			e.restored.Store(true)
			if err == nil && s != nil {
				return s, nil
			}
			if err != nil {
				e.log.Warn("restoring the persisted segment traits failed; reading them in full", "err", err)
			}
		}
		marks, markErr = e.readMarks(ctx) // before the read they mark
	}
	s, err := e.readSnapshot(ctx, now)
	if err != nil || !e.opts.PersistTraits {
		return s, err
	}
	if markErr == nil {
		start := time.Now()
		if markErr = e.persist(ctx, s, marks); markErr == nil {
			e.log.Debug("segment traits persisted", "took", time.Since(start))
		}
	}
	if markErr != nil {
		e.log.Warn("persisting the segment traits failed; the next restart reads them in full", "err", markErr)
	}
	return s, nil
}

// readSnapshot builds the trait snapshot from a full read.
func (e *Engine) readSnapshot(ctx context.Context, now time.Time) (*traitSnapshot, error) {
	start := time.Now()
	var universe *roaring.Bitmap
	var uerr error
	var wg sync.WaitGroup
	wg.Go(func() { universe, uerr = e.readUniverse(ctx, nil) })
	raw, err := e.readRawTraits(ctx, nil)
	wg.Wait()
	if err = errors.Join(uerr, err); err != nil {
		return nil, err
	}
	rows, channels, merges := raw.canonical(universe)
	s := buildSnapshot(universe, rows, channels, merges, e.opts.CityTiers, now)
	e.log.Debug("segment traits loaded", "persons", universe.GetCardinality(), "with_orders", len(rows.ids), "took", time.Since(start))
	return s, nil
}

// Invalidate drops what reads the given record kinds (all when none are
// given): cached behaviour leaves, and the trait snapshot for orders,
// traits and persons. The next evaluation recomputes them in full.
func (e *Engine) Invalidate(kinds ...string) {
	e.cache.invalidate(kinds)
	e.canon.bump()
	if len(kinds) == 0 || touchesTraits(kinds) {
		e.restored.Store(true) // the persisted snapshot is no better than the dropped one
		e.traitsMu.Lock()
		e.traits = nil
		e.traitsGen++
		e.traitsMu.Unlock()
	}
}

func touchesTraits(kinds []string) bool {
	for _, k := range kinds {
		if k == KindOrders || k == KindTraits || k == KindPersons {
			return true
		}
	}
	return false
}

// Refresh tells the engine that records of the given kinds (all when
// none are given) arrived for a few persons: it patches the trait
// snapshot for them and marks them dirty in the cached leaves reading
// those kinds, without recomputing anyone else. A leaf is brought up to
// date when it is next read, by its query restricted to its dirty persons
// (see leafCache), so a round of ingest costs the leaves that are read,
// not every leaf the cache holds. Pass the person ids on the new records;
// for merges and splits pass every person involved with KindPersons. This
// is the path that keeps live membership current; re-evaluating a rule
// after it costs a restricted query per dirty leaf and bitmap operations.
//
// Windows of patched persons are measured from the clock of the read that
// patches them, others' from their leaf's last full computation (at most
// LeafMaxAge ago).
func (e *Engine) Refresh(ctx context.Context, persons []uint32, kinds ...string) error {
	if len(kinds) == 0 {
		kinds = []string{KindEvents, KindOrders, KindChats, KindTags, KindPersons}
	}
	byKind := make(map[string][]uint32, len(kinds))
	for _, k := range kinds {
		byKind[k] = persons
	}
	return e.RefreshKinds(ctx, byKind)
}

// RefreshKinds is Refresh with the persons of each kind of record apart:
// the trait snapshot is read again only for the persons of the kinds that
// can change traits (orders, traits, merges and new persons), not for
// every person of the round. In the load run every round's thousands of
// persons with new events came with a few new persons, and the trait
// patch for all of them read every order (a bloom filter on person_id
// skips nothing for thousands of ids): 40 ms of the engine's CPU a
// second. The leaves are marked for every person of the round and every
// kind, as Refresh does.
func (e *Engine) RefreshKinds(ctx context.Context, byKind map[string][]uint32) error {
	all, traits := roaring.New(), roaring.New()
	kinds := make([]string, 0, len(byKind))
	for k, persons := range byKind {
		if len(persons) == 0 {
			continue
		}
		kinds = append(kinds, k)
		all.AddMany(persons)
		if touchesTraits([]string{k}) {
			traits.AddMany(persons)
		}
	}
	if all.IsEmpty() {
		return nil
	}
	slices.Sort(kinds)
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	var canon, traitCanon *roaring.Bitmap
	var err error
	epoch := e.canon.current()
	if traits.IsEmpty() || traits.GetCardinality() == all.GetCardinality() {
		canon, err = e.readUniverse(ctx, all.ToArray())
		traitCanon = canon
	} else {
		canon, traitCanon, err = e.readCanonicalOf(ctx, all.ToArray(), traits.ToArray())
	}
	if err != nil {
		return err
	}
	clear := roaring.Or(all, canon)
	e.canon.bumpAndSeed(epoch, clear, canon)
	var tp *traitPatch
	if !traits.IsEmpty() {
		tp = &traitPatch{canon: traitCanon, clear: roaring.Or(traits, traitCanon)}
	}
	// The patched snapshot, with its merges, is published before the
	// leaves are marked: a leaf computed before the mark (perhaps with the
	// old merges, merges.go) is patched for these persons at its next
	// read, and one computed after it folds with the new merges.
	err = e.refreshTraits(ctx, canon, clear, tp)
	e.cache.touch(kinds, clear, e.opts.Now())
	return err
}

// traitPatch is the persons whose traits a patch reads again: canonical
// persons canon, and clear, the persons whose trait values it replaces
// (canon and the persons that led to them).
type traitPatch struct{ canon, clear *roaring.Bitmap }

// refreshTraits patches the trait snapshot, if one is loaded.
func (e *Engine) refreshTraits(ctx context.Context, canon, clear *roaring.Bitmap, tp *traitPatch) error {
	e.traitsMu.Lock()
	e.traitsGen++ // a load in flight may predate the new records
	s := e.traits
	e.traitsMu.Unlock()
	if s == nil {
		return nil
	}
	next, err := e.patchSnapshot(ctx, s, canon, clear, tp)
	if err != nil {
		// Its traits and merges would be wrong for these persons: the
		// next evaluation reads the snapshot in full.
		e.traitsMu.Lock()
		if e.traits == s {
			e.traits = nil
		}
		e.traitsMu.Unlock()
		return err
	}
	e.traitsMu.Lock()
	if e.traits == s {
		e.traits = next
	}
	e.traitsMu.Unlock()
	return nil
}

// patchSnapshot returns a copy of s in which the persons in clear are
// replaced by the canonical persons canon in the universe, and the traits
// of tp's persons read again (none when tp is nil).
func (e *Engine) patchSnapshot(ctx context.Context, s *traitSnapshot, canon, clear *roaring.Bitmap, tp *traitPatch) (*traitSnapshot, error) {
	universe := roaring.AndNot(s.universe, clear)
	universe.Or(canon)
	if tp != nil {
		e.traitsPatched.Add(int64(tp.canon.GetCardinality()))
		rows, channels, into, err := e.readTraits(ctx, tp.canon.ToArray(), tp.canon)
		if err != nil {
			return nil, err
		}
		return s.patch(universe, tp.clear, rows, channels, into, e.opts.CityTiers), nil
	}
	copied := *s
	copied.universe = universe
	copied.numeric = map[string]*bsi{}
	for k, v := range s.numeric {
		copied.numeric[k] = v
	}
	copied.fixZeroDefaults()
	return &copied, nil
}
