package schema

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// render writes the bootstrap and every migration's statements for target.
func render(target Target) string {
	var b strings.Builder
	b.WriteString("-- bootstrap\n")
	for _, s := range Bootstrap(target) {
		b.WriteString(s + ";\n\n")
	}
	for _, m := range All() {
		fmt.Fprintf(&b, "-- migration %d %s\n", m.Version, m.Name)
		for _, s := range m.Statements(target) {
			b.WriteString(s + ";\n\n")
		}
	}
	return b.String()
}

// TestGeneratedDDLMatchesGolden checks the SQL every migration produces on
// a single server and on a cluster against reviewed files. Run with
// -update after adding a migration, then review the diff.
func TestGeneratedDDLMatchesGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		target Target
	}{
		{"single.sql", Target{Database: "cdp"}},
		{"cluster.sql", Target{Database: "cdp", Cluster: "cdp_cluster"}},
		{"sharded.sql", Target{Database: "cdp", Cluster: "cdp_cluster", Sharded: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := render(tc.target)
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("generated DDL differs from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func TestMigrationVersionsAreOrderedAndUnique(t *testing.T) {
	for i, m := range All() {
		if m.Version != i+1 {
			t.Fatalf("migration %d (%s) at position %d: versions must be 1, 2, 3, ...", m.Version, m.Name, i)
		}
		if len(m.Steps) == 0 {
			t.Fatalf("migration %d has no steps", m.Version)
		}
	}
}

func TestReplicatedEngineKeepsArguments(t *testing.T) {
	for in, want := range map[string]string{
		"MergeTree":                     "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')",
		"ReplacingMergeTree(version)":   "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)",
		"AggregatingMergeTree()":        "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')",
		"ReplacingMergeTree(ver, gone)": "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ver, gone)",
	} {
		if got := replicated(in); got != want {
			t.Errorf("replicated(%q) = %q, want %q", in, got, want)
		}
	}
}
