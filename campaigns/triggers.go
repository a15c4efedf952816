package campaigns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// RunOptions pace the live loop.
type RunOptions struct {
	// Every is the longest wait between rounds (default 30 s); segment
	// entries and launches wake the loop at once.
	Every time.Duration
	// ReplenishEvery is how often replenishment campaigns look for
	// households coming due (default 1 h).
	ReplenishEvery time.Duration
	// SyncEvery is how often WeCom delivery results are read (default 5 min).
	SyncEvery time.Duration
}

// SegmentChanged takes a segment's membership change (set it as, or call
// it from, segments.Store.OnChange). Entries are queued for the campaigns
// triggered by that segment and the loop is woken; it never blocks.
func (s *Service) SegmentChanged(ch segments.Change) {
	if len(ch.Entered) == 0 {
		return
	}
	s.wakeMu.Lock()
	if s.entered == nil {
		s.entered = map[string]*roaring.Bitmap{}
	}
	bm := s.entered[ch.Segment]
	if bm == nil {
		bm = roaring.New()
		s.entered[ch.Segment] = bm
	}
	bm.AddMany(ch.Entered)
	s.wakeMu.Unlock()
	s.wakeUp()
}

func (s *Service) wakeC() chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s.wake
}

// kick wakes the loop without waiting, for a full round.
func (s *Service) kick() {
	s.sweep.Store(true)
	s.wakeUp()
}

// wakeUp wakes the loop without waiting.
func (s *Service) wakeUp() {
	select {
	case s.wakeC() <- struct{}{}:
	default:
	}
}

// takeEntered hands over the queued entries.
func (s *Service) takeEntered() map[string]*roaring.Bitmap {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	out := s.entered
	s.entered = nil
	return out
}

// Run drives campaigns until ctx ends: it starts scheduled campaigns when
// due, plans segment entries for segment-entry campaigns as they arrive,
// looks for households due for replenishment, sends what is planned (after
// settling what a crash left), reads WeCom delivery results and finishes
// triggered campaigns past their end. Errors are logged and retried next
// round; planned sends are never dropped.
//
// A round woken only by segment entries is short (see round): it sends
// what it planned for them and nothing else; every other round — the
// first, one after a failure, a launch's, and at least one every Every —
// is a full pass that also sweeps every running campaign's send log.
func (s *Service) Run(ctx context.Context, o RunOptions) {
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	if o.ReplenishEvery <= 0 {
		o.ReplenishEvery = time.Hour
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 5 * time.Minute
	}
	s.looping.Store(true)
	defer s.looping.Store(false)
	wake := s.wakeC()
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	var lastSync, lastFull time.Time
	retry := time.Duration(0) // after a failed round: 1 s, doubling up to Every
	full := true
	for {
		if full || s.now().Sub(lastFull) >= o.Every {
			full, lastFull = true, s.now()
		}
		if err := s.round(ctx, o.ReplenishEvery, full || s.takeSweep()); err != nil && ctx.Err() == nil {
			s.Logger.Warn("campaign round failed; retrying", "err", err, "in", max(retry*2, time.Second))
			retry = min(max(retry*2, time.Second), o.Every)
		} else {
			retry = 0
		}
		if time.Since(lastSync) >= o.SyncEvery {
			if _, err := s.SyncDeliveries(ctx); err != nil && ctx.Err() == nil {
				s.Logger.Warn("delivery results", "err", err)
			}
			lastSync = time.Now()
		}
		var again <-chan time.Time
		if retry > 0 {
			again = time.After(retry)
		}
		full = retry > 0
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
			full = true
		case <-again:
			full = true
		}
	}
}

// Round does one full pass of Run's work (except delivery results): tests
// and benchmarks call it directly.
func (s *Service) Round(ctx context.Context, replenishEvery time.Duration) error {
	return s.round(ctx, replenishEvery, true)
}

