package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
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

	sets identifierSets
	// afterMutation, when set (tests), runs after each mutation, between
	// two steps of an operation.
	afterMutation func(table string)
}

// ErrNoSuchPerson is returned for a person id the graph does not know.
var ErrNoSuchPerson = errors.New("identity: no such person")

// queryErr names the ClickHouse query an error came from ("profile: read
// orders"); nil stays nil.
func queryErr(query string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("identity: %s: %w", query, err)
}

// mutation runs an ALTER TABLE ... UPDATE/DELETE on a platform table and
// waits until it is applied on every replica. On a cluster it targets the
// local tables: ON CLUSTER in the replicated flavour, each node in turn in
// the sharded one.
//
// A mutation's text is kept by the engine (system.mutations, a
// mutation_N.txt file beside the table's parts) long after it ran, so it
// never holds an identifier: actions name persons by their dense ids and
// identifiers through an identifier set (see withIdentifierSet), and
// subqueries are evaluated where the mutation runs rather than written
// into its text as literals.
func (s *Service) mutation(ctx context.Context, table, action string, args ...any) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"mutations_sync": 2,
		// Re-attribution and erasure read other tables in their WHERE.
		"allow_nondeterministic_mutations":                1,
		"mutations_execute_subqueries_on_initiator":       0,
		"mutations_execute_nondeterministic_on_initiator": 0,
	}))
	// On a sharded cluster each node's local table: the fact tables'
	// rows are split between them and the other tables copied to each.
	err := s.DB.EachNode(func(conn driver.Conn) error {
		return conn.Exec(ctx, "ALTER TABLE "+s.DB.Local(table)+s.DB.OnCluster()+" "+action, args...)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	if s.afterMutation != nil {
		s.afterMutation(table)
	}
	return nil
}

// identifierSetPrefix names the tables withIdentifierSet creates:
// identifier_set_<Unix time of creation>_<random>.
const identifierSetPrefix = "identifier_set_"

// identifierSetLease is how long a set another process created is taken
// to be in use: between two of its operation's steps no mutation names
// it, so only its age tells it from one a failed operation left.
const identifierSetLease = time.Hour

// identifierSets are the sets this process created and has not dropped:
// live ones (their operation is running; never dropped by another
// operation, TestConcurrentErasuresBothFinish) and those left by a failed
// operation (dropped once no unfinished mutation reads them).
type identifierSets struct {
	mu   sync.Mutex
	live map[string]bool // name -> its operation still runs
}

func (r *identifierSets) set(name string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil {
		r.live = map[string]bool{}
	}
	r.live[name] = live
}

func (r *identifierSets) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, name)
}

// droppable tells whether an idle set may be dropped: not live here, and
// either left by a failed operation of this process or older than the
// lease (another process's, or one left before a restart).
func (r *identifierSets) droppable(name string, now time.Time) bool {
	r.mu.Lock()
	live, mine := r.live[name]
	r.mu.Unlock()
	if mine {
		return !live
	}
	created, _, _ := strings.Cut(strings.TrimPrefix(name, identifierSetPrefix), "_")
	at, err := strconv.ParseInt(created, 10, 64)
	return err != nil || now.Sub(time.Unix(at, 0)) > identifierSetLease
}

// withIdentifierSet runs fn with a table (its quoted name) holding the
// (id_type, id_value) of persons' identifiers, copied inside the engine
// from identity_links: the values never travel in a statement's text, so
// no query log, mutation or metadata file of the engine records them. The
// table lives in memory (Memory engine; on a cluster one per node, each
// filled from the distributed identity_links) and is dropped when fn
// succeeds. When fn fails it is kept: a mutation left running still reads
// it, and a later call drops it once no unfinished mutation names it.
// Operations run concurrently: a set in use is never dropped by another
// (see identifierSets).
func (s *Service) withIdentifierSet(ctx context.Context, persons []uint32, fn func(set string) error) error {
	s.dropIdleIdentifierSets(ctx)
	name := identifierSetPrefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + strings.ToLower(rand.Text())
	table := s.DB.Table(name)
	s.sets.set(name, true)
	err := s.DB.EachNode(func(conn driver.Conn) error {
		return conn.Exec(ctx, "CREATE TABLE "+table+s.DB.OnCluster()+" ENGINE = Memory AS SELECT id_type, id_value FROM "+
			s.DB.Table("identity_links")+" FINAL WHERE person_id IN ?", persons)
	})
	if err != nil {
		err = queryErr("create identifier set", err)
	} else {
		err = fn(table)
	}
	if err != nil {
		s.sets.set(name, false)
		s.Logger.Warn("identity: identifier set kept for the mutations still running", "table", name, "err", err)
		return err
	}
	if err := s.dropSet(context.WithoutCancel(ctx), table); err != nil {
		s.sets.set(name, false)
		s.Logger.Warn("identity: identifier set not dropped", "table", name, "err", err)
		return nil
	}
	s.sets.forget(name)
	return nil
}

