// Package journeys runs multi-step automations: an entry (a segment, an
// event or order, a schedule, households coming due for replenishment, a
// demand surge in their region)
// leads each person through a graph of steps (send on any campaign
// channel, wait, wait for an event or order, branch on a segment-language
// condition, random split, exit) until they exit, convert or leave.
//
// Definitions are versioned: an edit writes a new version, runs in flight
// stay on theirs unless an explicit mapping moves them (Migrate). Every
// run's state is a row of journey_runs in ClickHouse, rewritten with the
// next step number at each step; sends are steps of the campaigns package
// (campaigns.Service.PlanStep, SendStep), so they obey its consent,
// opt-outs, caps and quiet hours and are sent exactly once through its
// journal. docs/journeys.md says why the design is correct under crashes.
package journeys

import (
	"errors"
	"time"

	"github.com/granarycdp/cdp/campaigns"
)

// FieldError is a definition problem: Field names where it is, a node's
// as "nodes.<id>.<field>".
type FieldError = campaigns.FieldError

// ErrNotFound is returned for an unknown journey or version.
var ErrNotFound = errors.New("journeys: not found")

// Journey statuses.
const (
	StatusDraft   = "draft"
	StatusRunning = "running"
	StatusPaused  = "paused"  // no new entries; runs in flight go on
	StatusStopped = "stopped" // every run ended (exit reason stopped)
)

// Entry types: what enters a person.
const (
	EntrySegment       = "segment"       // entering the segment (and, with IncludeCurrent, its members at launch)
	EntryEvent         = "event"         // an event matching Event
	EntryOrder         = "order"         // an order matching Order
	EntrySchedule      = "schedule"      // the segment's members at each time of Schedule
	EntryReplenishment = "replenishment" // households whose next rice or oil purchase is due within LeadDays
	EntryDemandSurge   = "demand_surge"  // the segment's members in the region of each demand surge alert Surge selects
)

// Node types.
const (
	NodeSend    = "send"
	NodeWait    = "wait"
	NodeWaitFor = "wait_for"
	NodeBranch  = "branch"
	NodeSplit   = "split"
	NodeExit    = "exit"
)

// Re-entry policies: may a person who ended a run of the journey enter it
// again? One run per person and journey is active at a time, whatever the
// policy.
const (
	ReEntryNever     = "never"      // once per person (the default)
	ReEntryAfterExit = "after_exit" // again once the last run ended
	ReEntryAfterDays = "after_days" // again ReEntryDays after the last run ended
)

// Exit reasons of done runs (besides an exit node's id).
const (
	ExitConverted   = "converted"    // ordered the goal offer
	ExitLeftSegment = "left_segment" // left the entry segment
	ExitStopped     = "stopped"      // the journey was stopped
	ExitHoldout     = "holdout"      // in the journey's holdout: entered, never sent to
)

// Groups of runs.
const (
	GroupTreatment = campaigns.GroupTreatment
	GroupHoldout   = campaigns.GroupHoldout
)

