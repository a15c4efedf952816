package journeys

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/campaigns"
)

// validNodeID is what a node id may be: it appears in field paths, step
// ids and the console.
var validNodeID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// maxNodes bounds a definition.
const maxNodes = 200

// validate checks a definition and sets its defaults: its fields, then
// its graph (every edge lands on a node, every node is reachable from the
// entry, no cycle), then what it names (offers, segments, channels,
// conditions) against the services. The first problem is a *FieldError
// whose field is the path to it (nodes.<id>.<field> for a node).
func (s *Service) validate(ctx context.Context, d *Definition) error {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" || utf8.RuneCountInString(d.Name) > 100 {
		return &FieldError{Field: "name", Message: "is required (at most 100 characters)"}
	}
	if err := validateSettings(&d.Settings); err != nil {
		return err
	}
	if err := validateEntry(&d.Entry); err != nil {
		return err
	}
	if err := validateNodes(d); err != nil {
		return err
	}
	if err := validateGraph(d); err != nil {
		return err
	}
	return s.validateNames(ctx, d)
}

func validateSettings(st *Settings) error {
	switch {
	case st.GoalOfferID == "":
		return &FieldError{Field: "settings.goal_offer_id", Message: "is required: the offer whose order counts as the conversion"}
	case st.ReEntry != "" && st.ReEntry != ReEntryNever && st.ReEntry != ReEntryAfterExit && st.ReEntry != ReEntryAfterDays:
		return &FieldError{Field: "settings.re_entry", Message: "must be never, after_exit or after_days"}
	case st.ReEntry == ReEntryAfterDays && (st.ReEntryDays < 1 || st.ReEntryDays > 3650):
		return &FieldError{Field: "settings.re_entry_days", Message: "must be 1..3650 with re_entry after_days"}
	case st.HoldoutPercent < 0 || st.HoldoutPercent > 50:
		return &FieldError{Field: "settings.holdout_percent", Message: "must be 0..50"}
	case st.GlobalControlPercent < 0 || st.GlobalControlPercent > 20:
		return &FieldError{Field: "settings.global_control_percent", Message: "must be 0..20"}
	case st.QuietStart < 0 || st.QuietStart > 23 || st.QuietEnd < 0 || st.QuietEnd > 23:
		return &FieldError{Field: "settings.quiet_start", Message: "quiet hours are 0..23"}
	case st.CapPerDay < 0 || st.CapPerWeek < 0 || st.CapPerMonth < 0 || st.AttributionDays < 0:
		return &FieldError{Field: "settings.cap_per_week", Message: "caps and the attribution window must not be negative"}
	}
	if st.ReEntry == "" {
		st.ReEntry = ReEntryNever
	}
	if st.AttributionDays == 0 {
		st.AttributionDays = defaultAttributionDays
	}
	return nil
}

func validateEntry(e *Entry) error {
	switch e.Type {
	case EntrySegment:
		if e.SegmentID == "" {
			return &FieldError{Field: "entry.segment_id", Message: "a segment entry needs its segment"}
		}
	case EntryEvent:
		if err := validateEvent("entry.event", e.Event); err != nil {
			return err
		}
	case EntryOrder:
		if e.Order == nil {
			return &FieldError{Field: "entry.order", Message: "an order entry needs its order filter ({} for any order)"}
		}
	case EntrySchedule:
		if err := validateSchedule(e); err != nil {
			return err
		}
	case EntryReplenishment:
		if e.ReplenishKind != "rice" && e.ReplenishKind != "oil" {
			return &FieldError{Field: "entry.replenish_kind", Message: "must be rice or oil"}
		}
		if e.LeadDays < 0 || e.LeadDays > 30 {
			return &FieldError{Field: "entry.lead_days", Message: "must be 0..30"}
		}
		if e.LeadDays == 0 {
			e.LeadDays = defaultLeadDays
		}
	case EntryDemandSurge:
		if e.SegmentID == "" {
			return &FieldError{Field: "entry.segment_id", Message: "a demand-surge entry enters its segment's members living in the surge's region"}
		}
		if e.Surge == nil {
			return &FieldError{Field: "entry.surge", Message: "a demand-surge entry needs its surge filter: the product class, and optionally province and city"}
		}
		if err := e.Surge.Validate("entry.surge", "a demand-surge entry"); err != nil {
			return err
		}
	default:
		return &FieldError{Field: "entry.type", Message: "must be segment, event, order, schedule, replenishment or demand_surge"}
	}
	if e.Surge != nil && e.Type != EntryDemandSurge {
		return &FieldError{Field: "entry.surge", Message: "only a demand_surge entry has a surge filter"}
	}
	if e.Next == "" {
		return &FieldError{Field: "entry.next", Message: "is required: the first node"}
	}
	return nil
}

