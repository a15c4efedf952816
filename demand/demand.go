// Package demand senses demand for the supply side: series of demand
// signals (searches, content views, WeCom chat keywords) and orders by
// product class or SKU and region, hourly and daily, and the surge
// detection over them (docs/demand.md).
//
// Behaviour signals are summed on insert into demand_signals_hourly by
// materialized views (schema/demand.go) with the keyword → class
// dictionary of demand_terms; order demand is read from the orders'
// current state (valid orders only), so refunds, cancellations and
// erasure are reflected as they happen.
package demand

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// Service reads and maintains the demand series.
type Service struct {
	db  *store.DB
	now func() time.Time
}

// New returns a Service over db; now is its clock (time.Now when nil).
func New(db *store.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: now}
}

// Term is one dictionary entry (schema.DemandTerm).
type Term = schema.DemandTerm

// InvalidError is a refused input, naming the field.
type InvalidError struct {
	Field, Message string
}

func (e *InvalidError) Error() string { return "demand: " + e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Terms returns the current dictionary, ordered by class, match and term.
func (s *Service) Terms(ctx context.Context) ([]Term, error) {
	rows, err := s.db.Conn.Query(ctx, "SELECT term, toString(match), class FROM "+s.db.Table("demand_terms")+
		" FINAL WHERE deleted = 0 ORDER BY class, match, term")
	if err != nil {
		return nil, fmt.Errorf("demand: read terms: %w", err)
	}
	defer rows.Close()
	var out []Term
	for rows.Next() {
		var t Term
		if err := rows.Scan(&t.Term, &t.Match, &t.Class); err != nil {
			return nil, fmt.Errorf("demand: read terms: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// maxTerms bounds the dictionary: every inserted search and chat is
// matched against all of it.
const maxTerms = schema.DemandMaxTerms

// ValidateTerms checks a dictionary: at most maxTerms entries, each with a
// term and a class of 1-64 characters, match text or topic, no term twice
// for the same match. Field names the first bad entry (terms[i].field).
func ValidateTerms(terms []Term) error {
	if len(terms) > maxTerms {
		return invalid("terms", "at most %d terms", maxTerms)
	}
	seen := map[[2]string]bool{}
	for i, t := range terms {
		f := func(name string) string { return fmt.Sprintf("terms[%d].%s", i, name) }
		// term before class, so a term with both wrong is always told the same field.
		for _, c := range [...][2]string{{"term", t.Term}, {"class", t.Class}} {
			if n := utf8.RuneCountInString(strings.TrimSpace(c[1])); n == 0 || n > 64 || !utf8.ValidString(c[1]) {
				return invalid(f(c[0]), "must be 1-64 characters")
			}
		}
		if t.Match != "text" && t.Match != "topic" {
			return invalid(f("match"), "must be text or topic")
		}
		k := [2]string{t.Match, strings.ToLower(t.Term)}
		if seen[k] {
			return invalid(f("term"), "%q appears twice", t.Term)
		}
		seen[k] = true
	}
	return nil
}

// SetTerms replaces the dictionary with terms (after ValidateTerms): new
// entries are written and removed ones marked deleted, in one insert.
// Rows inserted afterwards are classified by it; call Rebuild to
// reclassify the history.
func (s *Service) SetTerms(ctx context.Context, terms []Term) error {
	if err := ValidateTerms(terms); err != nil {
		return err
	}
	old, err := s.Terms(ctx)
	if err != nil {
		return err
	}
	version := uint64(s.now().UnixNano())
	batch, err := s.db.Conn.PrepareBatch(ctx, "INSERT INTO "+s.db.Table("demand_terms")+" (term, match, class, deleted, version)")
	if err != nil {
		return fmt.Errorf("demand: write terms: %w", err)
	}
	keep := map[[2]string]bool{}
	for _, t := range terms {
		keep[[2]string{t.Match, t.Term}] = true
		if err := batch.Append(strings.TrimSpace(t.Term), t.Match, strings.TrimSpace(t.Class), uint8(0), version); err != nil {
			return fmt.Errorf("demand: write terms: %w", err)
		}
	}
	for _, t := range old {
		if !keep[[2]string{t.Match, t.Term}] {
			if err := batch.Append(t.Term, t.Match, t.Class, uint8(1), version); err != nil {
				return fmt.Errorf("demand: write terms: %w", err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("demand: write terms: %w", err)
	}
	return nil
}

// Rebuild recomputes demand_signals_hourly from the events and chats
// stored now, with the current dictionary: after a dictionary change, or
// to drop what erased persons' rows contributed. The table is replaced
// atomically (a new table filled, then EXCHANGE TABLES, as
// schema.RebuildTable plans it for the flavour), so readers see the old or
// the new series, never a half. Rows inserted while it runs reach both
// tables through the materialized views only if they land after the
// exchange; run it when ingest is quiet.
//
// On a sharded cluster the hourly table is copied to every node, so each
// node rebuilds its own copy from the Distributed events and chats (every
// shard's rows); in the replicated flavour the rebuild runs once, ON
// CLUSTER, and its insert gives each shard its part once (the replicas
// copy it). The embedded engine cannot run Replicated tables: that plan
// is checked by its statements (TestRebuildPlansMatchGolden).
func (s *Service) Rebuild(ctx context.Context) error {
	plan, err := rebuildPlan(storeTarget(s.db))
	if err != nil {
		return fmt.Errorf("demand: rebuild: %w", err)
	}
	run := func(conn driver.Conn) error {
		for _, st := range plan.Steps {
			if err := conn.Exec(ctx, st.SQL); err != nil {
				return fmt.Errorf("demand: rebuild: %s: %w", st.Name, err)
			}
		}
		return nil
	}
	if !plan.EachNode {
		return run(s.db.Conn)
	}
	return s.db.EachNode(run)
}

// rebuildPlan is Rebuild's plan on t: the hourly table filled from the
// events (through the Distributed table on a cluster) and from the chats
// in their current state.
func rebuildPlan(t schema.Target) (schema.Rebuild, error) {
	db := "`" + t.Database + "`."
	dict := strings.ReplaceAll(schema.DemandDictionary, "{db}.", db)
	return schema.RebuildTable(t, "demand_signals_hourly", []schema.RebuildStep{
		{Name: "events", SQL: schema.DemandEventsSelect(db+"`events`", dict)},
		{Name: "chats", SQL: schema.DemandChatsSelect("(SELECT * FROM "+db+"`wecom_messages` FINAL)", dict)},
	})
}

// storeTarget is where db's DDL goes.
func storeTarget(db *store.DB) schema.Target {
	return schema.Target{Database: db.Database, Cluster: db.Cluster, Sharded: db.Sharded}
}