// Journey is a journey's state and its current definition.
type Journey struct {
	ID         string    `json:"id"`
	Version    uint32    `json:"version"`
	Status     string    `json:"status"`
	LaunchedAt time.Time `json:"launched_at,omitzero"`
	// Winners are the split arms declared winners: split node id -> arm
	// name, taken by everyone reaching the split from then on.
	Winners   map[string]string `json:"winners,omitempty"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
	UpdatedBy string            `json:"updated_by,omitempty"`
	Definition
}

// Definition is what a marketer edits; every saved edit is a version.
type Definition struct {
	Name     string   `json:"name"`
	Entry    Entry    `json:"entry"`
	Nodes    []Node   `json:"nodes"`
	Settings Settings `json:"settings"`
}

// Entry says who enters and where they start.
type Entry struct {
	Type      string `json:"type"`
	SegmentID string `json:"segment_id,omitempty"` // segment and schedule entries; optional filter of the others
	// IncludeCurrent enters a segment entry's current members at launch.
	IncludeCurrent bool         `json:"include_current,omitempty"`
	Event          *EventFilter `json:"event,omitempty"`
	Order          *OrderFilter `json:"order,omitempty"`
	Schedule       *Schedule    `json:"schedule,omitempty"`
	// Surge selects a demand_surge entry's alerts (campaigns.SurgeFilter:
	// class, and province and city when set).
	Surge         *campaigns.SurgeFilter `json:"surge,omitempty"`
	ReplenishKind string                 `json:"replenish_kind,omitempty"` // rice or oil
	LeadDays      int                    `json:"lead_days,omitempty"`      // 0..30 (0: 3)
	Next          string                 `json:"next"`                     // the first node
}

// EventFilter matches behaviour events: by name and, optionally, property
// values (a search for 低GI: name search, keyword contains 低GI).
type EventFilter struct {
	Name  string           `json:"name"`
	Where []PropertyFilter `json:"where,omitempty"`
}

// PropertyFilter compares one event property (a string) with Value.
type PropertyFilter struct {
	Property string `json:"property"`
	Op       string `json:"op"` // eq or contains
	Value    string `json:"value"`
}

// OrderFilter matches valid orders (not refunded or cancelled): with a
// line of one of SKUs or Categories when either is set, on one of
// Channels when set, of at least MinAmount yuan.
type OrderFilter struct {
	SKUs       []string `json:"skus,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Channels   []string `json:"channels,omitempty"`
	MinAmount  float64  `json:"min_amount,omitempty"`
}

// Schedule enters a segment's members at times in Beijing: once on Date,
// every day, or every week on Weekday (0 Sunday .. 6 Saturday), at At.
type Schedule struct {
	Every   string `json:"every"`          // once, day or week
	At      string `json:"at"`             // HH:MM, Beijing time
	Date    string `json:"date,omitempty"` // YYYY-MM-DD, for once
	Weekday int    `json:"weekday,omitempty"`
}

// Node is one step of the graph. Type says which of its fields apply.
type Node struct {
	ID      string   `json:"id"`
	Type    string   `json:"type"`
	Next    string   `json:"next,omitempty"` // send and wait
	Send    *Send    `json:"send,omitempty"`
	Wait    *Wait    `json:"wait,omitempty"`
	WaitFor *WaitFor `json:"wait_for,omitempty"`
	Branch  *Branch  `json:"branch,omitempty"`
	Split   *Split   `json:"split,omitempty"`
	// X and Y place the node on the console's canvas.
	X float64 `json:"x,omitempty"`
	Y float64 `json:"y,omitempty"`
}

// Send sends a message on a registered campaign channel (outbox, wecom —
// a WeCom mass-message task staff confirm —, webhook, or one a deployment
// registered), promoting an offer.
type Send struct {
	Channel  string   `json:"channel"`
	Template string   `json:"template"`
	OfferID  string   `json:"offer_id"`
	Targets  []string `json:"targets,omitempty"` // the webhook's name
}

// Wait holds a run: for Duration ("90m", "36h", "3d"), until the next
// UntilTime (HH:MM Beijing), or until the date of a date trait
// (UntilTrait) moved by OffsetDays, at At (HH:MM Beijing, default 10:00).
// A person without the trait, or whose date is past, goes on at once.
type Wait struct {
	Duration   string `json:"duration,omitempty"`
	UntilTime  string `json:"until_time,omitempty"`
	UntilTrait string `json:"until_trait,omitempty"`
	OffsetDays int    `json:"offset_days,omitempty"`
	At         string `json:"at,omitempty"`
}

// Date traits a Wait can wait for.
const (
	TraitNextPurchaseRice = "next_purchase_rice" // person_next_purchase, kind rice
	TraitNextPurchaseOil  = "next_purchase_oil"
	TraitLastOrder        = "last_order_at" // person_traits
	TraitFirstSeen        = "first_seen"
)

