package journeys

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/segments"
)

// The executor keeps in memory what it needs to step runs without reading
// ClickHouse for each: per journey its versions, its active runs (one per
// person) and which of them are ready, and one heap of timers. All of it
// is rebuilt from journey_runs at start (load); ClickHouse is the record,
// memory follows it: a run's new state is written before memory moves.

// Run states in memory and in journey_runs.
const (
	stateReady   = "ready"   // to execute its node
	stateWaiting = "waiting" // at a wait or wait-for node until wake (or a record)
	stateDone    = "done"
)

// run is an active run, as small as it can be: the executor holds one
// per person in a journey (see BenchmarkEnterAMillion for its cost).
type run struct {
	entry, seq, version uint32
	node                int32 // index into the version's nodes
	waiting             bool
	entered             int64 // unix ms
	since               int64 // unix ms: when the run reached its node
	wake                int64 // unix ms: a waiting run's timer
}

// compiled is a version ready to run: its nodes by index, parsed waits
// and checked conditions.
type compiled struct {
	version uint32
	def     Definition
	index   map[string]int32
	waits   []time.Duration // per node: a wait's duration or a wait-for's timeout
	conds   []*segments.Compiled
}

// live is a journey the executor runs.
type live struct {
	st       state
	versions map[uint32]*compiled
	runs     map[uint32]run  // person -> active run
	ready    *roaring.Bitmap // persons whose run is ready
	// replenishedAt is when a replenishment entry last looked for
	// households coming due.
	replenishedAt time.Time
}

// compile prepares version v of a journey.
func (s *Service) compile(v uint32, d Definition) (*compiled, error) {
	c := &compiled{version: v, def: d, index: map[string]int32{}, waits: make([]time.Duration, len(d.Nodes)), conds: make([]*segments.Compiled, len(d.Nodes))}
	for i, n := range d.Nodes {
		c.index[n.ID] = int32(i)
		var err error
		switch {
		case n.Type == NodeWait && n.Wait.Duration != "":
			c.waits[i], err = parseDuration(n.Wait.Duration)
		case n.Type == NodeWaitFor:
			c.waits[i], err = parseDuration(n.WaitFor.Timeout)
		case n.Type == NodeBranch:
			c.conds[i], err = s.Segments.Engine().Check(n.Branch.Condition)
		}
		if err != nil {
			return nil, fmt.Errorf("journeys: version %d node %s: %w", v, n.ID, err)
		}
	}
	return c, nil
}

// version returns a journey's compiled version v, reading it once.
func (s *Service) version(ctx context.Context, lj *live, v uint32) (*compiled, error) {
	if c := lj.versions[v]; c != nil {
		return c, nil
	}
	d, err := s.definition(ctx, lj.st.ID, v)
	if err != nil {
		return nil, err
	}
	c, err := s.compile(v, d)
	if err != nil {
		return nil, err
	}
	lj.versions[v] = c
	return c, nil
}

// timer is a waiting run's wake-up; stale ones (the run moved on: its
// seq differs) are dropped when they come due.
type timer struct {
	at     int64
	lj     *live
	person uint32
	seq    uint32
}

type timers []timer

func (h timers) Len() int           { return len(h) }
func (h timers) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timers) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// move is one step of one run: the run's new state (done: exit says why)
// and the step's record.
type move struct {
	person  uint32
	r       run
	done    bool
	exit    string
	node    string // the node executed
	typ     string
	outcome string
	detail  string
}

var runColumns = []string{"journey_id", "person_id", "entry", "seq", "version", "node", "state", "group", "entered_at", "since", "wake_at", "exit_reason", "updated_at"}
var stepColumns = []string{"journey_id", "person_id", "entry", "seq", "version", "node", "type", "outcome", "detail", "at"}