func validateSchedule(e *Entry) error {
	sc := e.Schedule
	switch {
	case e.SegmentID == "":
		return &FieldError{Field: "entry.segment_id", Message: "a schedule entry enters its segment's members"}
	case sc == nil:
		return &FieldError{Field: "entry.schedule", Message: "is required"}
	case sc.Every != "once" && sc.Every != "day" && sc.Every != "week":
		return &FieldError{Field: "entry.schedule.every", Message: "must be once, day or week"}
	case sc.Weekday < 0 || sc.Weekday > 6:
		return &FieldError{Field: "entry.schedule.weekday", Message: "must be 0 (Sunday) .. 6"}
	}
	if _, err := clock(sc.At); err != nil {
		return &FieldError{Field: "entry.schedule.at", Message: err.Error()}
	}
	if sc.Every == "once" {
		if _, err := time.ParseInLocation(time.DateOnly, sc.Date, time.UTC); err != nil {
			return &FieldError{Field: "entry.schedule.date", Message: "must be YYYY-MM-DD for a schedule run once"}
		}
	}
	return nil
}

func validateEvent(field string, f *EventFilter) error {
	if f == nil || strings.TrimSpace(f.Name) == "" {
		return &FieldError{Field: field + ".name", Message: "is required: the event's name (search, video_complete, ...)"}
	}
	for i, w := range f.Where {
		switch {
		case w.Property == "":
			return &FieldError{Field: fmt.Sprintf("%s.where.%d.property", field, i), Message: "is required"}
		case w.Op != "eq" && w.Op != "contains":
			return &FieldError{Field: fmt.Sprintf("%s.where.%d.op", field, i), Message: "must be eq or contains"}
		}
	}
	return nil
}

// validateNodes checks each node's own fields.
func validateNodes(d *Definition) error {
	if len(d.Nodes) == 0 || len(d.Nodes) > maxNodes {
		return &FieldError{Field: "nodes", Message: fmt.Sprintf("a journey has 1..%d nodes", maxNodes)}
	}
	seen := map[string]bool{}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		if !validNodeID.MatchString(n.ID) {
			return &FieldError{Field: fmt.Sprintf("nodes.%d.id", i), Message: "a node id is 1..40 letters, digits, _ or -"}
		}
		if seen[n.ID] {
			return &FieldError{Field: "nodes." + n.ID + ".id", Message: "is used by another node"}
		}
		seen[n.ID] = true
		if err := validateNode(n); err != nil {
			return err
		}
	}
	return nil
}

// validateNode checks one node's fields for its type.
func validateNode(n *Node) error {
	at := func(field, msg string) error { return &FieldError{Field: "nodes." + n.ID + "." + field, Message: msg} }
	switch n.Type {
	case NodeSend:
		switch {
		case n.Send == nil:
			return at("send", "a send node needs its channel, template and offer")
		case n.Send.OfferID == "":
			return at("send.offer_id", "a send needs an offer: what it promotes and what counts as its conversion")
		}
	case NodeWait:
		return validateWait(n, at)
	case NodeWaitFor:
		return validateWaitFor(n, at)
	case NodeBranch:
		if n.Branch == nil || strings.TrimSpace(n.Branch.Condition) == "" {
			return at("branch.condition", "a branch needs a condition in the segment language")
		}
	case NodeSplit:
		return validateSplit(n, at)
	case NodeExit:
		if n.Next != "" {
			return at("next", "an exit ends the run: it has no next node")
		}
	default:
		return at("type", "must be send, wait, wait_for, branch, split or exit")
	}
	return nil
}