// round plans and sends. A full round sends every running campaign's
// planned rows (send: it settles what a crash or a failed round left
// "sending", then reads the planned rows of the whole send log). A short
// one (full false: woken by segment entries only) sends, of the
// segment-entry campaigns, only the rows it planned itself, read back by
// person (sendPlanned), and only for campaigns whose last send in this
// process went through (settled); any other running campaign with work
// (started or replenished in the round, or unsettled) gets the full send.
// Exactly-once does not depend on which: both send only rows still
// "planned" in the send log, under sendMu, through the journalling
// channel.
func (s *Service) round(ctx context.Context, replenishEvery time.Duration, full bool) error {
	entered := s.takeEntered()
	list, err := s.Campaigns(ctx)
	if err != nil {
		s.requeue(entered)
		return err
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	var pre *prefetch // a short round reads its entries' names and staff while it plans
	if !full {
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		pre = s.prefetchEntries(pctx, list, entered)
	}
	s.mu.Lock()
	var toSend []Campaign
	planned := map[string]*roaring.Bitmap{} // segment-entry campaign -> treatment persons planned in this round
	needsFull := map[string]bool{}          // campaigns the round started, recovered or replenished
	for _, c := range list {
		switch c.Status {
		case StatusScheduled:
			if s.now().Before(c.StartAt) {
				continue
			}
			started, _, err := s.start(ctx, c, "schedule")
			note(err)
			if err == nil {
				toSend = append(toSend, started)
				needsFull[c.ID] = true
			}
		case StatusRunning:
			if c.Trigger == TriggerSegmentEntry && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
				if !s.recovered[c.ID] {
					note(s.recoverEntries(ctx, c))
					needsFull[c.ID] = true
				}
				if entered[c.SegmentID] != nil {
					p, err := s.planTriggered(ctx, c, entered[c.SegmentID].Clone())
					note(err)
					if err == nil {
						planned[c.ID] = p.treatment()
					}
				}
			}
			if c.Trigger == TriggerReplenishment && s.now().Sub(s.replenishedAt(c.ID)) >= replenishEvery && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
				_, err := s.replenish(ctx, c)
				note(err)
				needsFull[c.ID] = true
			}
			toSend = append(toSend, c)
		}
	}
	s.mu.Unlock()
	if firstErr != nil { // entries stay queued for the next round
		s.requeue(entered)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for _, c := range toSend {
		if c.Trigger != TriggerOnce && c.Trigger != "" && !s.channels().isGroup(c.Channel) && inQuietHours(s.now(), c.QuietStart, c.QuietEnd) && s.now().Before(endOr(c)) {
			s.settle(c.ID, errQuietHours) // the next round sends them all
			continue                      // triggered sends wait for the quiet hours to end
		}
		switch persons := planned[c.ID]; {
		case full || needsFull[c.ID] || !s.settled[c.ID]:
			note(s.send(ctx, c))
		case persons != nil && !persons.IsEmpty():
			note(s.sendPlanned(ctx, c, persons, pre))
		}
	}
	return firstErr
}

// prefetchEntries starts reading the profiles of the persons who entered
// the segments of running segment-entry campaigns (nil: none entered).
func (s *Service) prefetchEntries(ctx context.Context, list []Campaign, entered map[string]*roaring.Bitmap) *prefetch {
	all := roaring.New()
	for _, c := range list {
		if c.Status == StatusRunning && c.Trigger == TriggerSegmentEntry && entered[c.SegmentID] != nil {
			all.Or(entered[c.SegmentID])
		}
	}
	if all.IsEmpty() {
		return nil
	}
	return s.prefetchProfiles(ctx, all)
}

// errQuietHours marks a campaign whose sends waited for its quiet hours.
var errQuietHours = errors.New("campaigns: in quiet hours")

// takeSweep reports whether something other than segment entries (a
// launch, a schedule) asked for a round since the last call.
func (s *Service) takeSweep() bool {
	return s.sweep.Swap(false)
}

