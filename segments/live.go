package segments

import (
	"context"
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
	s.pending.AddMany(persons)
	for _, k := range kinds {
		s.pendKind[k] = true
	}
	s.pendMu.Unlock()
	select {
	case s.live <- struct{}{}:
	default:
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
		s.pendMu.Lock()
		persons := s.pending.ToArray()
		kinds := make([]string, 0, len(s.pendKind))
		for k := range s.pendKind {
			kinds = append(kinds, k)
		}
		s.pending, s.pendKind = roaring.New(), map[string]bool{}
		s.pendMu.Unlock()
		if err := s.update(ctx, persons, kinds); err != nil && ctx.Err() == nil {
			s.logger.Error("live segment update failed; the next full recompute repairs it", "persons", len(persons), "err", err)
		}
	}
}

// update refreshes leaves for persons and re-evaluates the live segments
// reading those kinds.
func (s *Store) update(ctx context.Context, persons []uint32, kinds []string) error {
	start := time.Now()
	if err := s.engine.Refresh(ctx, persons, kinds...); err != nil {
		return err
	}
	s.logger.Debug("segment leaves refreshed", "persons", len(persons), "took", time.Since(start))
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
