package store_test

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestDeduplicatedInsertRestoresALostPart reproduces what an engine killed
// between writing a block's deduplication entry and committing its part
// leaves behind: an entry for rows the table lacks. The rows of one of a
// batch's four partitions are deleted after the insert, so the entry
// stays and the part is gone; the retry with the same token is dropped by
// ClickHouse as a duplicate, and the writer must notice and store exactly
// the missing rows, once, whether the table names a key or not.
func TestDeduplicatedInsertRestoresALostPart(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := ctxT(t, 2*time.Minute)
	for _, keyed := range []bool{true, false} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			table := fmt.Sprintf("parted_%v", keyed)
			stmt := "CREATE TABLE " + db.Table(table) + ` (id UInt64, payload String, tags Array(String))
				ENGINE = MergeTree PARTITION BY id % 4 ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`
			if err := db.Conn.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
			metrics := store.NewMetrics(nil)
			w := store.NewWriter(db, store.WriterOptions{Metrics: metrics, Logger: storetest.Logger()})
			defer w.Close(ctx)
			tw := w.Table(table, "id", "payload", "tags")
			if keyed {
				tw.Keyed("id")
			}
			rows := make([][]any, 1000)
			for i := range rows {
				rows[i] = []any{uint64(i), fmt.Sprintf("p%d", i), []string{"a", fmt.Sprint(i % 7)}}
			}
			count := func() (n, distinct int) {
				n = storetest.Count(t, db, "SELECT count() FROM "+db.Table(table))
				distinct = storetest.Count(t, db, "SELECT uniqExact(id, payload, tags) FROM "+db.Table(table))
				return n, distinct
			}
			if err := tw.Insert(ctx, "tok-1", rows); err != nil {
				t.Fatal(err)
			}
			// The part of partition 1 "was never committed".
			if err := db.Conn.Exec(ctx, "ALTER TABLE "+db.Table(table)+" DELETE WHERE id % 4 = 1 SETTINGS mutations_sync = 2"); err != nil {
				t.Fatal(err)
			}
			if n, _ := count(); n != 750 {
				t.Fatalf("after losing partition 1: %d rows, want 750", n)
			}
			for range 2 { // the retry restores; a second one finds nothing to do
				if err := tw.Insert(ctx, "tok-1", rows); err != nil {
					t.Fatal(err)
				}
				if n, distinct := count(); n != 1000 || distinct != 1000 {
					t.Fatalf("after the retry: %d rows, %d distinct; want 1000 once each", n, distinct)
				}
			}
			var m dto.Metric
			if err := metrics.WriterRestoredRows.WithLabelValues(table).Write(&m); err != nil {
				t.Fatal(err)
			}
			if got := m.GetCounter().GetValue(); got != 250 {
				t.Fatalf("restored rows metric %v, want 250", got)
			}
			if left := storetest.Count(t, db, "SELECT count() FROM system.tables WHERE database = ? AND startsWith(name, 'writer_restore_')", db.Database); left != 0 {
				t.Fatalf("%d scratch tables left", left)
			}
		})
	}
}
