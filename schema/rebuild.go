package schema

import (
	"fmt"
	"strings"
)

// A rebuild replaces a table's rows atomically: a new table is made beside
// it and filled, then EXCHANGE TABLES swaps the two, and the old rows are
// dropped. Readers see the old or the new rows, never a half. Each flavour
// does it differently (docs/scale-out.md):
//
//   - one server: the new table is made AS the table, beside it;
//   - sharded: the table is copied to every node, so each node rebuilds
//     its own <name>_local, filling it from the Distributed tables (every
//     shard's rows). A table made AS the Distributed front would be a
//     second front over the same local copies: its insert would add the
//     whole table to what they hold;
//   - replicated: the statements run once, ON CLUSTER. The new table is a
//     Replicated <name>_rebuild_local on every replica with its own
//     Distributed front; one insert through that front gives each shard
//     its part once, and Keeper copies it to the shard's other replicas.
//     Its Keeper path holds {uuid} (one per table, the same on every
//     replica of an ON CLUSTER create, in an Atomic database): a
//     {database}/{table} path is unfolded when the table is made and keeps
//     the old name after the exchange, so the next rebuild's new table
//     would claim the path of the table it replaces.

// RebuildStep is one statement of a rebuild, named for its errors.
type RebuildStep struct{ Name, SQL string }

// Rebuild is the plan of a table's rebuild.
type Rebuild struct {
	// EachNode says the steps run on every node of a sharded cluster
	// (each against its own copy); otherwise they run once.
	EachNode bool
	Steps    []RebuildStep
}

// rebuildReplicaPath is the Keeper path of a rebuild's new Replicated
// table (see the comment above).
const rebuildReplicaPath = "'/clickhouse/tables/{uuid}/{shard}'"

// RebuildTable plans the rebuild of table, made by the migrations, on t.
// fills are the SELECTs (with names) whose rows fill the new table; on a
// cluster they read the Distributed tables. A fact table the sharded
// flavour splits between its shards (ShardKeys) is refused there: each
// node would insert every row. So is a table a later step alters, whose
// definition the migrations' CreateTable alone does not give.
func RebuildTable(t Target, table string, fills []RebuildStep) (Rebuild, error) {
	def, err := createdTable(table)
	if err != nil {
		return Rebuild{}, err
	}
	tmp := table + "_rebuild"
	switch {
	case t.Cluster == "":
		return Rebuild{Steps: swapSteps(t.table(table), t.table(tmp), fills)}, nil
	case t.Sharded:
		if _, split := ShardKeys[table]; split {
			return Rebuild{}, fmt.Errorf("schema: rebuild %s: a table split between shards is not rebuilt per node", table)
		}
		return Rebuild{EachNode: true, Steps: swapSteps(t.table(table+"_local"), t.table(tmp+"_local"), fills)}, nil
	}
	on := t.onCluster()
	def.Name = tmp
	create := CreateTable(def).render(t)
	create[0] = strings.Replace(create[0], replicaPath, rebuildReplicaPath, 1)
	steps := []RebuildStep{
		{"drop front", "DROP TABLE IF EXISTS " + t.table(tmp) + on + " SYNC"},
		{"drop", "DROP TABLE IF EXISTS " + t.table(tmp+"_local") + on + " SYNC"},
		{"create", create[0]},
		{"create front", create[1]},
	}
	// Foreground: the rows are on their shards when the insert returns,
	// before the exchange (a background send would follow the front's
	// table name to the old rows, once swapped).
	for _, f := range fills {
		steps = append(steps, RebuildStep{f.Name, "INSERT INTO " + t.table(tmp) + " SETTINGS distributed_foreground_insert = 1 " + f.SQL})
	}
	return Rebuild{Steps: append(steps,
		RebuildStep{"exchange", "EXCHANGE TABLES " + t.table(tmp+"_local") + " AND " + t.table(table+"_local") + on},
		RebuildStep{"drop old front", "DROP TABLE " + t.table(tmp) + on + " SYNC"},
		RebuildStep{"drop old", "DROP TABLE " + t.table(tmp+"_local") + on + " SYNC"},
	)}, nil
}

// swapSteps rebuild tbl (one server's table, or one node's local copy)
// through tmp, a table made AS it.
func swapSteps(tbl, tmp string, fills []RebuildStep) []RebuildStep {
	steps := []RebuildStep{
		{"drop", "DROP TABLE IF EXISTS " + tmp},
		{"create", "CREATE TABLE " + tmp + " AS " + tbl},
	}
	for _, f := range fills {
		steps = append(steps, RebuildStep{f.Name, "INSERT INTO " + tmp + " " + f.SQL})
	}
	return append(steps,
		RebuildStep{"exchange", "EXCHANGE TABLES " + tmp + " AND " + tbl},
		RebuildStep{"drop old", "DROP TABLE " + tmp},
	)
}

// createdTable is the definition of table in the migrations, refused when
// a later step adds a column to it or alters it in SQL.
func createdTable(table string) (Table, error) {
	var def *Table
	for _, m := range all {
		for _, s := range m.Steps {
			switch s := s.(type) {
			case CreateTable:
				if s.Name == table {
					tb := Table(s)
					def = &tb
				}
			case AddColumn:
				if s.Table == table {
					return Table{}, fmt.Errorf("schema: rebuild %s: migration %d adds a column to it", table, m.Version)
				}
			case AddProjection:
				if s.Table == table {
					return Table{}, fmt.Errorf("schema: rebuild %s: migration %d adds a projection to it", table, m.Version)
				}
			case DropProjection:
				if s.Table == table {
					return Table{}, fmt.Errorf("schema: rebuild %s: migration %d drops a projection of it", table, m.Version)
				}
			case SQL:
				if strings.Contains(string(s), "ALTER TABLE {db}."+table+" ") || strings.Contains(string(s), "ALTER TABLE {db}."+table+"{local}") {
					return Table{}, fmt.Errorf("schema: rebuild %s: migration %d alters it", table, m.Version)
				}
			}
		}
	}
	if def == nil {
		return Table{}, fmt.Errorf("schema: rebuild %s: no migration creates it", table)
	}
	return *def, nil
}
