package demand

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/rebuild.sql")

// rebuildTargets are the flavours whose rebuild plans are kept in
// testdata/rebuild.sql.
var rebuildTargets = []struct {
	name string
	t    schema.Target
}{
	{"one server", schema.Target{Database: "cdp"}},
	{"sharded (on every node)", schema.Target{Database: "cdp", Cluster: "cdp_cluster", Sharded: true}},
	{"replicated (once, ON CLUSTER)", schema.Target{Database: "cdp", Cluster: "cdp_cluster"}},
}

// TestRebuildPlansMatchGolden checks the statements Rebuild runs in each
// flavour against a reviewed file, as the schema's golden DDL is checked.
// The replicated flavour cannot run here (the embedded engine has no
// Keeper: Replicated tables attach read-only, ON CLUSTER is refused), so
// its plan is proven by this file and by the engine parsing each
// statement (TestReplicatedRebuildParses). What the file shows for it:
// every statement once and ON CLUSTER, the new table Replicated with a
// {uuid} Keeper path and a Distributed front with the table's shard key,
// the fills inserted once through that front in the foreground, then the
// local tables exchanged and the old ones dropped with their replicas.
// Run with -update after a change and review the diff.
func TestRebuildPlansMatchGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range rebuildTargets {
		plan, err := rebuildPlan(tc.t)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b.WriteString("-- " + tc.name + ", each node: " + strconv.FormatBool(plan.EachNode) + "\n")
		for _, st := range plan.Steps {
			b.WriteString("-- " + st.Name + "\n" + st.SQL + ";\n\n")
		}
	}
	path := filepath.Join("testdata", "rebuild.sql")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./demand -run TestRebuildPlansMatchGolden -update)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("rebuild plans differ from %s (run with -update and review the diff):\n%s", path, b.String())
	}
	plan, _ := rebuildPlan(rebuildTargets[2].t)
	for _, st := range plan.Steps {
		if !strings.Contains(st.SQL, "ON CLUSTER") && !strings.HasPrefix(st.SQL, "INSERT INTO `cdp`.`demand_signals_hourly_rebuild` ") {
			t.Errorf("replicated %s: neither ON CLUSTER nor an insert through the new front: %s", st.Name, st.SQL)
		}
	}
}

// TestReplicatedRebuildParses: the engine parses every statement of the
// replicated flavour's plan (EXPLAIN AST runs nothing): the syntax of
// ON CLUSTER, SYNC, the Replicated engine and INSERT … SETTINGS.
func TestReplicatedRebuildParses(t *testing.T) {
	db := storetest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	plan, err := rebuildPlan(schema.Target{Database: db.Database, Cluster: "cdp_cluster"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range plan.Steps {
		rows, err := db.Conn.Query(ctx, "EXPLAIN AST "+st.SQL)
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", st.Name, err, st.SQL)
		}
		rows.Close()
	}
}

// TestRebuildRefusesWhatItCannotRebuild: a table split between the
// sharded flavour's shards is not rebuilt per node, and a table no
// migration creates has no plan.
func TestRebuildRefusesWhatItCannotRebuild(t *testing.T) {
	sharded := schema.Target{Database: "cdp", Cluster: "c", Sharded: true}
	if _, err := schema.RebuildTable(sharded, "events", nil); err == nil {
		t.Error("a split fact table was planned per node")
	}
	if _, err := schema.RebuildTable(schema.Target{Database: "cdp"}, "no_such_table", nil); err == nil {
		t.Error("a table no migration creates was planned")
	}
}
