package demand

import (
	"context"
	"log/slog"
	"time"
)

// RunOptions configure Run.
type RunOptions struct {
	// Notifier records the alerts and delivers them (to no supply system
	// when it has no Targets: the alerts are still recorded for the API).
	Notifier *Notifier
	// Step is the hours between two detections (default 4): each tests
	// the 24-hour windows ending at the hour.
	Step int
	// Retry is the wait between two deliveries of what is still pending
	// between rounds (default 1 min): a supply system that was down, or
	// a delivery a crash cut off, is not left waiting for the next round.
	Retry time.Duration
	// Detect are the detection options (DefaultDetectOptions when zero).
	Detect DetectOptions
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *RunOptions) defaults() {
	if o.Step <= 0 {
		o.Step = 4
	}
	if o.Retry <= 0 {
		o.Retry = time.Minute
	}
	if o.Detect == (DetectOptions{}) {
		o.Detect = DefaultDetectOptions()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run delivers at once what is pending (what a stop or a crash left),
// then detects surges every Step hours, on the hour, records the alerts
// and delivers the pending ones, until ctx ends; between rounds it
// delivers what is still pending every Retry. A failed round is logged
// and the next one tries again (pending deliveries included).
func (s *Service) Run(ctx context.Context, opts RunOptions) {
	opts.defaults()
	every := time.Duration(opts.Step) * time.Hour
	s.deliverPending(ctx, opts)
	lastTry := opts.Now()
	for {
		now := opts.Now()
		next := now.Truncate(every).Add(every)
		wait, round := next.Sub(now), true
		if retry := lastTry.Add(opts.Retry).Sub(now); retry < wait {
			wait, round = max(retry, 0), false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !round {
			s.deliverPending(ctx, opts)
			lastTry = opts.Now()
			continue
		}
		if err := s.Round(ctx, next, opts); err != nil && ctx.Err() == nil {
			opts.Logger.Warn("demand round failed", "at", next, "err", err)
		}
		lastTry = opts.Now()
	}
}

// RoundsBetween does the rounds of the hours after from up to to, every
// opts.Step hours back from to, in one pass (DetectBetween), records
// their alerts and delivers: what Round at each of those hours would
// have done.
func (s *Service) RoundsBetween(ctx context.Context, from, to time.Time, opts RunOptions) ([]Alert, error) {
	opts.defaults()
	alerts, err := s.DetectBetween(ctx, from, to, opts.Step, opts.Detect)
	if err != nil || opts.Notifier == nil {
		return alerts, err
	}
	if err := opts.Notifier.Record(ctx, alerts); err != nil {
		return alerts, err
	}
	_, err = opts.Notifier.Deliver(ctx)
	return alerts, err
}

// deliverPending delivers the pending deliveries, logging a failure.
func (s *Service) deliverPending(ctx context.Context, opts RunOptions) {
	if opts.Notifier == nil || len(opts.Notifier.Targets) == 0 {
		return
	}
	if _, err := opts.Notifier.Deliver(ctx); err != nil && ctx.Err() == nil {
		opts.Logger.Warn("demand deliveries", "err", err)
	}
}

// Round is one of Run's rounds at the hour of at: detect, record, deliver
// (opts' zero fields take their defaults).
func (s *Service) Round(ctx context.Context, at time.Time, opts RunOptions) error {
	opts.defaults()
	alerts, err := s.DetectAt(ctx, at, opts.Step, opts.Detect)
	if err != nil {
		return err
	}
	if opts.Notifier == nil {
		return nil
	}
	if err := opts.Notifier.Record(ctx, alerts); err != nil {
		return err
	}
	if len(alerts) > 0 {
		opts.Logger.Info("demand surges", "alerts", len(alerts), "at", at)
	}
	_, err = opts.Notifier.Deliver(ctx)
	return err
}
