package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestBackgroundWorkRunsAtLowerPriority: the engine runs merges and
// mutations, and the writer's inserts with the materialized views they
// feed, at store.BackgroundNice, so reads win the cores under ingest.
// (The embedded engine keeps no query_log to read an insert's settings
// back from.)
func TestBackgroundWorkRunsAtLowerPriority(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := ctxT(t, 2*time.Minute)
	var merge string
	if err := db.Conn.QueryRow(ctx, "SELECT value FROM system.server_settings WHERE name = 'os_threads_nice_value_merge_mutate'").Scan(&merge); err != nil {
		t.Fatal(err)
	}
	if merge != fmt.Sprint(store.BackgroundNice) {
		t.Fatalf("merges and mutations at nice %s, want %d", merge, store.BackgroundNice)
	}
	if err := db.Conn.Exec(ctx, "CREATE TABLE "+db.Table("niced")+" (id UInt64) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	defer w.Close(ctx)
	if err := w.Table("niced", "id").Insert(ctx, "tok-nice", [][]any{{uint64(1)}}); err != nil {
		t.Fatal(err)
	}
	// ClickHouse refuses an insert naming a setting it does not know, so
	// this insert checks the writer's settings are the engine's.
	if n := storetest.Count(t, db, "SELECT count() FROM "+db.Table("niced")); n != 1 {
		t.Fatalf("%d rows inserted at background priority, want 1", n)
	}
}