func endOr(c Campaign) time.Time {
	if c.EndAt.IsZero() {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return c.EndAt
}

func (s *Service) requeue(entered map[string]*roaring.Bitmap) {
	for seg, bm := range entered {
		s.SegmentChanged(segments.Change{Segment: seg, Entered: bm.ToArray()})
	}
}

// recoverEntries plans, once per process and running segment-entry
// campaign, the persons who entered the segment after the launch instant
// (the members then are its baseline, not entries) and are still members
// (segments.Store.EnteredSince, which says why), except those in the send
// log. The caller holds s.mu.
func (s *Service) recoverEntries(ctx context.Context, c Campaign) error {
	since := c.LaunchedAt
	if since.IsZero() {
		since = c.StartAt
	}
	logged, err := s.Segments.EnteredSince(ctx, c.SegmentID, since)
	if err != nil {
		return fmt.Errorf("campaign %s: %w", c.ID, err)
	}
	entered := roaring.New()
	for p := range logged {
		entered.Add(p)
	}
	p, err := s.planTriggered(ctx, c, entered)
	if err != nil {
		return err
	}
	if n := p.Counts[GroupTreatment] + p.Counts[GroupHoldout]; n > 0 {
		s.Logger.Info("planned segment entries a previous process logged but did not plan", "campaign", c.ID, "persons", n)
	}
	if s.recovered == nil {
		s.recovered = map[string]bool{}
	}
	s.recovered[c.ID] = true
	return nil
}

// planTriggered plans persons for a running triggered campaign, except
// those already in its send log (a person is planned once per campaign),
// and writes the plan; the send round then sends it.
func (s *Service) planTriggered(ctx context.Context, c Campaign, persons *roaring.Bitmap) (Plan, error) {
	if persons.IsEmpty() {
		return Plan{}, nil
	}
	have, err := s.bitmap(ctx, "read who is in the send log already", "SELECT person_id FROM "+s.DB.Table("campaign_sends")+
		" WHERE campaign_id = {campaign:String} AND person_id IN {persons:Array(UInt32)}", named("campaign", c.ID), named("persons", persons.ToArray()))
	if err != nil {
		return Plan{}, err
	}
	persons.AndNot(have)
	if persons.IsEmpty() {
		return Plan{}, nil
	}
	p, err := s.plan(ctx, c, persons)
	if err != nil {
		return p, err
	}
	first, last := persons.Minimum(), persons.Maximum()
	tok := fmt.Sprintf("trigger:%s:%d-%d:%d:%d", c.ID, first, last, persons.GetCardinality(), s.stamp().UnixMilli())
	if err := s.writePlan(ctx, c, p, tok); err != nil {
		return p, err
	}
	s.Logger.Debug("triggered sends planned", "campaign", c.ID, "persons", persons.GetCardinality(), "treatment", p.Counts[GroupTreatment])
	return p, nil
}

func (s *Service) replenishedAt(id string) time.Time {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.lastReplenish[id]
}

// replenish plans the households whose predicted next purchase of the
// campaign's kind (rice or oil; person_next_purchase) falls between today
// and LeadDays from today in Beijing time — within the campaign's segment
// when it has one. Each household is reminded once per campaign.
func (s *Service) replenish(ctx context.Context, c Campaign) (Plan, error) {
	today := s.now().In(schema.Beijing)
	due, err := s.bitmap(ctx, "read households due for replenishment", "SELECT person_id FROM "+s.DB.Table("person_next_purchase")+
		" WHERE kind = {kind:String} AND next_purchase BETWEEN {from:Date} AND {to:Date}",
		named("kind", c.ReplenishKind), named("from", today.Format(time.DateOnly)), named("to", today.AddDate(0, 0, c.LeadDays).Format(time.DateOnly)))
	if err != nil {
		return Plan{}, fmt.Errorf("replenishment %s: %w", c.ID, err)
	}
	if c.SegmentID != "" {
		members, err := s.Segments.Members(c.SegmentID)
		if err != nil {
			return Plan{}, err
		}
		due.And(members)
	}
	p, err := s.planTriggered(ctx, c, due)
	if err == nil {
		s.wakeMu.Lock()
		if s.lastReplenish == nil {
			s.lastReplenish = map[string]time.Time{}
		}
		s.lastReplenish[c.ID] = s.now()
		s.wakeMu.Unlock()
	}
	return p, err
}
