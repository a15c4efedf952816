// Package schema holds the platform's ClickHouse schema as ordered,
// versioned migrations and renders them for a single server (or the
// embedded engine) or for a cluster (ON CLUSTER, Replicated engines and
// Distributed tables) from the same definitions.
//
// A released migration is never edited: add a new one.
package schema

import (
	"fmt"
	"strings"
)

// Column is one column of a table.
type Column struct {
	Name    string
	Type    string
	Default string // optional DEFAULT expression
	Comment string // shown to BI users (system.columns.comment)
}

// Table is a MergeTree-family table. Engine is the family and its
// arguments without the Replicated prefix ("MergeTree",
// "ReplacingMergeTree(version)"); the renderer adds replication on a
// cluster.
type Table struct {
	Name        string
	Comment     string
	Columns     []Column
	Engine      string
	PartitionBy string
	OrderBy     string
	PrimaryKey  string
	TTL         string
	Settings    []string
	// Indexes are data-skipping indexes: "name expr TYPE type GRANULARITY n".
	Indexes []string
	// ShardBy is the Distributed table's sharding expression on a cluster
	// (default: a hash of the sorting key).
	ShardBy string
}

// Step is one idempotent DDL operation of a migration.
type Step interface {
	render(t Target) []string
}

// Target says where DDL goes: the database and, for a cluster, its name
// and flavour.
//
// With Cluster set and Sharded false (the replicated flavour) DDL is
// distributed (ON CLUSTER) and tables are Replicated: that needs ClickHouse
// Keeper and full servers. With Sharded true (the sharded flavour, see
// docs/scale-out.md) there is no ON CLUSTER and no replication: the
// platform applies the same DDL to every node itself (MigrateNodes), each
// table is a plain <name>_local on every node and <name> a Distributed
// table over it, either over Cluster (the fact tables of ShardKeys, split
// between the shards) or over EverywhereCluster(Cluster) (every other
// table, a full copy on every node).
type Target struct {
	Database string
	Cluster  string
	Sharded  bool
}

// EverywhereCluster names the second cluster the sharded flavour needs
// besides cluster: one shard whose replicas are all the nodes, with
// internal_replication false, so that an insert through a Distributed
// table over it is written to every node and a read is served by one
// (the local node first).
func EverywhereCluster(cluster string) string { return cluster + "_everywhere" }

func (t Target) onCluster() string {
	if t.Cluster == "" || t.Sharded {
		return ""
	}
	return " ON CLUSTER " + quote(t.Cluster)
}

func (t Target) table(name string) string { return quote(t.Database) + "." + quote(name) }

// localName is the name of the MergeTree table that holds a platform
// table's rows on a node: <name>_local on a cluster, where <name> is the
// Distributed front, except for the sharded flavour's nodeLocal tables.
func (t Target) localName(name string) string {
	if t.Cluster != "" && !(t.Sharded && nodeLocal[name]) {
		return name + "_local"
	}
	return name
}

func quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// CreateTable creates a table if it does not exist. On a cluster it
// creates <name>_local with a Replicated engine on every node and <name> as
// a Distributed table over it, so readers and writers use <name> in both
// set-ups.
type CreateTable Table

// dedupWindow keeps the tokens of the last 1,000 inserts per table, so a
// writer that retries a batch after a lost answer does not store it twice.
// Replicated tables keep their own window (replicated_deduplication_window).
const dedupWindow = "non_replicated_deduplication_window = 1000"

