package journeys

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/schema"
)

// Results are a journey's counts and its measurement.
type Results struct {
	// Entered counts runs (a re-entry is a run), Active those not done,
	// Exited the done ones by reason (an exit node's id, converted,
	// left_segment, stopped, holdout).
	Entered int            `json:"entered"`
	Active  int            `json:"active"`
	Exited  map[string]int `json:"exited"`
	// Nodes are the per-step counts.
	Nodes map[string]*NodeCounts `json:"nodes"`
	// Holdout compares everyone who entered in treatment with everyone
	// drawn into the journey's holdout, by intention to treat, with the
	// campaigns' intervals and confidence sequences (campaigns.Measure):
	// conversion is an order matching the goal offer within the
	// attribution window after the person's first entry.
	Holdout campaigns.Uplift `json:"holdout"`
	// Splits compare each split's arms (each arm against the first).
	Splits map[string]*SplitResult `json:"splits,omitempty"`
}

// NodeCounts are one node's counts over every version: runs there now,
// waiting there now, and its steps by outcome (planned, excluded:<reason>,
// waiting, waited, happened, timed_out, yes, no, an arm's name, exited,
// converted, left_segment, migrated). A send node has its sends by state
// too (planned, sending, sent, delivered, failed, excluded:<reason>).
type NodeCounts struct {
	Type     string         `json:"type"`
	Here     int            `json:"here"`
	Waiting  int            `json:"waiting"`
	Outcomes map[string]int `json:"outcomes"`
	Sends    map[string]int `json:"sends,omitempty"`
}

// SplitResult is a split's arms: each arm's persons and conversions, and
// each later arm compared with the first (Effect.Significant is the
// anytime-valid test a winner needs). Winner is the arm declared.
type SplitResult struct {
	Arms    map[string]campaigns.Arm    `json:"arms"`
	VsFirst map[string]campaigns.Uplift `json:"vs_first"`
	Winner  string                      `json:"winner,omitempty"`
}

// tStar is where a journey's confidence sequences are tightest: persons
// enter over time, so, as for triggered campaigns, 10,000 persons.
const tStar = 10_000

