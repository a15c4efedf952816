package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/store"
)

// Service runs the identity operations that touch ClickHouse beyond the
// ingest path: profiles, unmerge with re-attribution, erasure.
type Service struct {
	DB        *store.DB
	Graph     *Graph
	Writer    *store.Writer
	Protector *Protector
	Logger    *slog.Logger
}

// ErrNoSuchPerson is returned for a person id the graph does not know.
var ErrNoSuchPerson = errors.New("identity: no such person")

// mutation runs an ALTER TABLE ... UPDATE/DELETE on a platform table and
// waits until it is applied on every replica. On a cluster it targets the
// local tables.
func (s *Service) mutation(ctx context.Context, table, action string, args ...any) error {
	name, on := s.DB.Table(table), ""
	if s.DB.Cluster != "" {
		name, on = s.DB.Table(table+"_local"), " ON CLUSTER `"+s.DB.Cluster+"`"
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"mutations_sync": 2,
		// Re-attribution reads other tables in its WHERE.
		"allow_nondeterministic_mutations": 1,
	}))
	if err := s.DB.Conn.Exec(ctx, "ALTER TABLE "+name+on+" "+action, args...); err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return nil
}

// identifiersOf lists the identifiers owned by persons.
func (s *Service) identifiersOf(ctx context.Context, persons []uint32) ([]Identifier, error) {
	rows, err := s.DB.Conn.Query(ctx, "SELECT id_type, id_value FROM "+s.DB.Table("identity_links")+" FINAL WHERE person_id IN ?", persons)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Identifier
	for rows.Next() {
		var id Identifier
		if err := rows.Scan(&id.Type, &id.Value); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func values(ids []Identifier, only string) []string {
	var out []string
	for _, id := range ids {
		if only == "" || id.Type == only {
			out = append(out, id.Value)
		}
	}
	return out
}

// UnmergeResult says what an unmerge split off.
type UnmergeResult struct {
	Merge    Merge    `json:"merge"`
	Person   uint32   `json:"person"`  // the person split off
	Persons  []uint32 `json:"persons"` // its merge tree
	Survivor uint32   `json:"survivor"`
}

// Unmerge undoes a merge and re-attributes the split-off person's events,
// orders and WeCom records (those carrying its identifiers) to it, so
// profiles, segments and BI follow.
func (s *Service) Unmerge(ctx context.Context, mergeID uint64, by string) (UnmergeResult, error) {
	var ch Changes
	tree, err := s.Graph.Unmerge(mergeID, by, time.Now(), &ch)
	if err != nil {
		return UnmergeResult{}, err
	}
	m := ch.Merges[0]
	if err := Persist(ctx, s.Writer, &ch); err != nil {
		return UnmergeResult{}, fmt.Errorf("persist unmerge: %w", err)
	}
	survivor := s.Graph.Canonical(m.Survivor)
	ids, err := s.identifiersOf(ctx, tree)
	if err != nil {
		return UnmergeResult{}, err
	}
	from := s.Graph.Cluster(survivor)
	vals, ext := values(ids, ""), values(ids, WeComExternalUserID)
	steps := []struct{ table, action string }{
		{"events", "UPDATE person_id = ? WHERE person_id IN ? AND hasAny(id_values, ?)"},
		{"orders", "UPDATE person_id = ? WHERE person_id IN ? AND hasAny(id_values, ?)"},
	}
	for _, st := range steps {
		if err := s.mutation(ctx, st.table, st.action, m.Absorbed, from, vals); err != nil {
			return UnmergeResult{}, err
		}
	}
	err = s.mutation(ctx, "order_lines", "UPDATE person_id = ? WHERE person_id IN ? AND (channel, order_id) IN (SELECT channel, order_id FROM "+
		s.DB.Table("orders")+" WHERE person_id = ?)", m.Absorbed, from, m.Absorbed)
	if err != nil {
		return UnmergeResult{}, err
	}
	for _, table := range []string{"wecom_contact_events", "wecom_messages"} {
		if err := s.mutation(ctx, table, "UPDATE person_id = ? WHERE person_id IN ? AND external_userid IN ?", m.Absorbed, from, ext); err != nil {
			return UnmergeResult{}, err
		}
	}
	s.Logger.Info("unmerged", "merge", mergeID, "person", m.Absorbed, "from", survivor, "by", by)
	return UnmergeResult{Merge: m, Person: m.Absorbed, Persons: tree, Survivor: survivor}, nil
}

// Erase removes a person (PIPL deletion request): their identifiers,
// events, chats, contact records and merge history; orders are kept for
// revenue figures with the person's identifiers and id removed. The
// identifiers' keyed hashes go to the suppression list so that the person
// is never targeted again, even if their data arrives anew.
func (s *Service) Erase(ctx context.Context, person uint32, by string) ([]uint32, error) {
	root := s.Graph.Canonical(person)
	cluster := s.Graph.Cluster(root)
	if len(cluster) == 0 {
		return nil, ErrNoSuchPerson
	}
	ids, err := s.identifiersOf(ctx, cluster)
	if err != nil {
		return nil, err
	}
	vals, ext := values(ids, ""), values(ids, WeComExternalUserID)
	if err := s.suppress(ctx, ids, "erased", by); err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		vals = []string{"\x00"} // hasAny/IN need a non-empty list
	}
	if len(ext) == 0 {
		ext = []string{"\x00"}
	}
	steps := []struct {
		table, action string
		args          []any
	}{
		{"events", "DELETE WHERE person_id IN ? OR hasAny(id_values, ?)", []any{cluster, vals}},
		{"orders", "UPDATE person_id = 0, id_types = [], id_values = [] WHERE person_id IN ? OR hasAny(id_values, ?)", []any{cluster, vals}},
		{"order_lines", "UPDATE person_id = 0 WHERE person_id IN ?", []any{cluster}},
		{"wecom_contact_events", "DELETE WHERE person_id IN ? OR external_userid IN ? OR unionid IN ?", []any{cluster, ext, vals}},
		{"wecom_messages", "DELETE WHERE person_id IN ? OR external_userid IN ? OR from IN ? OR hasAny(tolist, ?)", []any{cluster, ext, ext, ext}},
		{"pii_vault", "DELETE WHERE hash IN ?", []any{vals}},
		{"identity_links", "DELETE WHERE person_id IN ? OR id_value IN ?", []any{cluster, vals}},
		{"identity_merges", "DELETE WHERE survivor IN ? OR absorbed IN ?", []any{cluster, cluster}},
		{"identity_conflicts", "DELETE WHERE person_a IN ? OR person_b IN ? OR id_value IN ?", []any{cluster, cluster, vals}},
		{"persons", "DELETE WHERE person_id IN ?", []any{cluster}},
		{"person_tags", "DELETE WHERE person_id IN ?", []any{cluster}},
		{"segment_changes", "DELETE WHERE person_id IN ?", []any{cluster}},
		{"campaign_sends", "DELETE WHERE person_id IN ?", []any{cluster}},
		{"campaign_outbox", "DELETE WHERE person_id IN ? OR address IN ?", []any{cluster, ext}},
		{"consents", "DELETE WHERE person_id IN ?", []any{cluster}},
		{"ingest_dead_letters", "DELETE WHERE multiSearchAny(payload, ?)", []any{vals}},
	}
	for _, st := range steps {
		if err := s.mutation(ctx, st.table, st.action, st.args...); err != nil {
			return nil, err
		}
	}
	s.Graph.forget(cluster, ids)
	s.Logger.Info("person erased", "person", root, "persons", len(cluster), "identifiers", len(ids), "by", by)
	return cluster, nil
}

// suppress remembers identifiers (as keyed hashes) that must never be
// targeted again.
func (s *Service) suppress(ctx context.Context, ids []Identifier, reason, by string) error {
	if len(ids) == 0 {
		return nil
	}
	batch, err := s.DB.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB.Table("suppressions")+" (id_type, id_hash, reason, ts, by)")
	if err != nil {
		return err
	}
	defer batch.Close()
	now := time.Now()
	for _, id := range ids {
		if err := batch.Append(id.Type, s.SuppressionHash(id), reason, now, by); err != nil {
			return err
		}
	}
	return batch.Send()
}

// SuppressionHash is the keyed hash under which an identifier is
// suppressed; phones, already stored as keyed hashes, are hashed again so
// the list holds no value that appears elsewhere.
func (s *Service) SuppressionHash(id Identifier) string {
	return s.Protector.Hash(id.Type + "\x00" + id.Value)
}

// forget drops erased persons' identifiers from memory; their person ids
// stay allocated (never reused) with nothing attached.
func (g *Graph) forget(persons []uint32, ids []Identifier) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		delete(g.ids, g.key(id))
	}
	for _, p := range persons {
		g.persons[p] = personState{parent: p}
		delete(g.children, p)
		for ti := range uint8(len(personState{}.own)) {
			delete(g.linkTimes, timeKey{p, ti})
		}
	}
	for id, m := range g.merges {
		for _, p := range persons {
			if m.Survivor == p || m.Absorbed == p {
				delete(g.merges, id)
				break
			}
		}
	}
}