func validateWait(n *Node, at func(field, msg string) error) error {
	w := n.Wait
	if w == nil {
		return at("wait", "a wait needs a duration, a time of day or a date trait")
	}
	set := 0
	for _, v := range []string{w.Duration, w.UntilTime, w.UntilTrait} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return at("wait", "give exactly one of duration, until_time and until_trait")
	}
	switch {
	case w.Duration != "":
		if d, err := parseDuration(w.Duration); err != nil || d <= 0 || d > 366*24*time.Hour {
			return at("wait.duration", `must be a positive duration up to a year: "90m", "36h", "3d"`)
		}
	case w.UntilTime != "":
		if _, err := clock(w.UntilTime); err != nil {
			return at("wait.until_time", err.Error())
		}
	default:
		if !slices.Contains([]string{TraitNextPurchaseRice, TraitNextPurchaseOil, TraitLastOrder, TraitFirstSeen}, w.UntilTrait) {
			return at("wait.until_trait", "must be next_purchase_rice, next_purchase_oil, last_order_at or first_seen")
		}
		if w.At == "" {
			w.At = defaultTraitAt
		}
		if _, err := clock(w.At); err != nil {
			return at("wait.at", err.Error())
		}
		if w.OffsetDays < -365 || w.OffsetDays > 365 {
			return at("wait.offset_days", "must be -365..365")
		}
	}
	return nil
}

func validateWaitFor(n *Node, at func(field, msg string) error) error {
	w := n.WaitFor
	switch {
	case w == nil || (w.Event == nil) == (w.Order == nil):
		return at("wait_for", "a wait-for needs exactly one of event and order")
	case w.Timeout == "":
		return at("wait_for.timeout", "a wait-for needs a timeout: how long to wait before the timed_out branch")
	case w.TimedOut == "":
		return at("wait_for.timed_out", "a wait-for needs its timed_out branch: where a run goes when nothing happened")
	case w.Happened == "":
		return at("wait_for.happened", "a wait-for needs its happened branch")
	}
	if d, err := parseDuration(w.Timeout); err != nil || d <= 0 || d > 366*24*time.Hour {
		return at("wait_for.timeout", `must be a positive duration up to a year: "90m", "36h", "3d"`)
	}
	if w.Event != nil {
		return validateEvent("nodes."+n.ID+".wait_for.event", w.Event)
	}
	return nil
}

func validateSplit(n *Node, at func(field, msg string) error) error {
	if n.Split == nil || len(n.Split.Arms) < 2 || len(n.Split.Arms) > 10 {
		return at("split.arms", "a split has 2..10 arms")
	}
	sum, names := 0.0, map[string]bool{}
	for i, a := range n.Split.Arms {
		if !validNodeID.MatchString(a.Name) || names[a.Name] {
			return at(fmt.Sprintf("split.arms.%d.name", i), "each arm needs a name of its own (letters, digits, _ or -)")
		}
		names[a.Name] = true
		if a.Percent <= 0 {
			return at("split.arms."+a.Name+".percent", "must be above 0")
		}
		sum += a.Percent
	}
	if sum < 99.999 || sum > 100.001 {
		return at("split.arms", fmt.Sprintf("the arms' percentages sum to %g, not 100", sum))
	}
	return nil
}

