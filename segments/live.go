package segments

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Touched tells the store that records of these kinds arrived for these
// persons (the ingest pipeline calls it after each committed batch). It
// never blocks: persons accumulate until the live loop takes them.
func (s *Store) Touched(persons []uint32, kinds []string) {
	if len(persons) == 0 || len(kinds) == 0 {
		return
	}
	s.pendMu.Lock()
	for _, k := range kinds {
		if s.pending[k] == nil {
			s.pending[k] = roaring.New()
		}
		s.pending[k].AddMany(persons)
	}
	s.pendMu.Unlock()
	select {
	case s.live <- struct{}{}:
	default:
	}
}

// TouchedTables is Touched for one committed batch of ingest: the persons
// of each table it wrote, with that table's kinds (KindsOfTables), so a
// person with new events only is not read again for the trait snapshot
// (RefreshKinds).
func (s *Store) TouchedTables(byTable map[string][]uint32) {
	for t, persons := range byTable {
		s.Touched(persons, KindsOfTables([]string{t}))
	}
}

// RunLive keeps live segments current until ctx ends: for each round of
// touched persons it refreshes the cached leaves for those persons only,
// re-evaluates the live segments that read the kinds of records that
// arrived (from cached bitmaps: milliseconds), and reports who entered and
// left. Rounds coalesce while one is running, and a round starts at least
// LiveEvery after the last one started.
func (s *Store) RunLive(ctx context.Context) {
	every := s.ExpiryEvery
	if every <= 0 {
		every = time.Minute
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	if every := s.engine.opts.EstimateStaleness / 2; every > 0 {
		wg.Go(func() { s.patchWarm(ctx, every) })
	}
	var last time.Time // the last live round's start
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := s.reevaluate(ctx, nil); err != nil && ctx.Err() == nil {
				s.logger.Error("segment expiry check failed", "err", err)
			}
			continue
		case <-s.live:
		}
		if wait := s.LiveEvery - time.Since(last); !last.IsZero() && wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.after(wait):
			}
		}
		last = time.Now()
		byKind := s.takePending()
		if err := s.update(ctx, byKind); err != nil && ctx.Err() == nil {
			s.logger.Error("live segment update failed; the next full recompute repairs it", "kinds", len(byKind), "err", err)
		}
	}
}

// takePending returns the persons touched since the last call, by kind.
func (s *Store) takePending() map[string][]uint32 {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	byKind := make(map[string][]uint32, len(s.pending))
	for k, persons := range s.pending {
		byKind[k] = persons.ToArray()
	}
	clear(s.pending)
	return byKind
}

// update refreshes leaves for the persons of each kind of record and
// re-evaluates the live segments reading those kinds.
func (s *Store) update(ctx context.Context, byKind map[string][]uint32) error {
	start := time.Now()
	if err := s.engine.RefreshKinds(ctx, byKind); err != nil {
		return err
	}
	kinds := slices.Sorted(maps.Keys(byKind))
	s.logger.Debug("segment leaves refreshed", "kinds", kinds, "took", time.Since(start))
	return s.reevaluate(ctx, kinds)
}

// reevaluate evaluates the live segments that read any of kinds (all live
// segments when kinds is nil) from the cache and stores what changed.
func (s *Store) reevaluate(ctx context.Context, kinds []string) error {
	s.mu.RLock()
	var ids []string
	for id, d := range s.defs {
		if d.Live && (kinds == nil || readsAny(s.plans[id].Kinds(), kinds)) {
			ids = append(ids, id)
		}
	}
	s.mu.RUnlock()
	for _, id := range ids {
		s.mu.RLock()
		c, old := s.plans[id], s.members[id]
		s.mu.RUnlock()
		if c == nil {
			continue
		}
		bm, err := s.engine.Evaluate(ctx, c)
		if err != nil {
			return err
		}
		if old != nil && bm.Equals(old) {
			continue
		}
		bm.RunOptimize()
		if _, err := s.setMembers(ctx, id, bm); err != nil {
			return err
		}
	}
	return nil
}

func readsAny(read, kinds []string) bool {
	for _, r := range read {
		for _, k := range kinds {
			if r == k || r == KindTraits && k == KindOrders || k == KindPersons {
				return true
			}
		}
	}
	return false
}

// patchWarm runs Engine.PatchWarm every period until ctx ends.
func (s *Store) patchWarm(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := s.engine.PatchWarm(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("patching the leaves analysts read failed; their next estimate patches them", "leaves", n, "err", err)
		}
	}
}