// dropIdleIdentifierSets drops identifier sets left by failed operations
// once no unfinished mutation reads them; sets of operations running are
// left alone.
func (s *Service) dropIdleIdentifierSets(ctx context.Context) {
	rows, err := s.DB.Conn.Query(ctx, `SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?)
		AND name NOT IN (SELECT t.name FROM system.tables AS t, system.mutations AS m
			WHERE t.database = ? AND m.database = ? AND NOT m.is_done AND position(m.command, t.name) > 0)`,
		s.DB.Database, identifierSetPrefix, s.DB.Database, s.DB.Database)
	if err != nil {
		s.Logger.Warn("identity: identifier sets not listed", "err", err)
		return
	}
	var idle []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil && s.sets.droppable(name, time.Now()) {
			idle = append(idle, name)
		}
	}
	rows.Close()
	for _, name := range idle {
		if err := s.dropSet(ctx, s.DB.Table(name)); err != nil {
			s.Logger.Warn("identity: identifier set not dropped", "table", name, "err", err)
			continue
		}
		s.sets.forget(name)
	}
}

// dropSet drops an identifier set (its quoted name) on every node.
func (s *Service) dropSet(ctx context.Context, table string) error {
	return s.DB.EachNode(func(conn driver.Conn) error {
		return conn.Exec(ctx, "DROP TABLE IF EXISTS "+table+s.DB.OnCluster()+" SYNC")
	})
}

// Conditions on an identifier set (its table replaces {set}).
const (
	setValues   = "(SELECT groupArray(id_value) FROM {set})"
	setValuesIn = "(SELECT id_value FROM {set})"
	setExternal = "(SELECT id_value FROM {set} WHERE id_type = '" + WeComExternalUserID + "')"
	setExtArray = "(SELECT groupArray(id_value) FROM {set} WHERE id_type = '" + WeComExternalUserID + "')"
)

