package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/store"
)

// LoadStats reports a graph rebuild.
type LoadStats struct {
	Persons, Identifiers, Merges int
	Took                         time.Duration
}

// Load rebuilds the graph from ClickHouse (persons, identity_links,
// identity_merges). The platform calls it once at start, before the
// ingest pipeline resolves anything.
func Load(ctx context.Context, db *store.DB, rules Rules) (*Graph, LoadStats, error) {
	start := time.Now()
	g := NewGraph(rules)
	if err := g.loadPersons(ctx, db); err != nil {
		return nil, LoadStats{}, fmt.Errorf("load persons: %w", err)
	}
	if err := g.loadLinks(ctx, db); err != nil {
		return nil, LoadStats{}, fmt.Errorf("load identifiers: %w", err)
	}
	if err := g.loadMerges(ctx, db); err != nil {
		return nil, LoadStats{}, fmt.Errorf("load merges: %w", err)
	}
	return g, LoadStats{Persons: len(g.persons) - 1, Identifiers: g.ids.len(), Merges: g.merges.len(), Took: time.Since(start)}, nil
}

func (g *Graph) loadPersons(ctx context.Context, db *store.DB) error {
	var n uint32
	if err := db.Conn.QueryRow(ctx, "SELECT max(person_id) FROM "+db.Table("persons")).Scan(&n); err != nil {
		return err
	}
	g.persons = make([]personState, n+1)
	for i := range g.persons {
		g.persons[i].parent = uint32(i)
	}
	rows, err := db.Conn.Query(ctx, "SELECT person_id, parent FROM "+db.Table("persons")+" FINAL WHERE parent != person_id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p, parent uint32
		if err := rows.Scan(&p, &parent); err != nil {
			return err
		}
		if parent > n {
			return fmt.Errorf("BUG: person %d merged into unknown person %d", p, parent)
		}
		g.persons[p].parent = parent
		g.children[parent] = append(g.children[parent], p)
		g.persons[parent].merged = true
	}
	return rows.Err()
}

func (g *Graph) loadLinks(ctx context.Context, db *store.DB) error {
	rows, err := db.Conn.Query(ctx, "SELECT id_type, id_value, person_id, contested, linked_at FROM "+db.Table("identity_links")+" FINAL")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id Identifier
		var p uint32
		var contested uint8
		var at time.Time
		if err := rows.Scan(&id.Type, &id.Value, &p, &contested, &at); err != nil {
			return err
		}
		if int(p) >= len(g.persons) {
			return fmt.Errorf("BUG: identifier %s owned by unknown person %d", id.Type, p)
		}
		v := p
		if contested != 0 {
			v |= contestedBit
		}
		g.ids.set(g.key(id), v)
		if ti, ok := g.rules.index[id.Type]; ok {
			if s := &g.persons[p].own[ti]; *s < 255 {
				*s++
			}
			if g.rules.Rule(id.Type).Window > 0 {
				g.linkTimes.add(timeKey{p, ti}, at)
			}
		}
	}
	return rows.Err()
}

func (g *Graph) loadMerges(ctx context.Context, db *store.DB) error {
	rows, err := db.Conn.Query(ctx, `SELECT merge_id, ts, survivor, absorbed, ref, anchor_type, anchor_value,
		evidence_type, evidence_value, rule, undone, undone_at, undone_by FROM `+db.Table("identity_merges")+" FINAL")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m Merge
		var undone uint8
		if err := rows.Scan(&m.ID, &m.At, &m.Survivor, &m.Absorbed, &m.Ref, &m.Anchor.Type, &m.Anchor.Value,
			&m.Evidence.Type, &m.Evidence.Value, &m.Rule, &undone, &m.UndoneAt, &m.UndoneBy); err != nil {
			return err
		}
		m.Undone = undone != 0
		if !m.Undone {
			// The column's default (1970) read back: not undone, no time,
			// as a merge made in this process has.
			m.UndoneAt = time.Time{}
		}
		if m.ID == 0 || m.ID > maxMergeID || m.Survivor == 0 {
			return fmt.Errorf("BUG: merge %d into person %d", m.ID, m.Survivor)
		}
		g.merges.put(m)
		g.nextMerge = max(g.nextMerge, m.ID+1)
	}
	return rows.Err()
}

// Tables are the identity tables and the columns Rows fills, in order.
var Tables = map[string][]string{
	"identity_links":     {"id_type", "id_value", "person_id", "contested", "linked_at", "ref", "version"},
	"persons":            {"person_id", "parent", "canonical", "version"},
	"identity_merges":    {"merge_id", "ts", "survivor", "absorbed", "ref", "anchor_type", "anchor_value", "evidence_type", "evidence_value", "rule", "undone", "undone_at", "undone_by", "version"},
	"identity_conflicts": {"ts", "ref", "id_type", "id_value", "person_a", "person_b", "reason"},
}

// Persist writes identity changes made outside the ingest pipeline (an
// unmerge) and waits for ClickHouse to confirm them.
func Persist(ctx context.Context, w *store.Writer, ch *Changes) error {
	var err error
	Rows(ch, func(table string, row ...any) {
		if err == nil {
			err = w.Table(table, Tables[table]...).Append(ctx, row...)
		}
	})
	if err != nil {
		return err
	}
	return w.Flush(ctx)
}

// Rows turns changes into rows of the identity tables (columns as in
// Tables). Row versions are the write time, so later changes win.
func Rows(ch *Changes, add func(table string, row ...any)) {
	version := uint64(time.Now().UnixNano())
	b := func(v bool) uint8 {
		if v {
			return 1
		}
		return 0
	}
	for _, l := range ch.Links {
		add("identity_links", l.Type, l.Value, l.Person, b(l.Contested), l.LinkedAt, l.Ref, version)
	}
	for _, pr := range ch.Persons {
		add("persons", pr.Person, pr.Parent, pr.Canonical, version)
	}
	for _, m := range ch.Merges {
		add("identity_merges", m.ID, m.At, m.Survivor, m.Absorbed, m.Ref, m.Anchor.Type, m.Anchor.Value,
			m.Evidence.Type, m.Evidence.Value, m.Rule, b(m.Undone), m.UndoneAt, m.UndoneBy, version)
	}
	for _, c := range ch.Conflicts {
		add("identity_conflicts", c.At, c.Ref, c.Identifier.Type, c.Identifier.Value, c.PersonA, c.PersonB, c.Reason)
	}
}