// validateGraph checks the edges: each lands on a node (no dangling edge),
// every node is reachable from the entry, and no path comes back to a node
// (no cycle: a run visits each node at most once).
func validateGraph(d *Definition) error {
	if d.node(d.Entry.Next) == nil {
		return &FieldError{Field: "entry.next", Message: fmt.Sprintf("points at no node (%q)", d.Entry.Next)}
	}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		for _, e := range n.edges() {
			switch {
			case e.to == "":
				return &FieldError{Field: "nodes." + n.ID + "." + e.field, Message: "is required: where the run goes next"}
			case d.node(e.to) == nil:
				return &FieldError{Field: "nodes." + n.ID + "." + e.field, Message: fmt.Sprintf("points at no node (%q): a dangling edge", e.to)}
			}
		}
	}
	const (
		unseen = iota
		onPath
		finished
	)
	mark := map[string]int{}
	var visit func(id string) error
	visit = func(id string) error {
		mark[id] = onPath
		n := d.node(id)
		for _, e := range n.edges() {
			switch mark[e.to] {
			case onPath:
				return &FieldError{Field: "nodes." + id + "." + e.field, Message: fmt.Sprintf("goes back to %q: a cycle (a run visits each node at most once)", e.to)}
			case unseen:
				if err := visit(e.to); err != nil {
					return err
				}
			}
		}
		mark[id] = finished
		return nil
	}
	if err := visit(d.Entry.Next); err != nil {
		return err
	}
	for _, n := range d.Nodes {
		if mark[n.ID] == unseen {
			return &FieldError{Field: "nodes." + n.ID, Message: "is not reachable from the entry"}
		}
	}
	return nil
}

// validateNames checks what the definition names: the goal offer, the
// entry segment, each send's offer, channel and template (as campaigns
// check a campaign's), each branch's condition.
func (s *Service) validateNames(ctx context.Context, d *Definition) error {
	if _, err := s.Campaigns.Offer(ctx, d.Settings.GoalOfferID); err != nil {
		return &FieldError{Field: "settings.goal_offer_id", Message: "no such offer"}
	}
	if d.Entry.SegmentID != "" {
		if _, err := s.Segments.Get(d.Entry.SegmentID); err != nil {
			return &FieldError{Field: "entry.segment_id", Message: "no such segment"}
		}
	}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		switch n.Type {
		case NodeSend:
			if _, err := s.Campaigns.Offer(ctx, n.Send.OfferID); err != nil {
				return &FieldError{Field: "nodes." + n.ID + ".send.offer_id", Message: "no such offer"}
			}
			if err := s.Campaigns.CheckStep(stepCampaign(d, n, "check")); err != nil {
				var fe *FieldError
				if errors.As(err, &fe) {
					return &FieldError{Field: "nodes." + n.ID + ".send." + fe.Field, Message: fe.Message}
				}
				return err
			}
		case NodeBranch:
			if _, err := s.Segments.Engine().Check(n.Branch.Condition); err != nil {
				return &FieldError{Field: "nodes." + n.ID + ".branch.condition", Message: err.Error()}
			}
		}
	}
	return nil
}

// stepCampaign is the campaign value of a send node: the step id, the
// node's channel, template and offer, and the journey's sending rules.
func stepCampaign(d *Definition, n *Node, id string) campaigns.Campaign {
	st := d.Settings
	seg := ""
	if d.Entry.Type == EntrySegment || d.Entry.Type == EntrySchedule || d.Entry.Type == EntryDemandSurge {
		seg = d.Entry.SegmentID // its sensitivity asks for separate consent
	}
	return campaigns.Campaign{ID: id, Name: d.Name + " · " + n.ID, OfferID: n.Send.OfferID, SegmentID: seg, Channel: n.Send.Channel,
		Targets: n.Send.Targets, Template: n.Send.Template, GlobalControlPercent: st.GlobalControlPercent,
		CapPerDay: st.CapPerDay, CapPerWeek: st.CapPerWeek, CapPerMonth: st.CapPerMonth, QuietStart: st.QuietStart, QuietEnd: st.QuietEnd,
		AttributionDays: st.AttributionDays, Status: campaigns.StatusRunning}
}

// parseDuration reads a Go duration, or a whole number of days ("3d").
func parseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(v)
}

// clock reads HH:MM as minutes after midnight.
func clock(v string) (int, error) {
	t, err := time.Parse("15:04", v)
	if err != nil {
		return 0, fmt.Errorf("must be a time of day HH:MM (Beijing), not %q", v)
	}
	return t.Hour()*60 + t.Minute(), nil
}
