package segments

import (
	"context"
	"sync"
	"time"
)

// urgency orders the engine's ClickHouse queries for its query slots
// (Options.Concurrency): a freed slot goes to the oldest waiter of the
// most urgent class.
type urgency int

const (
	// interactive: an analyst waits for the answer (Estimate, Overlap;
	// budget about 100 ms).
	interactive urgency = iota
	// foreground: live rounds, campaign plans, exports (budget: segment
	// entry to send under 2 s).
	foreground
	// background: PatchWarm (nobody waits; at most half the slots,
	// Engine.bgSem).
	background
	urgencies
)

// urgencyKey carries a context's urgency; foreground when absent.
type urgencyKey struct{}

func withUrgency(ctx context.Context, u urgency) context.Context {
	return context.WithValue(ctx, urgencyKey{}, u)
}

func urgencyOf(ctx context.Context) urgency {
	if u, ok := ctx.Value(urgencyKey{}).(urgency); ok {
		return u
	}
	return foreground
}

// slotPatience is how long a foreground or background query waits behind
// interactive ones before it is served as their equal (oldest first):
// a tenth of a live round's 2 s budget, and several cold estimates' worth
// of queries, so a burst of estimates delays a live round by at most
// about this much and never starves it.
const slotPatience = 200 * time.Millisecond

// slots admits at most n queries at once. Waiters are served by urgency,
// then age; one that has waited slotPatience or more is served before
// any younger waiter, whatever their urgency. It is goroutine-safe.
type slots struct {
	mu       sync.Mutex
	free     int
	waiting  [urgencies][]*slotWaiter // each oldest first
	now      func() time.Time         // time.Now; tests move it
	patience time.Duration
}

type slotWaiter struct {
	since   time.Time
	granted chan struct{} // closed with the slot handed over
}

func newSlots(n int) *slots {
	return &slots{free: n, now: time.Now, patience: slotPatience}
}

// acquire takes a slot for a query of urgency u, waiting until one is
// free or ctx ends. Each successful acquire must be followed by release.
func (s *slots) acquire(ctx context.Context, u urgency) error {
	s.mu.Lock()
	if s.free > 0 && s.queued() == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	w := &slotWaiter{since: s.now(), granted: make(chan struct{})}
	s.waiting[u] = append(s.waiting[u], w)
	s.mu.Unlock()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.granted: // handed over as ctx ended: pass it on
		s.releaseLocked()
	default:
		q := s.waiting[u]
		for i, x := range q {
			if x == w {
				s.waiting[u] = append(q[:i:i], q[i+1:]...)
				break
			}
		}
	}
	return ctx.Err()
}

// release frees a slot: it goes to the next waiter (next), if any.
func (s *slots) release() {
	s.mu.Lock()
	s.releaseLocked()
	s.mu.Unlock()
}

func (s *slots) releaseLocked() {
	w := s.next()
	if w == nil {
		s.free++
		return
	}
	close(w.granted)
}

// next removes and returns the waiter to serve: the oldest waiter that
// has run out of patience, else the oldest of the most urgent class.
// Called with mu.
func (s *slots) next() *slotWaiter {
	pick := -1
	now := s.now()
	for u := range urgencies {
		if q := s.waiting[u]; len(q) > 0 && now.Sub(q[0].since) >= s.patience &&
			(pick < 0 || q[0].since.Before(s.waiting[pick][0].since)) {
			pick = int(u)
		}
	}
	for u := range urgencies {
		if pick < 0 && len(s.waiting[u]) > 0 {
			pick = int(u)
		}
	}
	if pick < 0 {
		return nil
	}
	w := s.waiting[pick][0]
	s.waiting[pick] = s.waiting[pick][1:]
	return w
}

// queued is the number of waiters. Called with mu.
func (s *slots) queued() int {
	n := 0
	for _, q := range s.waiting {
		n += len(q)
	}
	return n
}

// waiters returns the number of waiters of each urgency.
func (s *slots) waiters() [urgencies]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [urgencies]int
	for u, q := range s.waiting {
		out[u] = len(q)
	}
	return out
}
