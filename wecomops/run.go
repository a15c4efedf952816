package wecomops

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// readBatch is how many customers one ReadCustomerTags round reads.
const readBatch = 500

// Run keeps WeCom tags and the syncs current until ctx ends: it reads the
// corp tag library every LibraryEvery and new contact changes every
// ReadEvery (one loop), and reconciles every sync in full at start and
// every ResyncEvery and the persons of segment changes as they come (the
// other loop), and imports the customer groups at start and every
// GroupsEvery and the groups callbacks name as they come (a third loop).
// Errors are logged and retried next round. It returns when all three
// loops have.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.runReads(ctx)
	}()
	go func() {
		defer wg.Done()
		s.runGroups(ctx)
	}()
	s.runSyncs(ctx)
	wg.Wait()
}

func (s *Service) runReads(ctx context.Context) {
	lib := time.NewTicker(s.o.LibraryEvery)
	defer lib.Stop()
	read := time.NewTicker(s.o.ReadEvery)
	defer read.Stop()
	s.logErr(ctx, "corp tag library read failed", func() error { _, err := s.RefreshLibrary(ctx); return err })
	for {
		select {
		case <-ctx.Done():
			return
		case <-lib.C:
			s.logErr(ctx, "corp tag library read failed", func() error { _, err := s.RefreshLibrary(ctx); return err })
		case <-read.C:
			for ctx.Err() == nil {
				n, err := s.ReadCustomerTags(ctx, readBatch)
				if err != nil {
					s.logErr(ctx, "customer tag read failed", func() error { return err })
					break
				}
				if n < readBatch {
					break
				}
			}
		}
	}
}

func (s *Service) runSyncs(ctx context.Context) {
	resync := time.NewTicker(s.o.ResyncEvery)
	defer resync.Stop()
	s.logErr(ctx, "tag sync failed", func() error { return s.ReconcileAll(ctx) })
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			s.logErr(ctx, "tag sync failed", func() error { return s.ReconcileAll(ctx) })
		case <-s.wake:
			s.mu.Lock()
			full := s.full
			s.full = false
			s.mu.Unlock()
			if full {
				s.logErr(ctx, "tag sync failed", func() error { return s.ReconcileAll(ctx) })
			}
			s.logErr(ctx, "tag sync of segment changes failed", func() error { return s.ProcessChanges(ctx) })
		}
	}
}

func (s *Service) logErr(ctx context.Context, msg string, f func() error) {
	if err := f(); err != nil && ctx.Err() == nil {
		s.o.Logger.Error(msg, "err", err)
	}
}

// ReconcileAll reconciles every sync in full: active ones' members carry
// the tag, stopped ones' pairs lose what the sync added.
func (s *Service) ReconcileAll(ctx context.Context) error {
	syncs, err := s.Syncs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ts := range syncs {
		if _, err := s.reconcile(ctx, ts, nil, s.o.Clock.Now()); err != nil {
			errs = append(errs, s.settleError(ctx, ts, err))
		}
	}
	return errors.Join(errs...)
}

// ProcessChanges reconciles the persons of the queued segment changes for
// the active syncs of their segments; changes it could not finish are
// queued again.
func (s *Service) ProcessChanges(ctx context.Context) error {
	changed := s.takeChanged()
	if len(changed) == 0 {
		return nil
	}
	syncs, err := s.Syncs(ctx)
	if err != nil {
		s.requeue(changed)
		return err
	}
	var errs []error
	for seg, p := range changed {
		ok := true
		for _, ts := range syncs {
			if ts.SegmentID != seg || ts.Status != SyncActive {
				continue
			}
			if _, err := s.reconcile(ctx, ts, p.persons, p.since); err != nil {
				errs, ok = append(errs, s.settleError(ctx, ts, err)), false
			}
		}
		if !ok {
			s.requeue(map[string]*pendingPersons{seg: p})
		}
	}
	return errors.Join(errs...)
}

// settleError stops a sync whose tag WeCom deleted (nothing can be
// written) or whose segment was deleted (the next reconcile removes what
// it added); other errors pass.
func (s *Service) settleError(ctx context.Context, ts TagSync, err error) error {
	by := ""
	switch {
	case ts.Status != SyncActive:
	case errors.Is(err, errTagDeleted):
		by = "wecom: tag deleted"
	case errors.Is(err, errSegmentDeleted):
		by = "wecomops: segment deleted"
	}
	if by != "" {
		if _, serr := s.StopSync(ctx, ts.ID, by); serr != nil {
			return errors.Join(err, serr)
		}
	}
	return err
}

// requeue puts changes back in front of newer ones, keeping the earlier
// time seen.
func (s *Service) requeue(changed map[string]*pendingPersons) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seg, p := range changed {
		cur := s.changed[seg]
		if cur == nil {
			s.changed[seg] = p
			continue
		}
		cur.persons = roaring.Or(cur.persons, p.persons)
		if p.since.Before(cur.since) {
			cur.since = p.since
		}
	}
}
