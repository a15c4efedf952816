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
	// Detect are the detection options (DefaultDetectOptions when zero).
	Detect DetectOptions
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Run detects surges every Step hours, on the hour, records the alerts and
// delivers the pending ones, until ctx ends; a failed round is logged and
// the next one tries again (pending deliveries included).
func (s *Service) Run(ctx context.Context, opts RunOptions) {
	if opts.Step <= 0 {
		opts.Step = 4
	}
	if opts.Detect == (DetectOptions{}) {
		opts.Detect = DefaultDetectOptions()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	every := time.Duration(opts.Step) * time.Hour
	for {
		now := opts.Now()
		next := now.Truncate(every).Add(every)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.Round(ctx, next, opts); err != nil && ctx.Err() == nil {
			opts.Logger.Warn("demand round failed", "at", next, "err", err)
		}
	}
}

// Round is one of Run's rounds at the hour of at: detect, record, deliver.
func (s *Service) Round(ctx context.Context, at time.Time, opts RunOptions) error {
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