func (c CreateTable) render(t Target) []string {
	tb := Table(c)
	var b strings.Builder
	local := t.localName(tb.Name)
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n(\n", t.table(local), t.onCluster())
	for i, col := range tb.Columns {
		fmt.Fprintf(&b, "    %s %s", quote(col.Name), col.Type)
		if col.Default != "" {
			b.WriteString(" DEFAULT " + col.Default)
		}
		if col.Comment != "" {
			b.WriteString(" COMMENT " + sqlString(col.Comment))
		}
		if i < len(tb.Columns)-1 || len(tb.Indexes) > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	for i, idx := range tb.Indexes {
		b.WriteString("    INDEX " + idx)
		if i < len(tb.Indexes)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")\nENGINE = ")
	settings := tb.Settings
	if t.Cluster != "" && !t.Sharded {
		b.WriteString(replicated(tb.Engine))
	} else {
		b.WriteString(tb.Engine)
		settings = append([]string{dedupWindow}, settings...)
	}
	if tb.PartitionBy != "" {
		b.WriteString("\nPARTITION BY " + tb.PartitionBy)
	}
	if tb.PrimaryKey != "" {
		b.WriteString("\nPRIMARY KEY " + tb.PrimaryKey)
	}
	b.WriteString("\nORDER BY " + tb.OrderBy)
	if tb.TTL != "" {
		b.WriteString("\nTTL " + tb.TTL)
	}
	if len(settings) > 0 {
		b.WriteString("\nSETTINGS " + strings.Join(settings, ", "))
	}
	if tb.Comment != "" {
		b.WriteString("\nCOMMENT " + sqlString(tb.Comment))
	}
	stmts := []string{b.String()}
	if t.Sharded && t.Cluster != "" {
		if nodeLocal[tb.Name] {
			return stmts
		}
		return append(stmts, tb.shardedFront(t, local))
	}
	if t.Cluster != "" {
		shard := tb.ShardBy
		if shard == "" {
			// Rows with the same sorting key land on the same shard, so
			// ReplacingMergeTree's FINAL still sees all versions of a row.
			shard = "cityHash64(" + strings.TrimSuffix(strings.TrimPrefix(tb.OrderBy, "("), ")") + ")"
		}
		stmts = append(stmts, fmt.Sprintf(
			"CREATE TABLE IF NOT EXISTS %s%s AS %s\nENGINE = Distributed(%s, %s, %s, %s)",
			t.table(tb.Name), t.onCluster(), t.table(local),
			sqlString(t.Cluster), sqlString(t.Database), sqlString(local), shard))
	}
	return stmts
}

// replicaPath is the Keeper path of the replicated flavour's tables.
const replicaPath = "'/clickhouse/tables/{shard}/{database}/{table}'"

// replicated turns "ReplacingMergeTree(version)" into
// "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)".
func replicated(engine string) string {
	name, args, hasArgs := strings.Cut(engine, "(")
	path := replicaPath + ", '{replica}'"
	if hasArgs {
		args = strings.TrimSuffix(args, ")")
		if strings.TrimSpace(args) != "" {
			path += ", " + args
		}
	}
	return "Replicated" + name + "(" + path + ")"
}

// AddColumn adds a column to a table (and to its Distributed table on a
// cluster) if missing.
type AddColumn struct {
	Table  string
	Column Column
	After  string
}

func (a AddColumn) render(t Target) []string {
	def := quote(a.Column.Name) + " " + a.Column.Type
	if a.Column.Default != "" {
		def += " DEFAULT " + a.Column.Default
	}
	if a.Column.Comment != "" {
		def += " COMMENT " + sqlString(a.Column.Comment)
	}
	if a.After != "" {
		def += " AFTER " + quote(a.After)
	}
	tables := []string{a.Table}
	if t.Cluster != "" {
		tables = []string{a.Table + "_local", a.Table}
	}
	var out []string
	for _, name := range tables {
		out = append(out, fmt.Sprintf("ALTER TABLE %s%s ADD COLUMN IF NOT EXISTS %s", t.table(name), t.onCluster(), def))
	}
	return out
}

// SQL is a statement template: {db} is replaced by the quoted database,
// {on_cluster} by " ON CLUSTER name" or nothing, {cluster} by the
// cluster name as a string literal, and {local} by "_local" in the
// sharded flavour and nothing otherwise. It must be idempotent (IF NOT
// EXISTS, OR REPLACE). A statement that writes rows of a table kept whole
// on every node names it {db}.name{local}: the sharded flavour migrates
// one node after another, and a write through the Distributed table
// would reach nodes not yet migrated.
type SQL string

func (s SQL) render(t Target) []string {
	local := ""
	if t.Sharded && t.Cluster != "" {
		local = "_local"
	}
	r := strings.NewReplacer("{db}", quote(t.Database), "{on_cluster}", t.onCluster(), "{cluster}", sqlString(t.Cluster), "{local}", local)
	return []string{r.Replace(string(s))}
}

// AddProjection adds a projection to a MergeTree table (on a cluster, to
// its local table: a Distributed table has none) if missing, then
// materializes it for the parts written before (a mutation, which the
// engine runs in the background: until it has finished, a query reads
// the projection of the parts that have it and the rows of the others,
// so answers are exact throughout). Query is the projection's SELECT.
type AddProjection struct {
	Table string
	Name  string
	Query string
}

func (a AddProjection) render(t Target) []string {
	table := projectionTable(t, a.Table)
	return []string{
		fmt.Sprintf("ALTER TABLE %s ADD PROJECTION IF NOT EXISTS %s (%s)", table, quote(a.Name), a.Query),
		fmt.Sprintf("ALTER TABLE %s MATERIALIZE PROJECTION %s", table, quote(a.Name)),
	}
}

// projectionTable is the table a projection of table lives on (on a
// cluster its local table), with ON CLUSTER where DDL is distributed.
func projectionTable(t Target, table string) string {
	if t.Cluster != "" {
		table += "_local"
	}
	return t.table(table) + t.onCluster()
}

// DropProjection removes a projection from a MergeTree table (on a
// cluster, from its local table) if it is there. The engine removes the
// projection's parts with a mutation in the background; queries stop
// using it at once.
type DropProjection struct {
	Table string
	Name  string
}

func (d DropProjection) render(t Target) []string {
	return []string{fmt.Sprintf("ALTER TABLE %s DROP PROJECTION IF EXISTS %s", projectionTable(t, d.Table), quote(d.Name))}
}
