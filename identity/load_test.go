package identity

import (
	"context"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// BenchmarkLoadFromClickHouse measures the graph's rebuild at start: 1M
// identifiers of 250k persons (with some merges) read from ClickHouse.
func BenchmarkLoadFromClickHouse(b *testing.B) {
	db := storetest.Migrated(b)
	ctx := context.Background()
	g := NewGraph(DefaultRules())
	var ch Changes
	const records = 1_000_000
	syntheticRecords(records, func(ref string, ids []Identifier) {
		g.Resolve(ref, ids, t0, &ch)
	})
	batches := map[string][][]any{}
	Rows(&ch, func(table string, row ...any) { batches[table] = append(batches[table], row) })
	for table, rows := range batches {
		batch, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Table(table)+" ("+joinCols(Tables[table])+")")
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if err := batch.Append(r...); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var stats LoadStats
	for range b.N {
		loaded, st, err := Load(ctx, db, DefaultRules())
		if err != nil {
			b.Fatal(err)
		}
		stats = st
		if loaded.Identifiers() != g.Identifiers() || loaded.Persons() != g.Persons() {
			b.Fatalf("loaded %d identifiers, %d persons; built %d, %d", loaded.Identifiers(), loaded.Persons(), g.Identifiers(), g.Persons())
		}
	}
	b.ReportMetric(float64(stats.Took.Milliseconds()), "ms/load")
	b.ReportMetric(float64(stats.Identifiers)/stats.Took.Seconds(), "identifiers/s")
}

func joinCols(cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += "`" + c + "`"
	}
	return out
}