// identifiersOf lists the identifiers owned by persons.
func (s *Service) identifiersOf(ctx context.Context, persons []uint32) ([]Identifier, error) {
	const query = "read identifiers of persons"
	rows, err := s.DB.Conn.Query(ctx, "SELECT id_type, id_value FROM "+s.DB.Table("identity_links")+" FINAL WHERE person_id IN ?", persons)
	if err != nil {
		return nil, queryErr(query, err)
	}
	defer rows.Close()
	var out []Identifier
	for rows.Next() {
		var id Identifier
		if err := rows.Scan(&id.Type, &id.Value); err != nil {
			return nil, queryErr(query, err)
		}
		out = append(out, id)
	}
	return out, queryErr(query, rows.Err())
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
	from := s.Graph.Cluster(survivor)
	// The lines follow their orders. The segment engine's per-item orders
	// (schema.ItemOrders), kept from order_lines by a materialized view
	// that sees no mutation, get the same action.
	lines := "UPDATE person_id = ? WHERE person_id IN ? AND (channel, order_id) IN (SELECT channel, order_id FROM " +
		s.DB.Table("orders") + " WHERE person_id = ?)"
	err = s.withIdentifierSet(ctx, tree, func(set string) error {
		steps := []struct {
			table, action string
			args          []any
		}{
			{"events", "UPDATE person_id = ? WHERE person_id IN ? AND hasAny(id_values, " + setValues + ")", []any{m.Absorbed, from}},
			{"orders", "UPDATE person_id = ? WHERE person_id IN ? AND hasAny(id_values, " + setValues + ")", []any{m.Absorbed, from}},
			{"order_lines", lines, []any{m.Absorbed, from, m.Absorbed}},
			{schema.ItemOrders, lines, []any{m.Absorbed, from, m.Absorbed}},
			{"wecom_contact_events", "UPDATE person_id = ? WHERE person_id IN ? AND external_userid IN " + setExternal, []any{m.Absorbed, from}},
			{"wecom_messages", "UPDATE person_id = ? WHERE person_id IN ? AND external_userid IN " + setExternal, []any{m.Absorbed, from}},
		}
		for _, st := range steps {
			if err := s.mutation(ctx, st.table, strings.ReplaceAll(st.action, "{set}", set), st.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return UnmergeResult{}, err
	}
	s.Logger.Info("unmerged", "merge", mergeID, "person", m.Absorbed, "from", survivor, "by", by)
	return UnmergeResult{Merge: m, Person: m.Absorbed, Persons: tree, Survivor: survivor}, nil
}

// eraseLines is Erase's action on order_lines and on the per-item orders
// kept from them: the rows stay for revenue, without their person.
const eraseLines = "UPDATE person_id = 0 WHERE person_id IN ?"

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
	if err := s.suppress(ctx, ids, "erased", by); err != nil {
		return nil, err
	}
	// identity_links goes last: the identifier set is copied from it,
	// and it is what a retry after a failed step starts from again.
	steps := []struct{ table, action string }{
		{"events", "DELETE WHERE person_id IN ? OR hasAny(id_values, " + setValues + ")"},
		{"orders", "UPDATE person_id = 0, id_types = [], id_values = [] WHERE person_id IN ? OR hasAny(id_values, " + setValues + ")"},
		{"order_lines", eraseLines},
		// As order_lines (the rows of an order's latest version must say 0
		// too, or FINAL would fall back to an older version's person).
		{schema.ItemOrders, eraseLines},
		{"wecom_contact_events", "DELETE WHERE person_id IN ? OR external_userid IN " + setExternal + " OR unionid IN " + setValuesIn},
		{"wecom_messages", "DELETE WHERE person_id IN ? OR external_userid IN " + setExternal + " OR from IN " + setExternal + " OR hasAny(tolist, " + setExtArray + ")"},
		{"pii_vault", "DELETE WHERE hash IN " + setValuesIn},
		{"identity_merges", "DELETE WHERE survivor IN ? OR absorbed IN ?"},
		{"identity_conflicts", "DELETE WHERE person_a IN ? OR person_b IN ? OR id_value IN " + setValuesIn},
		{"persons", "DELETE WHERE person_id IN ?"},
		{"person_tags", "DELETE WHERE person_id IN ?"},
		{"segment_changes", "DELETE WHERE person_id IN ?"},
		{"campaign_sends", "DELETE WHERE person_id IN ?"},
		{"campaign_outbox", "DELETE WHERE person_id IN ? OR address IN " + setExternal},
		{"consents", "DELETE WHERE person_id IN ?"},
		{"journey_runs", "DELETE WHERE person_id IN ?"},
		{"journey_steps", "DELETE WHERE person_id IN ?"},
		// Person bitmaps: segment snapshots and lists saved from analyses.
		{"segment_members", "UPDATE members = " + dropFromBitmap + ", size = bitmapCardinality(" + dropFromBitmap + ") WHERE " + bitmapHolds},
		{"segment_lists", "UPDATE members = " + dropFromBitmap + ", size = bitmapCardinality(" + dropFromBitmap + ") WHERE " + bitmapHolds},
		// The segment engine's persisted trait index holds every person's
		// order facts; the next full read writes it anew (segments/persist.go).
		{"segment_trait_snapshots", "DELETE WHERE 1"},
		// Dead letters hold raw ids, and phones as vault tokens carrying
		// the same keyed hash as the phone identifier.
		{"ingest_dead_letters", "DELETE WHERE arrayExists(v -> position(payload, v) > 0, " + setValues + ")"},
		{"identity_links", "DELETE WHERE person_id IN ? OR id_value IN " + setValuesIn},
	}
	err = s.withIdentifierSet(ctx, cluster, func(set string) error {
		for _, st := range steps {
			action := strings.ReplaceAll(st.action, "{set}", set)
			args := make([]any, strings.Count(action, "?"))
			for i := range args {
				args[i] = cluster
			}
			if err := s.mutation(ctx, st.table, action, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Graph.forget(cluster, ids)
	s.Logger.Info("person erased", "person", root, "persons", len(cluster), "identifiers", len(ids), "by", by)
	return cluster, nil
}

// dropFromBitmap and bitmapHolds are the erasure's edits of a members
// bitmap (AggregateFunction(groupBitmap, UInt32)): the cluster's persons
// taken out, and the rows that hold any of them.
const (
	dropFromBitmap = "bitmapAndnot(members, bitmapBuild(CAST(? AS Array(UInt32))))"
	bitmapHolds    = "bitmapHasAny(members, bitmapBuild(CAST(? AS Array(UInt32))))"
)

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
		g.ids.del(g.key(id))
	}
	for _, p := range persons {
		g.persons[p] = personState{parent: p}
		delete(g.children, p)
		g.linkTimes.forget(p)
	}
	var gone []uint64
	g.merges.each(func(id uint64, survivor, absorbed uint32) {
		for _, p := range persons {
			if survivor == p || absorbed == p {
				gone = append(gone, id)
				break
			}
		}
	})
	for _, id := range gone {
		g.merges.del(id)
	}
}
