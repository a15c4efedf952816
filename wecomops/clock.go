package wecomops

import (
	"context"
	"sync"
	"time"
)

// Clock is the time the loops and their rate limits run on. Tests and the
// tag-sync measurement give a simulated clock whose Sleep returns at once
// after moving the time on, so an hour of WeCom's limits passes in seconds.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends (returning ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d on a timer, or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// limiter keeps calls to one WeCom API under a per-minute and a per-hour
// limit over every sliding minute and hour (WeCom's own windows are not
// documented, so none of theirs can see more than the limit). It keeps
// the times of the last hour's calls: at most perHour of them.
type limiter struct {
	clock              Clock
	perMinute, perHour int

	mu    sync.Mutex
	times []time.Time // calls of the last hour, oldest first
	head  int         // times[head:] are within the hour
}

func newLimiter(clock Clock, perMinute, perHour int) *limiter {
	return &limiter{clock: clock, perMinute: perMinute, perHour: perHour}
}

// wait returns once a call may be made, counting it; callers are served
// in turn (the lock is held while waiting, so a waiter cannot be
// overtaken).
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		now := l.clock.Now()
		d := l.delay(now)
		if d <= 0 {
			l.times = append(l.times, now)
			return nil
		}
		if err := l.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// delay is how long from now until a call fits both windows.
func (l *limiter) delay(now time.Time) time.Duration {
	for l.head < len(l.times) && !l.times[l.head].After(now.Add(-time.Hour)) {
		l.head++
	}
	if l.head > 4096 && l.head*2 > len(l.times) {
		l.times = append([]time.Time(nil), l.times[l.head:]...)
		l.head = 0
	}
	live := l.times[l.head:]
	var d time.Duration
	if l.perHour > 0 && len(live) >= l.perHour {
		d = live[len(live)-l.perHour].Add(time.Hour).Sub(now)
	}
	if l.perMinute > 0 && len(live) >= l.perMinute {
		if m := live[len(live)-l.perMinute].Add(time.Minute).Sub(now); m > d {
			d = m
		}
	}
	if d > 0 {
		d += time.Millisecond // past the window's edge, not on it
	}
	return d
}
