package campaigns

import (
	"context"
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
	s.kick()
}

func (s *Service) wakeC() chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s.wake
}

// kick wakes the loop without waiting.
func (s *Service) kick() {
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
	var lastSync time.Time
	retry := time.Duration(0) // after a failed round: 1 s, doubling up to Every
	for {
		if err := s.Round(ctx, o.ReplenishEvery); err != nil && ctx.Err() == nil {
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
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		case <-again:
		}
	}
}

// Round does one pass of Run's work (except delivery results): tests and
// benchmarks call it directly.
func (s *Service) Round(ctx context.Context, replenishEvery time.Duration) error {
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
	s.mu.Lock()
	var toSend []Campaign
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
			}
		case StatusRunning:
			if c.Trigger == TriggerSegmentEntry && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
				if !s.recovered[c.ID] {
					note(s.recoverEntries(ctx, c))
				}
				if entered[c.SegmentID] != nil {
					_, err := s.planTriggered(ctx, c, entered[c.SegmentID].Clone())
					note(err)
				}
			}
			if c.Trigger == TriggerReplenishment && s.now().Sub(s.replenishedAt(c.ID)) >= replenishEvery && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
				_, err := s.replenish(ctx, c)
				note(err)
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
			continue // triggered sends wait for the quiet hours to end
		}
		note(s.send(ctx, c))
	}
	return firstErr
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
