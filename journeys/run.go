package journeys

import (
	"container/heap"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
)

// Touched takes the persons a committed ingest batch touched and the
// tables it wrote (ingest's AfterCommit): runs waiting for an event or
// order among them are checked, and record entries looked for, at the
// next round, which it wakes. It never blocks.
func (s *Service) Touched(persons []uint32, tables []string) {
	ev, ord := slices.Contains(tables, "events"), slices.Contains(tables, "orders") || slices.Contains(tables, "order_lines")
	if !ev && !ord {
		return
	}
	s.wakeMu.Lock()
	if ev {
		s.inbox.events = addTo(s.inbox.events, persons)
	}
	if ord {
		s.inbox.orders = addTo(s.inbox.orders, persons)
	}
	s.wakeMu.Unlock()
	s.kick()
}

// SegmentChanged takes a live segment's change (segments.Store.OnChange):
// entries enter segment-entry journeys, exits end the runs of journeys
// that exit on leaving their segment. It never blocks.
func (s *Service) SegmentChanged(ch segments.Change) {
	if len(ch.Entered)+len(ch.Exited) == 0 {
		return
	}
	s.wakeMu.Lock()
	if s.inbox.entered == nil {
		s.inbox.entered, s.inbox.exited = map[string]*roaring.Bitmap{}, map[string]*roaring.Bitmap{}
	}
	if len(ch.Entered) > 0 {
		s.inbox.entered[ch.Segment] = addTo(s.inbox.entered[ch.Segment], ch.Entered)
	}
	if len(ch.Exited) > 0 {
		s.inbox.exited[ch.Segment] = addTo(s.inbox.exited[ch.Segment], ch.Exited)
	}
	s.wakeMu.Unlock()
	s.kick()
}

func addTo(bm *roaring.Bitmap, persons []uint32) *roaring.Bitmap {
	if bm == nil {
		bm = roaring.New()
	}
	bm.AddMany(persons)
	return bm
}

// wakeC is the loop's wake-up channel, made once.
func (s *Service) wakeC() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// kick wakes the loop without waiting.
func (s *Service) kick() {
	select {
	case s.wakeC() <- struct{}{}:
	default:
	}
}

// take hands over the inbox.
func (s *Service) take() inbox {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	in := s.inbox
	s.inbox = inbox{}
	return in
}

// requeue puts back what a failed round did not finish; s.mu is held.
func (s *Service) requeue(in inbox, entries bool) {
	if in.events != nil {
		s.Touched(in.events.ToArray(), []string{"events"})
	}
	if in.orders != nil {
		s.Touched(in.orders.ToArray(), []string{"orders"})
	}
	for seg, bm := range in.exited {
		s.SegmentChanged(segments.Change{Segment: seg, Exited: bm.ToArray()})
	}
	if entries {
		for seg, bm := range in.entered {
			s.SegmentChanged(segments.Change{Segment: seg, Entered: bm.ToArray()})
		}
	}
	if in.all {
		s.catchUp = true // the caller holds s.mu
	}
}

// RunOptions pace Run.
type RunOptions struct {
	// Every is the longest wait between rounds (default 30 s); records,
	// segment changes, launches and timers wake it sooner.
	Every time.Duration
}

// Run drives journeys until ctx ends: rounds of entries, exits, wakes and
// steps, each as soon as something arrived or a timer came due, and a
// sender that makes the planned sends apart, so that a slow channel never
// holds a wake-up. It returns once both have stopped; a send in flight is
// settled from the journal at the next start.
func (s *Service) Run(ctx context.Context, o RunOptions) {
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	sendWake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { s.sendLoop(ctx, sendWake, o.Every) })
	defer wg.Wait()
	wake := s.wakeC()
	retry := time.Duration(0)
	for {
		if err := s.round(ctx); err != nil && ctx.Err() == nil {
			retry = min(max(retry*2, time.Second), o.Every)
			s.logger().Warn("journey round failed; retrying", "err", err, "in", retry)
		} else {
			retry = 0
		}
		select {
		case sendWake <- struct{}{}:
		default:
		}
		wait := s.untilNextTimer(o.Every)
		if retry > 0 {
			wait = retry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendLoop makes the planned sends whenever a round asks, and every
// period (quiet hours end, a failed channel is tried again).
func (s *Service) sendLoop(ctx context.Context, wake <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		if err := s.sendPending(ctx); err != nil && ctx.Err() == nil {
			s.logger().Warn("journey sends failed; retrying", "err", err)
		}
	}
}

// untilNextTimer is how long until the earliest timer, at most every.
func (s *Service) untilNextTimer(every time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.timers) == 0 {
		return every
	}
	d := time.Until(time.UnixMilli(s.timers[0].at))
	return min(max(d, time.Millisecond), every)
}

