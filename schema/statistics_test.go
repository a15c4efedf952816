package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestNoTableKeepsColumnStatistics: no column of a MergeTree table of a
// migrated database has statistics, automatic or declared (statistics.go):
// the engine would build them in every merge and load them in every
// query. It fails for a table made without schema.NoStatistics after
// migration 30. Distributed tables are not read: a sharded cluster's
// fronts, made AS their local tables before migration 30, keep the
// columns' declarations, and hold no parts.
func TestNoTableKeepsColumnStatistics(t *testing.T) {
	db := storetest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tables uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree%'", db.Database).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables < 30 {
		t.Fatalf("%d MergeTree tables in the migrated database; want the platform's (30 or more)", tables)
	}
	rows, err := db.Conn.Query(ctx, `SELECT table, name, statistics FROM system.columns
		WHERE database = ? AND statistics != ''
			AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree%')
		ORDER BY table, name`, db.Database, db.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, column, stats string
		if err := rows.Scan(&table, &column, &stats); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s.%s keeps statistics %s", table, column, stats)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