// apply records moves of a journey's runs, then follows them in memory:
// first the steps (journey_steps: rewriting a step keeps one row per run
// and seq), then the runs' new states (journey_runs: the commit point; a
// crash before it repeats the step from the old state), then memory.
func (s *Service) apply(ctx context.Context, lj *live, moves []move) error {
	if len(moves) == 0 {
		return nil
	}
	now := s.stamp()
	steps, runs := make([][]any, len(moves)), make([][]any, len(moves))
	for i, m := range moves {
		r := m.r
		group, st, node := GroupTreatment, stateReady, m.node
		switch {
		case m.done:
			st = stateDone
			if m.exit == ExitHoldout {
				group = GroupHoldout
			}
		case r.waiting:
			st = stateWaiting
		}
		if c := lj.versions[r.version]; c != nil && r.node >= 0 && int(r.node) < len(c.def.Nodes) && !m.done {
			node = c.def.Nodes[r.node].ID
		}
		steps[i] = []any{lj.st.ID, m.person, r.entry, r.seq, r.version, m.node, m.typ, m.outcome, m.detail, now}
		runs[i] = []any{lj.st.ID, m.person, r.entry, r.seq, r.version, node, st, group, ms(r.entered), ms(r.since), ms(r.wake), m.exit, now}
	}
	first := moves[0]
	prefix := fmt.Sprintf("%s:%s:%d:%d", lj.st.ID, first.node, first.person, first.r.seq)
	if err := s.write(ctx, "record steps", "journey_steps", stepColumns, "steps:"+prefix, steps); err != nil {
		return err
	}
	if err := s.crash("steps"); err != nil {
		return err
	}
	if err := s.write(ctx, "record runs", "journey_runs", runColumns, "runs:"+prefix, runs); err != nil {
		return err
	}
	s.follow(lj, moves)
	return s.crash("runs")
}

// follow moves memory as moves say, once they are recorded.
func (s *Service) follow(lj *live, moves []move) {
	if s.moved != nil {
		s.moved(moves)
	}
	for _, m := range moves {
		switch {
		case m.done:
			delete(lj.runs, m.person)
			lj.ready.Remove(m.person)
		case m.r.waiting:
			lj.runs[m.person] = m.r
			lj.ready.Remove(m.person)
			heap.Push(&s.timers, timer{at: m.r.wake, lj: lj, person: m.person, seq: m.r.seq})
		default:
			lj.runs[m.person] = m.r
			lj.ready.Add(m.person)
		}
	}
}

// crash fails at a named step when a test asks for it, as a crash would:
// "steps" after a batch's steps are recorded, "runs" after its runs are,
// "planned" after a send step is planned and before its runs move.
func (s *Service) crash(step string) error {
	if s.crashAfter != nil {
		return s.crashAfter(step)
	}
	return nil
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

// load rebuilds memory from ClickHouse: the journeys running or paused,
// their versions in use and their active runs (ready ones ready again,
// waiting ones with their timers).
func (s *Service) load(ctx context.Context) error {
	sts, err := s.readStates(ctx, "")
	if err != nil {
		return err
	}
	s.live, s.timers = map[string]*live{}, nil
	for _, st := range sts {
		if st.Status != StatusRunning && st.Status != StatusPaused {
			continue
		}
		lj := &live{st: st, versions: map[uint32]*compiled{}, runs: map[uint32]run{}, ready: roaring.New()}
		if _, err := s.version(ctx, lj, st.Version); err != nil {
			return err
		}
		if err := s.loadRuns(ctx, lj); err != nil {
			return err
		}
		s.live[st.ID] = lj
	}
	heap.Init(&s.timers)
	return nil
}

// loadRuns reads a journey's active runs.
func (s *Service) loadRuns(ctx context.Context, lj *live) error {
	type row struct {
		person, entry, seq, version uint32
		node, state                 string
		entered, since, wake        time.Time
	}
	var rows []row
	err := s.each(ctx, "read active runs", "SELECT person_id, entry, seq, version, node, state, entered_at, since, wake_at FROM "+s.DB.Table("journey_runs")+
		" FINAL WHERE journey_id = {id:String} AND state != 'done'", []any{named("id", lj.st.ID)}, func(rs driver.Rows) error {
		var r row
		if err := rs.Scan(&r.person, &r.entry, &r.seq, &r.version, &r.node, &r.state, &r.entered, &r.since, &r.wake); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		c, err := s.version(ctx, lj, r.version)
		if err != nil {
			return err
		}
		idx, ok := c.index[r.node]
		if !ok {
			return fmt.Errorf("journeys: run of person %d in %s at node %q, which version %d lacks", r.person, lj.st.ID, r.node, r.version)
		}
		ru := run{entry: r.entry, seq: r.seq, version: r.version, node: idx, waiting: r.state == stateWaiting,
			entered: r.entered.UnixMilli(), since: r.since.UnixMilli(), wake: r.wake.UnixMilli()}
		s.follow(lj, []move{{person: r.person, r: ru}})
	}
	return nil
}