// Round does one round of Run's work and then makes the planned sends:
// tests and benchmarks call it after moving the clock.
func (s *Service) Round(ctx context.Context) error {
	err := s.round(ctx)
	if serr := s.sendPending(ctx); err == nil {
		err = serr
	}
	return err
}

// round ends the runs records and segment exits remove, resolves waits
// whose record came or whose time is up, steps the ready runs, then admits
// entries and steps them. A failure leaves what arrived for the next
// round (each part is idempotent: entries by their watermark, the rest by
// the runs' state).
func (s *Service) round(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(ctx); err != nil {
		return err
	}
	in := s.take()
	in.all = in.all || s.catchUp
	s.catchUp = false
	now := s.now()
	err := s.react(ctx, &in, now)
	if err == nil {
		err = s.due(ctx, now)
	}
	if err == nil {
		err = s.stepReady(ctx, now) // runs ending now make room for re-entries
	}
	if err != nil {
		s.requeue(in, true)
		return err
	}
	for _, lj := range s.ordered() {
		if err := s.enter(ctx, lj, &in, now); err != nil {
			s.requeue(in, true)
			return err
		}
	}
	return s.stepReady(ctx, now)
}

// ordered lists the live journeys by id.
func (s *Service) ordered() []*live {
	out := make([]*live, 0, len(s.live))
	for _, lj := range s.live {
		out = append(out, lj)
	}
	slices.SortFunc(out, func(a, b *live) int { return strings.Compare(a.st.ID, b.st.ID) })
	return out
}

// react ends the runs records and segment exits remove and resolves the
// waits for an event or order the touched records may satisfy.
func (s *Service) react(ctx context.Context, in *inbox, now time.Time) error {
	touched := roaring.New()
	for _, bm := range []*roaring.Bitmap{in.events, in.orders} {
		if bm != nil {
			touched.Or(bm)
		}
	}
	for _, lj := range s.ordered() {
		var persons []uint32
		if in.all {
			for _, p := range sortedRuns(lj) {
				if lj.runs[p].waiting {
					persons = append(persons, p)
				}
			}
		}
		for it := touched.Iterator(); !in.all && it.HasNext(); {
			if p := it.Next(); lj.runs[p].waiting {
				persons = append(persons, p)
			}
		}
		order, by := groups(lj, persons)
		for _, g := range order {
			if err := s.reactAt(ctx, lj, g, by[g], in, now); err != nil {
				return err
			}
		}
		if err := s.segmentExits(ctx, lj, in); err != nil {
			return err
		}
	}
	return nil
}

// reactAt handles waiting runs at one node whose persons records touched:
// the exit criteria (conversion), then, at a wait-for, the record waited
// for.
func (s *Service) reactAt(ctx context.Context, lj *live, g group, persons []uint32, in *inbox, now time.Time) error {
	c, err := s.version(ctx, lj, g.version)
	if err != nil {
		return err
	}
	for i := 0; i < len(persons); i += s.batch() {
		moves, left, err := s.exitCriteria(ctx, lj, c, persons[i:min(i+s.batch(), len(persons))])
		if err != nil {
			return err
		}
		n := &c.def.Nodes[g.node]
		if n.Type == NodeWaitFor && len(left) > 0 {
			more, err := s.resolve(ctx, lj, c, g.node, left, false, now)
			if err != nil {
				return err
			}
			moves = append(moves, more...)
		}
		if err := s.apply(ctx, lj, moves); err != nil {
			return err
		}
	}
	return nil
}

// segmentExits ends the runs of persons who left the entry segment, when
// the journey exits on it.
func (s *Service) segmentExits(ctx context.Context, lj *live, in *inbox) error {
	c, err := s.version(ctx, lj, lj.st.Version)
	if err != nil || !c.def.Settings.ExitOnSegmentExit {
		return err
	}
	left := in.exited[c.def.Entry.SegmentID]
	if left == nil {
		return nil
	}
	var moves []move
	for _, p := range left.ToArray() {
		if r, ok := lj.runs[p]; ok {
			moves = append(moves, s.finish(lj, p, r, ExitLeftSegment))
		}
	}
	return s.apply(ctx, lj, moves)
}

// resolve decides waits for an event or order at node idx: a run with a
// matching record since its wait began goes down happened; at the
// timeout (final), the others go down timed out.
func (s *Service) resolve(ctx context.Context, lj *live, c *compiled, idx int32, persons []uint32, final bool, now time.Time) ([]move, error) {
	n := &c.def.Nodes[idx]
	w := n.WaitFor
	first := lj.runs[persons[0]].since
	for _, p := range persons {
		first = min(first, lj.runs[p].since)
	}
	times, err := s.matchRuns(ctx, persons, w.Event, w.Order, ms(first), farFuture)
	if err != nil {
		return nil, err
	}
	var moves []move
	nowMS := now.UnixMilli()
	for _, p := range persons {
		r := lj.runs[p]
		switch {
		case within(times[p], r.since, r.wake):
			moves = append(moves, advance(lj, c, p, n, w.Happened, "happened", nowMS))
		case final:
			moves = append(moves, advance(lj, c, p, n, w.TimedOut, "timed_out", nowMS))
		}
	}
	return moves, nil
}

