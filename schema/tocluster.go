package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SingleSuffix is appended to the name of a single ClickHouse's platform
// database while MoveToCluster copies it into a sharded cluster.
const SingleSuffix = "_single"

// ErrNothingToMove: no node holds a single-engine platform database (nor
// one renamed by an interrupted move).
var ErrNothingToMove = errors.New("no node holds a single-engine platform database to move")

// Moved is one table MoveToCluster filled.
type Moved struct {
	Table string
	// Placement: "split" (a fact table, its rows divided between the
	// shards by ShardKeys), "copied" (the whole table on every node) or
	// "recomputed" (the target of a materialized view, filled by its views
	// as their sources were copied, not copied itself).
	Placement string
	// Rows: the rows (after FINAL for a Replacing or Summing table) of the
	// single table, equal to those now in the cluster: in all for a split
	// table, on each node for a copied one. For a recomputed table, the
	// rows it has on the first node.
	Rows uint64
}

// MoveToCluster grows a platform from one machine to a sharded cluster
// (docs/scale-out.md, "growing from one machine"). nodes are every node
// of the cluster, t the sharded target (Sharded, Cluster, Database); one
// node, the old machine, holds the single-engine platform database
// t.Database. That database must be at this build's schema version, and
// no platform may write to it while this runs. Then:
//
//  1. on that node it is renamed t.Database+SingleSuffix;
//  2. the cluster is migrated (MigrateNodes): t.Database on every node,
//     *_local tables and Distributed tables in front;
//  3. every platform table is emptied on every node, then copied on that
//     node with INSERT INTO t.Database.t SELECT ... FROM the renamed
//     database's t: through the Distributed table, which splits a fact
//     table's rows between the shards by their keys and writes every
//     other table to every node. The targets of materialized views (the
//     demand signals) are not copied: their views fill them as the events
//     and chats are copied, as at ingest;
//  4. each copied table's rows are counted (FINAL for a Replacing or
//     Summing table) in the renamed database and in the cluster: in all
//     across the shards for a split table, on each node for a copied one;
//  5. only when every count agrees is the renamed database dropped.
//
// A run that stopped after step 1 finds the renamed database and starts
// again from step 2, emptying what an earlier run copied. A run with
// nothing to move returns ErrNothingToMove.
func MoveToCluster(ctx context.Context, nodes []driver.Conn, t Target, logger *slog.Logger) ([]Moved, error) {
	if !t.Sharded || t.Cluster == "" || len(nodes) == 0 {
		return nil, errors.New("move to cluster: the target must be a sharded cluster with its nodes")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	i, err := singleNode(ctx, nodes, t.Database)
	if err != nil {
		return nil, err
	}
	src := t.Database + SingleSuffix
	logger.Info("moving a single database into the cluster", "node", i+1, "from", src, "to", t.Database)
	if _, err := MigrateNodes(ctx, nodes, t, logger); err != nil {
		return nil, fmt.Errorf("move to cluster: %w", err)
	}
	tables, err := prepareMove(ctx, nodes, i, t, src)
	if err != nil {
		return nil, err
	}
	var out []Moved
	for _, name := range tables {
		if viewTargets()[name] {
			continue
		}
		m, err := moveTable(ctx, nodes, i, t, src, name)
		if err != nil {
			return nil, err
		}
		logger.Info("table moved", "table", name, "placement", m.Placement, "rows", m.Rows)
		out = append(out, m)
	}
	for _, name := range tables {
		if viewTargets()[name] {
			n, err := count(ctx, nodes[0], t.table(name+"_local"), false)
			if err != nil {
				return nil, fmt.Errorf("move to cluster: count %s: %w", name, err)
			}
			out = append(out, Moved{Table: name, Placement: "recomputed", Rows: n})
		}
	}
	if err := nodes[i].Exec(ctx, "DROP DATABASE "+quote(src)+" SYNC"); err != nil {
		return out, fmt.Errorf("move to cluster: drop %s: %w", src, err)
	}
	return out, nil
}

// singleNode finds the node holding the single database db: renamed by an
// interrupted move (db+SingleSuffix), or under its own name with the
// single-engine layout (an events table and no events_local), which it
// renames after checking its schema version is this build's.
func singleNode(ctx context.Context, nodes []driver.Conn, db string) (int, error) {
	found, renamed := -1, false
	for i, conn := range nodes {
		var moving, single uint64
		err := conn.QueryRow(ctx, `SELECT
			(SELECT count() FROM system.databases WHERE name = ?),
			(SELECT countIf(name = 'events') * (countIf(name = 'events_local') = 0) FROM system.tables WHERE database = ?)`,
			db+SingleSuffix, db).Scan(&moving, &single)
		if err != nil {
			return 0, fmt.Errorf("move to cluster: look at node %d: %w", i+1, err)
		}
		if moving+single == 0 {
			continue
		}
		if found >= 0 {
			return 0, fmt.Errorf("move to cluster: nodes %d and %d both hold a single database %s", found+1, i+1, db)
		}
		found, renamed = i, moving > 0
	}
	if found < 0 {
		return 0, ErrNothingToMove
	}
	src := db + SingleSuffix
	name := src
	if !renamed {
		name = db
	}
	v, err := Version(ctx, nodes[found], Target{Database: name})
	if err != nil {
		return 0, fmt.Errorf("move to cluster: read the schema version of %s: %w", name, err)
	}
	if v != Latest() {
		return 0, fmt.Errorf("move to cluster: %s on node %d is at schema version %d, this build's is %d: run cdp migrate on the single engine first", name, found+1, v, Latest())
	}
	if !renamed {
		if err := nodes[found].Exec(ctx, "RENAME DATABASE "+quote(db)+" TO "+quote(src)); err != nil {
			return 0, fmt.Errorf("move to cluster: rename %s to %s: %w", db, src, err)
		}
	}
	return found, nil
}

// prepareMove readies the cluster and the renamed single database src
// on node i for the copy and returns the platform tables in the order to
// copy them. Every table is emptied on every node (a rerun starts over).
// The views of src are dropped: src is only read from now on, and a view
// still naming the platform database would fire on the copy's inserts.
// The copied tables come before the split ones, so the demand dictionary
// is in place when the events and chats it classifies arrive.
func prepareMove(ctx context.Context, nodes []driver.Conn, i int, t Target, src string) ([]string, error) {
	views, err := strings1(ctx, nodes[i], "SELECT name FROM system.tables WHERE database = ? AND engine = 'MaterializedView'", src)
	if err != nil {
		return nil, fmt.Errorf("move to cluster: views of %s: %w", src, err)
	}
	for _, v := range views {
		if err := nodes[i].Exec(ctx, "DROP VIEW "+quote(src)+"."+quote(v)); err != nil {
			return nil, fmt.Errorf("move to cluster: drop view %s: %w", v, err)
		}
	}
	tables, err := distributedTables(ctx, nodes[i], t.Database)
	if err != nil {
		return nil, fmt.Errorf("move to cluster: list the tables: %w", err)
	}
	for _, name := range tables {
		for _, conn := range nodes {
			if err := conn.Exec(ctx, "TRUNCATE TABLE "+t.table(name+"_local")); err != nil {
				return nil, fmt.Errorf("move to cluster: empty %s: %w", name, err)
			}
		}
	}
	sort.SliceStable(tables, func(a, b int) bool {
		_, sa := ShardKeys[tables[a]]
		_, sb := ShardKeys[tables[b]]
		return !sa && sb
	})
	return tables, nil
}

// distributedTables lists the platform tables of db on conn: its
// Distributed tables (every table but the node's own schema_migrations).
func distributedTables(ctx context.Context, conn driver.Conn, db string) ([]string, error) {
	return strings1(ctx, conn, "SELECT name FROM system.tables WHERE database = ? AND engine = 'Distributed' ORDER BY name", db)
}

// moveTable copies one table from the single database src on node i into
// the cluster and checks its rows arrived.
func moveTable(ctx context.Context, nodes []driver.Conn, i int, t Target, src, name string) (Moved, error) {
	from := quote(src) + "." + quote(name)
	var engine string
	if err := nodes[i].QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", src, name).Scan(&engine); err != nil {
		return Moved{}, fmt.Errorf("move to cluster: %s.%s: %w", src, name, err)
	}
	cols, err := strings1(ctx, nodes[i], `SELECT name FROM system.columns WHERE database = ? AND table = ?
		AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position`, src, name)
	if err != nil {
		return Moved{}, fmt.Errorf("move to cluster: columns of %s: %w", name, err)
	}
	list := make([]string, len(cols))
	for k, c := range cols {
		list[k] = quote(c)
	}
	// Foreground: the insert returns once every shard has its rows.
	// No block deduplication: two equal blocks of the copy are both rows.
	copyCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"distributed_foreground_insert": 1, "insert_deduplicate": 0, "max_partitions_per_insert_block": 0,
	}))
	if err := nodes[i].Exec(copyCtx, fmt.Sprintf("INSERT INTO %s (%[2]s) SELECT %[2]s FROM %s",
		t.table(name), strings.Join(list, ", "), from)); err != nil {
		return Moved{}, fmt.Errorf("move to cluster: copy %s: %w", name, err)
	}
	final := engine != "MergeTree" && strings.HasSuffix(engine, "MergeTree")
	want, err := count(ctx, nodes[i], from, final)
	if err != nil {
		return Moved{}, fmt.Errorf("move to cluster: count %s: %w", from, err)
	}
	m := Moved{Table: name, Placement: "copied", Rows: want}
	if _, split := ShardKeys[name]; split {
		m.Placement = "split"
	}
	var total uint64
	for k, conn := range nodes {
		n, err := count(ctx, conn, t.table(name+"_local"), final)
		if err != nil {
			return m, fmt.Errorf("move to cluster: count %s on node %d: %w", name, k+1, err)
		}
		if m.Placement == "copied" && n != want {
			return m, fmt.Errorf("move to cluster: %s: %d rows on node %d, %d in %s", name, n, k+1, want, from)
		}
		total += n
	}
	if m.Placement == "split" && total != want {
		return m, fmt.Errorf("move to cluster: %s: %d rows across the shards, %d in %s", name, total, want, from)
	}
	return m, nil
}

// count counts a table's rows, after FINAL when final.
func count(ctx context.Context, conn driver.Conn, table string, final bool) (uint64, error) {
	q := "SELECT count() FROM " + table
	if final {
		q += " FINAL"
	}
	var n uint64
	err := conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// strings1 runs a query of one String column.
func strings1(ctx context.Context, conn driver.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// viewTargets are the tables materialized views write to, by name.
func viewTargets() map[string]bool {
	out := map[string]bool{}
	for _, m := range all {
		for _, s := range m.Steps {
			if v, ok := s.(materializedView); ok {
				out[v.Target] = true
			}
		}
	}
	return out
}