// WaitFor holds a run until an event or order matching its filter happens
// (since the wait began) or Timeout passes: Happened or TimedOut is next.
type WaitFor struct {
	Event    *EventFilter `json:"event,omitempty"`
	Order    *OrderFilter `json:"order,omitempty"`
	Timeout  string       `json:"timeout"`
	Happened string       `json:"happened"`
	TimedOut string       `json:"timed_out"`
}

// Branch evaluates a condition in the segment language when a run reaches
// it: Yes when the person matches, else No.
type Branch struct {
	Condition string `json:"condition"`
	Yes       string `json:"yes"`
	No        string `json:"no"`
}

// Split sends each person down one arm by a stable hash of (journey,
// node, person): A/B/n with the given percentages (summing to 100).
type Split struct {
	Arms []SplitArm `json:"arms"`
}

// SplitArm is one way out of a split.
type SplitArm struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
	Next    string  `json:"next"`
}

// Settings are the journey-level rules.
type Settings struct {
	// GoalOfferID is the offer whose order counts as the conversion:
	// results measure it and ExitOnConversion ends runs on it.
	GoalOfferID      string `json:"goal_offer_id"`
	ExitOnConversion bool   `json:"exit_on_conversion"`
	// ExitOnSegmentExit ends the runs of a person who leaves the entry
	// segment (segment and schedule entries).
	ExitOnSegmentExit bool    `json:"exit_on_segment_exit,omitempty"`
	ReEntry           string  `json:"re_entry"`
	ReEntryDays       int     `json:"re_entry_days,omitempty"`
	HoldoutPercent    float64 `json:"holdout_percent"`
	AttributionDays   int     `json:"attribution_days"` // 0: 14
	// The rules campaigns obey, applied to every send step: caps across
	// all campaigns and journeys (0 for day and month: none; week 0: 2),
	// quiet hours in Beijing (a send waits for them to end), the global
	// control group.
	CapPerDay            int     `json:"cap_per_day,omitempty"`
	CapPerWeek           int     `json:"cap_per_week"`
	CapPerMonth          int     `json:"cap_per_month,omitempty"`
	QuietStart           int     `json:"quiet_start"`
	QuietEnd             int     `json:"quiet_end"`
	GlobalControlPercent float64 `json:"global_control_percent"`
}

// Mapping moves the runs of one version waiting at its nodes to nodes of
// another (Migrate): Nodes maps an old node id to a new one; runs at
// nodes it does not name stay on their version.
type Mapping struct {
	FromVersion uint32            `json:"from_version"`
	ToVersion   uint32            `json:"to_version"`
	Nodes       map[string]string `json:"nodes"`
}

// node returns the node with id (nil: none).
func (d *Definition) node(id string) *Node {
	for i := range d.Nodes {
		if d.Nodes[i].ID == id {
			return &d.Nodes[i]
		}
	}
	return nil
}

// edges are a node's ways out, each with the field that holds it.
func (n *Node) edges() []edge {
	switch {
	case n.Type == NodeSend || n.Type == NodeWait:
		return []edge{{"next", n.Next}}
	case n.Type == NodeWaitFor && n.WaitFor != nil:
		return []edge{{"wait_for.happened", n.WaitFor.Happened}, {"wait_for.timed_out", n.WaitFor.TimedOut}}
	case n.Type == NodeBranch && n.Branch != nil:
		return []edge{{"branch.yes", n.Branch.Yes}, {"branch.no", n.Branch.No}}
	case n.Type == NodeSplit && n.Split != nil:
		out := make([]edge, len(n.Split.Arms))
		for i, a := range n.Split.Arms {
			out[i] = edge{"split.arms." + a.Name + ".next", a.Next}
		}
		return out
	}
	return nil
}

// edge is a way out of a node: the field that holds it and its target.
type edge struct {
	field, to string
}

const (
	defaultAttributionDays = 14
	defaultLeadDays        = 3
	defaultTraitAt         = "10:00"
)