// due wakes the runs whose timer came: a wait goes on, a wait-for is
// decided. Timers of a failed batch go back on the heap.
func (s *Service) due(ctx context.Context, now time.Time) error {
	nowMS := now.UnixMilli()
	var popped []timer
	byJourney := map[*live][]uint32{}
	for len(s.timers) > 0 && s.timers[0].at <= nowMS {
		t := heap.Pop(&s.timers).(timer)
		if r, ok := t.lj.runs[t.person]; ok && r.seq == t.seq && r.waiting {
			popped = append(popped, t)
			byJourney[t.lj] = append(byJourney[t.lj], t.person)
		}
	}
	for _, lj := range s.ordered() {
		persons := byJourney[lj]
		slices.Sort(persons)
		order, by := groups(lj, persons)
		for _, g := range order {
			if err := s.wakeAt(ctx, lj, g, by[g], now); err != nil {
				for _, t := range popped {
					heap.Push(&s.timers, t)
				}
				return err
			}
		}
	}
	return nil
}

// wakeAt wakes runs whose timer came at one node.
func (s *Service) wakeAt(ctx context.Context, lj *live, g group, persons []uint32, now time.Time) error {
	c, err := s.version(ctx, lj, g.version)
	if err != nil {
		return err
	}
	n := &c.def.Nodes[g.node]
	for i := 0; i < len(persons); i += s.batch() {
		chunk := persons[i:min(i+s.batch(), len(persons))]
		var moves []move
		if n.Type == NodeWaitFor {
			if moves, err = s.resolve(ctx, lj, c, g.node, chunk, true, now); err != nil {
				return err
			}
		} else {
			for _, p := range chunk {
				moves = append(moves, advance(lj, c, p, n, n.Next, "waited", now.UnixMilli()))
			}
		}
		if err := s.apply(ctx, lj, moves); err != nil {
			return err
		}
	}
	return nil
}

// pendingStep is a send step with sends to make; gen counts its plans, so
// that a plan made while it was being sent keeps it pending.
type pendingStep struct {
	camp campaigns.Campaign
	gen  uint64
}

func (s *Service) addPending(c campaigns.Campaign) {
	s.sendStateMu.Lock()
	defer s.sendStateMu.Unlock()
	if s.pending == nil {
		s.pending = map[string]*pendingStep{}
	}
	p := s.pending[c.ID]
	if p == nil {
		p = &pendingStep{camp: c}
		s.pending[c.ID] = p
	}
	p.gen++
}

// sendPending makes the planned sends of every pending step through its
// channel (campaigns.SendStep: journalled, settled after a crash); a step
// in its quiet hours, or whose channel failed, stays pending.
func (s *Service) sendPending(ctx context.Context) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.sendStateMu.Lock()
	type item struct {
		camp campaigns.Campaign
		gen  uint64
	}
	var list []item
	for _, p := range s.pending {
		list = append(list, item{p.camp, p.gen})
	}
	s.sendStateMu.Unlock()
	slices.SortFunc(list, func(a, b item) int { return strings.Compare(a.camp.ID, b.camp.ID) })
	var firstErr error
	for _, it := range list {
		quiet, err := s.Campaigns.SendStep(ctx, it.camp)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.sendStateMu.Lock()
		if p := s.pending[it.camp.ID]; !quiet && p != nil && p.gen == it.gen {
			delete(s.pending, it.camp.ID)
		}
		s.sendStateMu.Unlock()
	}
	return firstErr
}

// loadPending finds the steps a restart left with sends to make.
func (s *Service) loadPending(ctx context.Context) error {
	ids, err := s.Campaigns.PendingSteps(ctx, "jrn_")
	if err != nil {
		return err
	}
	for _, id := range ids {
		parts := strings.Split(id, "/")
		if len(parts) != 4 || !strings.HasPrefix(parts[1], "v") {
			continue
		}
		v, err := strconv.ParseUint(parts[1][1:], 10, 32)
		if err != nil {
			continue
		}
		d, err := s.definition(ctx, parts[0], uint32(v))
		if err != nil {
			return err
		}
		if n := d.node(parts[2]); n != nil && n.Type == NodeSend {
			s.addPending(stepCampaign(&d, n, id))
		}
	}
	return nil
}
