package campaigns

import (
	"context"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"
)

// A step is a send another package runs through this one (a journey's send
// node): a Campaign value the caller builds and keeps, never stored in the
// campaigns table, whose ID names its rows in the send log and the task
// journal. Its persons are planned as a triggered campaign's entries are
// (consent, opt-outs, the global control group, caps across every
// campaign, the channel's address and cap; no holdout of its own), each
// person at most once per step ID, and sent with the same journal and
// crash settlement, so a step is sent exactly once across crashes.

// triggerStep marks a step: planned like a triggered campaign (quiet hours
// delay its sends instead of excluding persons) and never finished.
const triggerStep = "step"

// StepLine is one person's line in a step's send log.
type StepLine struct {
	Group  string // treatment or excluded
	Reason string // why excluded
	State  string // planned, sending, sent, delivered, failed, not_sent
}

// CheckStep checks a step's send fields: a template, a registered channel
// that sends to persons (not a group channel), that channel's own checks
// and its configuration. Problems are *FieldError.
func (s *Service) CheckStep(c Campaign) error {
	if strings.TrimSpace(c.Template) == "" {
		return &FieldError{"template", "is required"}
	}
	r, ok := s.channels().lookup(c.Channel)
	switch {
	case !ok:
		return s.channels().unknownChannel()
	case r.group != nil:
		return &FieldError{"channel", c.Channel + " posts into group chats, not to persons: a step sends to persons"}
	}
	if err := r.person.Validate(c); err != nil {
		return err
	}
	return r.person.Configured(c, s.channels())
}

// PlanStep plans persons for step c, except those already in its send log,
// writes the plan, and returns the line of every person asked for (those
// planned earlier included), so that planning a step again after a crash
// plans nobody twice and answers the same.
func (s *Service) PlanStep(ctx context.Context, c Campaign, persons *roaring.Bitmap) (map[uint32]StepLine, error) {
	c.Trigger, c.HoldoutPercent = triggerStep, 0
	c.setDefaults()
	s.mu.Lock()
	_, err := s.planTriggered(ctx, c, persons.Clone())
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]StepLine, persons.GetCardinality())
	err = s.each(ctx, "read a step's send log", "SELECT person_id, group, reason, state FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE campaign_id = {campaign:String} AND person_id IN {persons:Array(UInt32)}",
		[]any{named("campaign", c.ID), named("persons", persons.ToArray())}, func(rows driver.Rows) error {
			var p uint32
			var l StepLine
			if err := rows.Scan(&p, &l.Group, &l.Reason, &l.State); err != nil {
				return err
			}
			out[p] = l
			return nil
		})
	return out, err
}

// SendStep sends what PlanStep planned for c, settling first what a crash
// left "sending". During c's quiet hours it sends nothing and returns
// quiet: the caller tries again after them.
func (s *Service) SendStep(ctx context.Context, c Campaign) (quiet bool, err error) {
	c.Trigger = triggerStep
	c.setDefaults()
	if inQuietHours(s.now(), c.QuietStart, c.QuietEnd) {
		return true, nil
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return false, s.send(ctx, c)
}

// PendingSteps lists the steps whose ID starts with prefix and that have
// sends planned or left "sending": what a restart must send.
func (s *Service) PendingSteps(ctx context.Context, prefix string) ([]string, error) {
	return collect(ctx, s, "read the steps with pending sends", "SELECT DISTINCT campaign_id FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE startsWith(campaign_id, {prefix:String}) AND group = 'treatment' AND state IN ('planned', 'sending') ORDER BY campaign_id",
		[]any{named("prefix", prefix)}, func(rows driver.Rows, id *string) error { return rows.Scan(id) })
}

// StepSends counts the sends of the steps whose ID starts with prefix, by
// step and state.
func (s *Service) StepSends(ctx context.Context, prefix string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	err := s.each(ctx, "count the steps' sends", "SELECT campaign_id, if(group = 'treatment', state, 'excluded:' || reason), count() FROM "+
		s.DB.Table("campaign_sends")+" FINAL WHERE startsWith(campaign_id, {prefix:String}) GROUP BY 1, 2",
		[]any{named("prefix", prefix)}, func(rows driver.Rows) error {
			var id, state string
			var n uint64
			if err := rows.Scan(&id, &state, &n); err != nil {
				return err
			}
			if out[id] == nil {
				out[id] = map[string]int{}
			}
			out[id][state] += int(n)
			return nil
		})
	return out, err
}

// SumArms sums, by intention to treat, the outcomes of an assignment
// another package keeps (a journey's entries and their holdout), as
// Results sums a campaign's: arms is a subquery with the columns of the
// send log's arms (campaign_id, planned, person_id as the canonical person
// now, group, planned_at, reached) reading its ids as
// {campaigns:Array(String)}; a person converts with an order line matching
// offer within days of planned_at, before asOf (zero: all orders). The
// sums, by id and group, go to Measure.
func (s *Service) SumArms(ctx context.Context, arms string, ids []string, days int, offer Offer, asOf time.Time) (map[string]map[string]ArmSums, error) {
	return s.armSumsOf(ctx, arms, ids, days, offer, asOf)
}

// Bucket maps (salt, person) to 0..9999 as campaigns draw their holdouts:
// the same on every machine, and independent between salts.
func Bucket(salt string, person uint32) int { return bucket(salt, person) }