// Results counts a journey's steps and measures it against its holdout.
func (s *Service) Results(ctx context.Context, id string) (Results, error) {
	j, err := s.Get(ctx, id)
	if err != nil {
		return Results{}, err
	}
	r := Results{Exited: map[string]int{}, Nodes: map[string]*NodeCounts{}, Splits: map[string]*SplitResult{}}
	for _, n := range j.Nodes {
		r.Nodes[n.ID] = &NodeCounts{Type: n.Type, Outcomes: map[string]int{}}
	}
	if err := s.runCounts(ctx, id, &r); err != nil {
		return r, err
	}
	if err := s.stepCounts(ctx, id, &r); err != nil {
		return r, err
	}
	offer, err := s.Campaigns.Offer(ctx, j.Settings.GoalOfferID)
	if err != nil {
		return r, err
	}
	sums, err := s.Campaigns.SumArms(ctx, s.holdoutArms(), []string{id}, j.Settings.AttributionDays, offer, time.Time{})
	if err != nil {
		return r, err
	}
	r.Holdout = campaigns.Measure(sums[id][GroupTreatment], sums[id][GroupHoldout], tStar)
	for _, n := range j.Nodes {
		if n.Type == NodeSplit {
			if r.Splits[n.ID], err = s.splitResult(ctx, j, n, offer); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// node returns the counts of node id, made when an older version had it.
func (r *Results) node(id string) *NodeCounts {
	if r.Nodes[id] == nil {
		r.Nodes[id] = &NodeCounts{Outcomes: map[string]int{}}
	}
	return r.Nodes[id]
}

// runCounts counts the runs by state, node and exit reason.
func (s *Service) runCounts(ctx context.Context, id string, r *Results) error {
	return s.each(ctx, "count the runs", "SELECT state, node, exit_reason, count() FROM "+s.DB.Table("journey_runs")+
		" FINAL WHERE journey_id = {id:String} GROUP BY state, node, exit_reason", []any{named("id", id)}, func(rows driver.Rows) error {
		var st, node, reason string
		var n uint64
		if err := rows.Scan(&st, &node, &reason, &n); err != nil {
			return err
		}
		r.Entered += int(n)
		switch st {
		case stateDone:
			r.Exited[reason] += int(n)
		case stateWaiting:
			r.Active += int(n)
			r.node(node).Here += int(n)
			r.node(node).Waiting += int(n)
		default:
			r.Active += int(n)
			r.node(node).Here += int(n)
		}
		return nil
	})
}

// stepCounts counts the steps by node and outcome, and the sends of each
// send node by state.
func (s *Service) stepCounts(ctx context.Context, id string, r *Results) error {
	err := s.each(ctx, "count the steps", "SELECT node, outcome, count() FROM "+s.DB.Table("journey_steps")+
		" FINAL WHERE journey_id = {id:String} AND type NOT IN ('entry', 'migrate') GROUP BY node, outcome", []any{named("id", id)}, func(rows driver.Rows) error {
		var node, outcome string
		var n uint64
		if err := rows.Scan(&node, &outcome, &n); err != nil {
			return err
		}
		r.node(node).Outcomes[outcome] += int(n)
		return nil
	})
	if err != nil {
		return err
	}
	sends, err := s.Campaigns.StepSends(ctx, id+"/")
	if err != nil {
		return err
	}
	for step, states := range sends {
		parts := strings.Split(step, "/")
		if len(parts) != 4 {
			continue
		}
		nc := r.node(parts[2])
		if nc.Sends == nil {
			nc.Sends = map[string]int{}
		}
		for st, n := range states {
			nc.Sends[st] += n
		}
	}
	return nil
}

// holdoutArms is the subquery of a journey's persons in either arm for
// campaigns.SumArms: one row per person and group (a person's runs are all
// in one group: the draw is per person), planned at their first entry,
// reached when a send of any of their runs was sent or delivered.
func (s *Service) holdoutArms() string {
	sent := `(SELECT DISTINCT person_id, splitByChar('/', campaign_id)[1] AS journey_id FROM ` + s.DB.Table("campaign_sends") +
		` FINAL WHERE arrayExists(j -> startsWith(campaign_id, j || '/'), {campaigns:Array(String)}) AND state IN ('sent', 'delivered'))`
	return `(SELECT r.journey_id AS campaign_id, r.person_id AS planned, if(p.canonical = 0, r.person_id, p.canonical) AS person_id,
			r.group AS group, r.planned_at AS planned_at, toFloat64(s.person_id != 0) AS reached
		FROM (SELECT journey_id, person_id, group, min(entered_at) AS planned_at FROM ` + s.DB.Table("journey_runs") + ` FINAL
			WHERE journey_id IN {campaigns:Array(String)} GROUP BY journey_id, person_id, group) AS r
		LEFT JOIN ` + sent + ` AS s ON s.person_id = r.person_id AND s.journey_id = r.journey_id
		LEFT JOIN ` + schema.Canonical(s.DB.Table("persons"), "") + ` AS p ON p.person_id = r.person_id)`
}

// splitArms is the subquery of the persons a split sent down each arm,
// for campaigns.SumArms: group is the arm, planned at their first pass.
func (s *Service) splitArms(node string) string {
	return `(SELECT x.journey_id AS campaign_id, x.person_id AS planned, if(p.canonical = 0, x.person_id, p.canonical) AS person_id,
			x.arm AS group, x.first_at AS planned_at, toFloat64(0) AS reached
		FROM (SELECT journey_id, person_id, argMin(outcome, at) AS arm, min(at) AS first_at FROM ` + s.DB.Table("journey_steps") + ` FINAL
			WHERE journey_id IN {campaigns:Array(String)} AND node = '` + node + `' AND type = 'split' GROUP BY journey_id, person_id) AS x
		LEFT JOIN ` + schema.Canonical(s.DB.Table("persons"), "") + ` AS p ON p.person_id = x.person_id)`
}

// splitResult measures a split's arms.
func (s *Service) splitResult(ctx context.Context, j Journey, n Node, offer campaigns.Offer) (*SplitResult, error) {
	if !validNodeID.MatchString(n.ID) {
		return nil, fmt.Errorf("journeys: node id %q", n.ID)
	}
	sums, err := s.Campaigns.SumArms(ctx, s.splitArms(n.ID), []string{j.ID}, j.Settings.AttributionDays, offer, time.Time{})
	if err != nil {
		return nil, err
	}
	out := &SplitResult{Arms: map[string]campaigns.Arm{}, VsFirst: map[string]campaigns.Uplift{}, Winner: j.Winners[n.ID]}
	first := n.Split.Arms[0].Name
	for _, a := range n.Split.Arms {
		sa := sums[j.ID][a.Name]
		u := campaigns.MeasureOneOf(sa, sums[j.ID][first], tStar, len(n.Split.Arms)-1)
		out.Arms[a.Name] = u.Treatment
		if a.Name != first {
			out.VsFirst[a.Name] = u
		}
	}
	return out, nil
}

// Place is one of a person's runs: where they are in a journey (or where
// their run ended and why).
type Place struct {
	JourneyID  string    `json:"journey_id"`
	Name       string    `json:"name"`
	Entry      uint32    `json:"entry"`
	Version    uint32    `json:"version"`
	Node       string    `json:"node"`
	State      string    `json:"state"` // ready, waiting, done
	Group      string    `json:"group"`
	EnteredAt  time.Time `json:"entered_at"`
	WakeAt     time.Time `json:"wake_at,omitzero"` // a waiting run's timer
	ExitReason string    `json:"exit_reason,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// PlacesOf lists the journey runs of a person (every id merged into the
// same OneID), the latest first, at most 100: the profile's journeys.
func (s *Service) PlacesOf(ctx context.Context, person uint32) ([]Place, error) {
	mine := schema.Canonical(s.DB.Table("persons"), "person_id = {person:UInt32}")
	ids := schema.Canonical(s.DB.Table("persons"), "canonical IN (SELECT canonical FROM "+mine+")")
	out := []Place{}
	err := s.each(ctx, "read a person's runs", `SELECT r.journey_id, j.name, r.entry, r.version, r.node, r.state, r.group, r.entered_at, r.wake_at, r.exit_reason, r.updated_at
		FROM (SELECT * FROM `+s.DB.Table("journey_runs")+` FINAL WHERE person_id = {person:UInt32} OR person_id IN (SELECT person_id FROM `+ids+`)) AS r
		LEFT JOIN (SELECT journey_id, name FROM `+s.DB.Table("journeys")+` FINAL) AS j ON j.journey_id = r.journey_id
		ORDER BY r.updated_at DESC LIMIT 100`, []any{named("person", person)}, func(rows driver.Rows) error {
		var p Place
		if err := rows.Scan(&p.JourneyID, &p.Name, &p.Entry, &p.Version, &p.Node, &p.State, &p.Group, &p.EnteredAt, &p.WakeAt, &p.ExitReason, &p.UpdatedAt); err != nil {
			return err
		}
		if p.State != stateWaiting {
			p.WakeAt = time.Time{}
		}
		out = append(out, p)
		return nil
	})
	return out, err
}
