package wecomops

import (
	"context"
	"sync"
	"time"
)

// How often RunContacts' second loop does each of its jobs.
const (
	lossEvery     = 5 * time.Second
	resolveEvery  = time.Minute
	transferEvery = 10 * time.Minute
	momentEvery   = 30 * time.Second
)

// RunContacts runs the contact-way side of WeCom operations until ctx
// ends: welcome messages in a loop of their own (RunWelcome: their 20 s
// window must not wait behind a slow robot post), and in another the
// loss alerts (AlertLosses, every 5 s), the settling of pending QR codes
// (ResolvePendingWays, every minute), the polling of customer
// transfers (PollTransfers, every 10 minutes) and of moment tasks
// (PollMoments, every 30 s). Errors are logged and
// retried next round. It returns when both loops have.
func (s *Service) RunContacts(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.RunWelcome(ctx)
	}()
	loss := time.NewTicker(lossEvery)
	defer loss.Stop()
	resolve := time.NewTicker(resolveEvery)
	defer resolve.Stop()
	transfers := time.NewTicker(transferEvery)
	defer transfers.Stop()
	moments := time.NewTicker(momentEvery)
	defer moments.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-loss.C:
			s.logErr(ctx, "loss alerts failed", func() error { _, err := s.AlertLosses(ctx); return err })
		case <-resolve.C:
			s.logErr(ctx, "settling pending QR codes failed", func() error { _, err := s.ResolvePendingWays(ctx); return err })
		case <-transfers.C:
			s.logErr(ctx, "polling customer transfers failed", func() error { _, err := s.PollTransfers(ctx); return err })
		case <-moments.C:
			s.logErr(ctx, "polling moment tasks failed", func() error { _, err := s.PollMoments(ctx); return err })
		}
	}
	wg.Wait()
}
