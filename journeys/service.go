package journeys

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// Service stores journeys and runs them (Run, or Round in tests). DB,
// Writer, Campaigns (whose channels and rules the sends use) and Segments
// are required. It is safe for concurrent use.
type Service struct {
	DB        *store.DB
	Writer    *store.Writer
	Campaigns *campaigns.Service
	Segments  *segments.Store
	Logger    *slog.Logger
	// Now is the clock every timer and wait reads (default time.Now):
	// tests move it and call Round instead of sleeping.
	Now func() time.Time
	// Batch is how many runs one step executes together (default 50,000,
	// as many as a campaign send chunk).
	Batch int

	mu     sync.Mutex // serialises rounds and changes of journeys
	loaded bool
	live   map[string]*live
	timers timers

	sendMu      sync.Mutex              // serialises sendPending
	sendStateMu sync.Mutex              // guards pending
	pending     map[string]*pendingStep // send steps with sends to make

	wakeMu   sync.Mutex // guards inbox
	wakeOnce sync.Once
	wake     chan struct{}
	inbox    inbox
	// catchUp asks the next round to look at every active run and entry
	// as if records had touched them all: after a start, what arrived
	// while the platform was down.
	catchUp bool

	lastStamp atomic.Int64 // unix ms of the last stamp
	// crashAfter, in tests, fails at a named step as a crash would.
	crashAfter func(step string) error
	// moved, in benchmarks, sees each batch of moves once recorded.
	moved func([]move)
}

// inbox is what arrived for the next round: persons touched by committed
// records (by kind: events, orders) and segment changes.
type inbox struct {
	events, orders *roaring.Bitmap
	entered        map[string]*roaring.Bitmap // segment -> persons
	exited         map[string]*roaring.Bitmap
	all            bool // every person counts as touched (catch-up after a start)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return 50_000
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Save creates (no id) or edits a journey. An edit is a new version: new
// entrants run it, runs in flight stay on theirs (Migrate moves them).
// A bad definition is a *FieldError naming where it is wrong; nothing is
// written then.
func (s *Service) Save(ctx context.Context, id string, d Definition, by string) (Journey, error) {
	if err := s.validate(ctx, &d); err != nil {
		return Journey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := state{Journey: Journey{ID: id, Status: StatusDraft}}
	if id == "" {
		st.ID = newID()
	} else {
		sts, err := s.readStates(ctx, id)
		if err != nil {
			return Journey{}, err
		}
		if len(sts) == 0 {
			return Journey{}, ErrNotFound
		}
		if sts[0].Status == StatusStopped {
			return Journey{}, &FieldError{Field: "status", Message: "the journey is stopped; save it as a new journey"}
		}
		st = sts[0]
	}
	st.Version++
	st.Definition = d
	if err := s.writeVersion(ctx, st.ID, st.Version, d, by); err != nil {
		return Journey{}, err
	}
	if err := s.writeState(ctx, st, by); err != nil {
		return Journey{}, err
	}
	if lj := s.live[st.ID]; lj != nil {
		lj.st.Version, lj.st.Name = st.Version, d.Name
	}
	return s.Get(ctx, st.ID)
}

// Launch starts a draft or paused journey: it enters persons from now on
// (a segment entry with IncludeCurrent enters the segment's members at
// the next round).
func (s *Service) Launch(ctx context.Context, id, by string) (Journey, error) {
	return s.setStatus(ctx, id, by, StatusRunning, StatusDraft, StatusPaused)
}

// Pause stops entries into a running journey; runs in flight go on.
func (s *Service) Pause(ctx context.Context, id, by string) (Journey, error) {
	return s.setStatus(ctx, id, by, StatusPaused, StatusRunning)
}

// Stop ends a journey: no entries, and every active run ends (exit reason
// stopped). Sends already planned are still made.
func (s *Service) Stop(ctx context.Context, id, by string) (Journey, error) {
	return s.setStatus(ctx, id, by, StatusStopped, StatusRunning, StatusPaused, StatusDraft)
}

// setStatus moves a journey to status to from one of from.
func (s *Service) setStatus(ctx context.Context, id, by, to string, from ...string) (Journey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(ctx); err != nil {
		return Journey{}, err
	}
	sts, err := s.readStates(ctx, id)
	if err != nil {
		return Journey{}, err
	}
	if len(sts) == 0 {
		return Journey{}, ErrNotFound
	}
	st := sts[0]
	ok := false
	for _, f := range from {
		ok = ok || st.Status == f
	}
	if !ok {
		return Journey{}, &FieldError{Field: "status", Message: fmt.Sprintf("the journey is %s: it cannot become %s", st.Status, to)}
	}
	if to == StatusStopped {
		if err := s.stopRuns(ctx, id); err != nil {
			return Journey{}, err
		}
	}
	launching := to == StatusRunning && st.LaunchedAt.IsZero()
	st.Status = to
	if launching {
		// fired_at stays zero: a segment entry with IncludeCurrent enters
		// the current members at the next round (enterCurrent), and a
		// schedule fires its first time after the launch.
		st.LaunchedAt = s.now()
	}
	if err := s.writeState(ctx, st, by); err != nil {
		return Journey{}, err
	}
	if err := s.follows(ctx, st); err != nil {
		return Journey{}, err
	}
	s.kick()
	return s.Get(ctx, id)
}

// follows makes memory follow a journey's new state row.
func (s *Service) follows(ctx context.Context, st state) error {
	lj := s.live[st.ID]
	switch {
	case st.Status == StatusStopped:
		delete(s.live, st.ID)
	case lj != nil:
		lj.st = st
	default:
		lj = &live{st: st, versions: map[uint32]*compiled{}, runs: map[uint32]run{}, ready: roaring.New()}
		if _, err := s.version(ctx, lj, st.Version); err != nil {
			return err
		}
		s.live[st.ID] = lj
	}
	return nil
}

// stopRuns ends every active run of a stopped journey.
func (s *Service) stopRuns(ctx context.Context, id string) error {
	lj := s.live[id]
	if lj == nil {
		return nil
	}
	moves := make([]move, 0, len(lj.runs))
	for p, r := range lj.runs {
		moves = append(moves, s.finish(lj, p, r, ExitStopped))
	}
	for i := 0; i < len(moves); i += s.batch() {
		if err := s.apply(ctx, lj, moves[i:min(i+s.batch(), len(moves))]); err != nil {
			return err
		}
	}
	return nil
}

// ensureLoaded loads memory from ClickHouse once.
func (s *Service) ensureLoaded(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	if err := s.loadPending(ctx); err != nil {
		return err
	}
	s.loaded, s.catchUp = true, true
	return nil
}
