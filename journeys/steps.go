package journeys

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/schema"
)

// farFuture bounds record reads that have no end.
var farFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// group is the runs of one journey at one node of one version.
type group struct {
	version uint32
	node    int32
}

// groups splits persons' runs by version and node, in a stable order.
func groups(lj *live, persons []uint32) ([]group, map[group][]uint32) {
	by := map[group][]uint32{}
	var order []group
	for _, p := range persons {
		r := lj.runs[p]
		g := group{r.version, r.node}
		if by[g] == nil {
			order = append(order, g)
		}
		by[g] = append(by[g], p)
	}
	slices.SortFunc(order, func(a, b group) int {
		if a.version != b.version {
			return int(a.version) - int(b.version)
		}
		return int(a.node) - int(b.node)
	})
	return order, by
}

// stepReady executes every ready run, node after node, until none is
// ready: a run goes on through sends, branches and splits in one round
// and stops at a wait or an exit.
func (s *Service) stepReady(ctx context.Context, now time.Time) error {
	for _, lj := range s.ordered() {
		for pass := 0; !lj.ready.IsEmpty(); pass++ {
			if pass > maxNodes+2 {
				return fmt.Errorf("journeys: %s: runs still ready after %d passes", lj.st.ID, pass)
			}
			order, by := groups(lj, lj.ready.ToArray())
			for _, g := range order {
				persons := by[g]
				for i := 0; i < len(persons); i += s.batch() {
					if err := s.step(ctx, lj, g, persons[i:min(i+s.batch(), len(persons))], now); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// step executes node g of runs of persons, all ready there: the exit
// criteria first, then the node.
func (s *Service) step(ctx context.Context, lj *live, g group, persons []uint32, now time.Time) error {
	c, err := s.version(ctx, lj, g.version)
	if err != nil {
		return err
	}
	n := &c.def.Nodes[g.node]
	moves, persons, err := s.exitCriteria(ctx, lj, c, persons)
	if err != nil || len(persons) == 0 {
		return errors.Join(err, s.apply(ctx, lj, moves))
	}
	nowMS := now.UnixMilli()
	var more []move
	switch n.Type {
	case NodeSend:
		more, err = s.stepSend(ctx, lj, c, n, persons, nowMS)
	case NodeWait:
		more, err = s.stepWait(ctx, lj, c, g.node, persons, now)
	case NodeWaitFor:
		for _, p := range persons {
			r := lj.runs[p]
			more = append(more, hold(lj, p, n, r.since+c.waits[g.node].Milliseconds()))
		}
	case NodeBranch:
		more, err = s.stepBranch(ctx, lj, c, g.node, persons, nowMS)
	case NodeSplit:
		for _, p := range persons {
			arm := pickArm(lj.st.ID, n, p, lj.st.Winners[n.ID])
			more = append(more, advance(lj, c, p, n, arm.Next, arm.Name, nowMS))
		}
	case NodeExit:
		for _, p := range persons {
			more = append(more, finish(lj, c, p, n.ID, "exited"))
		}
	}
	if err != nil {
		return err
	}
	return s.apply(ctx, lj, append(moves, more...))
}

// advance moves a run from node from to node to, ready there.
func advance(lj *live, c *compiled, p uint32, from *Node, to, outcome string, now int64) move {
	r := lj.runs[p]
	r.seq++
	r.node, r.waiting, r.since, r.wake = c.index[to], false, now, 0
	return move{person: p, r: r, node: from.ID, typ: from.Type, outcome: outcome}
}

// hold makes a run wait at its node until wake.
func hold(lj *live, p uint32, n *Node, wake int64) move {
	r := lj.runs[p]
	r.seq++
	r.waiting, r.wake = true, wake
	return move{person: p, r: r, node: n.ID, typ: n.Type, outcome: "waiting"}
}

// finish ends a run at its node for reason.
func finish(lj *live, c *compiled, p uint32, reason, outcome string) move {
	r := lj.runs[p]
	n := &c.def.Nodes[r.node]
	r.seq++
	return move{person: p, r: r, done: true, exit: reason, node: n.ID, typ: n.Type, outcome: outcome}
}

// finishAny ends a run whatever version it is on.
func (s *Service) finish(lj *live, p uint32, r run, reason string) move {
	return finish(lj, lj.versions[r.version], p, reason, reason)
}

// exitCriteria ends the runs the journey's exit criteria remove before
// they take their next step (converted, left the segment) and returns the
// persons left.
func (s *Service) exitCriteria(ctx context.Context, lj *live, c *compiled, persons []uint32) ([]move, []uint32, error) {
	st, e := c.def.Settings, c.def.Entry
	var moves []move
	if st.ExitOnSegmentExit && e.SegmentID != "" {
		members, err := s.Segments.Members(e.SegmentID)
		if err != nil {
			return nil, nil, err
		}
		persons = slices.DeleteFunc(slices.Clone(persons), func(p uint32) bool {
			if members.Contains(p) {
				return false
			}
			moves = append(moves, finish(lj, c, p, ExitLeftSegment, ExitLeftSegment))
			return true
		})
	}
	if !st.ExitOnConversion || len(persons) == 0 {
		return moves, persons, nil
	}
	conv, err := s.converted(ctx, lj, c, persons)
	if err != nil {
		return nil, nil, err
	}
	persons = slices.DeleteFunc(slices.Clone(persons), func(p uint32) bool {
		if !conv[p] {
			return false
		}
		moves = append(moves, finish(lj, c, p, ExitConverted, ExitConverted))
		return true
	})
	return moves, persons, nil
}

// converted tells which runs of persons have an order matching the goal
// offer since their entry.
func (s *Service) converted(ctx context.Context, lj *live, c *compiled, persons []uint32) (map[uint32]bool, error) {
	offer, err := s.Campaigns.Offer(ctx, c.def.Settings.GoalOfferID)
	if err != nil {
		return nil, fmt.Errorf("journeys: %s: goal offer: %w", lj.st.ID, err)
	}
	first := lj.runs[persons[0]].entered
	for _, p := range persons {
		first = min(first, lj.runs[p].entered)
	}
	times, err := s.matchRuns(ctx, persons, nil, &OrderFilter{SKUs: offer.SKUs, Categories: offer.Categories}, ms(first), farFuture)
	if err != nil {
		return nil, err
	}
	out := map[uint32]bool{}
	for p, ts := range times {
		out[p] = within(ts, lj.runs[p].entered, farFuture.UnixMilli())
	}
	return out, nil
}

// within tells whether one of times falls in [from, until) (unix ms).
func within(times []time.Time, from, until int64) bool {
	for _, t := range times {
		if m := t.UnixMilli(); m >= from && m < until {
			return true
		}
	}
	return false
}

// stepID names a send step's rows in the send log and task journal: one
// per journey version, node and entry number, so a run sends a node at
// most once.
func stepID(journey string, version uint32, node string, entry uint32) string {
	return fmt.Sprintf("%s/v%d/%s/%d", journey, version, node, entry)
}

// stepSend plans the node's send for persons (campaigns.PlanStep: consent,
// separate consent after a sensitive entry segment or branch, opt-outs,
// caps, address; planning again after a crash plans nobody
// twice) and moves them on; the send itself is made by sendPending,
// through the channel's journal.
func (s *Service) stepSend(ctx context.Context, lj *live, c *compiled, n *Node, persons []uint32, now int64) ([]move, error) {
	byEntry := map[uint32]*roaring.Bitmap{}
	for _, p := range persons {
		e := lj.runs[p].entry
		if byEntry[e] == nil {
			byEntry[e] = roaring.New()
		}
		byEntry[e].Add(p)
	}
	sensitive, err := s.stepSensitivity(ctx, c, n.ID)
	if err != nil {
		return nil, err
	}
	var moves []move
	for _, e := range slices.Sorted(maps.Keys(byEntry)) {
		id := stepID(lj.st.ID, c.version, n.ID, e)
		camp := stepCampaign(&c.def, n, id)
		camp.StepSensitive = sensitive
		lines, err := s.Campaigns.PlanStep(ctx, camp, byEntry[e])
		if err != nil {
			return nil, err
		}
		s.addPending(camp)
		if err := s.crash("planned"); err != nil {
			return nil, err
		}
		for _, p := range byEntry[e].ToArray() {
			outcome := "planned"
			switch l, ok := lines[p]; {
			case !ok:
				outcome = "not_planned"
			case l.Group != campaigns.GroupTreatment:
				outcome = "excluded:" + l.Reason
			}
			m := advance(lj, c, p, n, n.Next, outcome, now)
			m.detail = id
			moves = append(moves, m)
		}
	}
	return moves, nil
}

// stepWait makes runs wait: until the duration after they arrived, the
// next time of day (Beijing), or their date trait; a run whose time is
// past (or who has no such trait) goes on at once.
func (s *Service) stepWait(ctx context.Context, lj *live, c *compiled, idx int32, persons []uint32, now time.Time) ([]move, error) {
	n := &c.def.Nodes[idx]
	w := n.Wait
	var dates map[uint32]time.Time
	if w.UntilTrait != "" {
		var err error
		if dates, err = s.traitDates(ctx, w.UntilTrait, persons); err != nil {
			return nil, err
		}
	}
	nowMS := now.UnixMilli()
	moves := make([]move, 0, len(persons))
	for _, p := range persons {
		r := lj.runs[p]
		var wake int64
		switch {
		case w.Duration != "":
			wake = r.since + c.waits[idx].Milliseconds()
		case w.UntilTime != "":
			wake = nextClock(ms(r.since), w.UntilTime).UnixMilli()
		default:
			d, ok := dates[p]
			if !ok {
				moves = append(moves, advance(lj, c, p, n, n.Next, "no_date", nowMS))
				continue
			}
			at, _ := clock(w.At)
			wake = d.AddDate(0, 0, w.OffsetDays).Add(time.Duration(at) * time.Minute).UnixMilli()
		}
		if wake <= nowMS {
			moves = append(moves, advance(lj, c, p, n, n.Next, "past", nowMS))
			continue
		}
		moves = append(moves, hold(lj, p, n, wake))
	}
	return moves, nil
}

// nextClock is the first time of day hhmm (Beijing) after t.
func nextClock(t time.Time, hhmm string) time.Time {
	minutes, _ := clock(hhmm)
	b := t.In(schema.Beijing)
	at := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, schema.Beijing).Add(time.Duration(minutes) * time.Minute)
	if !at.After(t) {
		at = at.AddDate(0, 0, 1)
	}
	return at.UTC()
}

// stepBranch evaluates the branch's condition now and sends each run
// down yes or no.
func (s *Service) stepBranch(ctx context.Context, lj *live, c *compiled, idx int32, persons []uint32, now int64) ([]move, error) {
	n := &c.def.Nodes[idx]
	match, err := s.Segments.Engine().Evaluate(ctx, c.conds[idx])
	if err != nil {
		return nil, fmt.Errorf("journeys: %s: branch %s: %w", lj.st.ID, n.ID, err)
	}
	moves := make([]move, 0, len(persons))
	for _, p := range persons {
		if match.Contains(p) {
			moves = append(moves, advance(lj, c, p, n, n.Branch.Yes, "yes", now))
		} else {
			moves = append(moves, advance(lj, c, p, n, n.Branch.No, "no", now))
		}
	}
	return moves, nil
}

// pickArm is a person's arm of a split: the declared winner, else by a
// stable hash of (journey, node, person) over the arms' percentages.
func pickArm(journey string, n *Node, p uint32, winner string) SplitArm {
	arms := n.Split.Arms
	for _, a := range arms {
		if a.Name == winner {
			return a
		}
	}
	b := float64(campaigns.Bucket("journey-split:"+journey+"/"+n.ID, p))
	cum := 0.0
	for _, a := range arms {
		cum += a.Percent * 100
		if b < cum {
			return a
		}
	}
	return arms[len(arms)-1]
}
