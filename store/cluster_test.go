package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestShardedClusterSplitsFactsAndCopiesTheRest runs on the test cluster
// (make test-cluster): a fact table's rows are split between the nodes'
// local tables and counted whole through the Distributed table; a copied
// table's rows are on every node; a JOIN of a fact table to a fact
// subquery (made GLOBAL by the connection's distributed_product_mode) and
// to the persons mapping (local on each node) count every row once.
func TestShardedClusterSplitsFactsAndCopiesTheRest(t *testing.T) {
	db := storetest.Migrated(t)
	if !db.Sharded {
		t.Skip("needs the test cluster (" + storetest.ClusterEnv + "=2, make test-cluster)")
	}
	ctx := ctxT(t, time.Minute)
	const persons = 1000
	var events, orders, people [][]any
	for p := uint32(1); p <= persons; p++ {
		events = append(events, []any{fmt.Sprint("e", p), "track", "view", time.Now(), p})
		events = append(events, []any{fmt.Sprint("f", p), "track", "buy", time.Now(), p})
		orders = append(orders, []any{"pos", fmt.Sprint("o", p), uint64(1), "paid", time.Now(), p})
		people = append(people, []any{p, (p + 1) / 2, uint64(1)})
	}
	storetest.Insert(t, db, "events", "message_id, type, event, ts, person_id", events...)
	storetest.Insert(t, db, "orders", "channel, order_id, version, status, ordered_at, person_id", orders...)
	storetest.Insert(t, db, "persons", "person_id, canonical, version", people...)
	var local []int
	for _, n := range db.Nodes {
		local = append(local, nodeCount(t, ctx, n, "SELECT count() FROM "+db.Local("events")))
		if got := nodeCount(t, ctx, n, "SELECT count() FROM "+db.Local("persons")); got != persons {
			t.Errorf("persons on a node: %d, want all %d", got, persons)
		}
	}
	if len(local) < 2 || local[0] == 0 || local[1] == 0 || local[0]+local[1] != 2*persons {
		t.Errorf("events per node %v: want both shards used and %d in all", local, 2*persons)
	}
	if got := storetest.Count(t, db, "SELECT count() FROM "+db.Table("events")); got != 2*persons {
		t.Errorf("events through the Distributed table: %d, want %d", got, 2*persons)
	}
	// Persons who viewed and ordered: every one of them, though orders
	// are split by order and events by person, so a shard holds the
	// orders of only some of its viewers.
	if got := storetest.Count(t, db, "SELECT uniqExact(person_id) FROM "+db.Table("events")+
		" WHERE event = 'view' AND person_id IN (SELECT person_id FROM "+db.Table("orders")+" FINAL)"); got != persons {
		t.Errorf("viewers who ordered: %d, want %d (a local IN sees one shard's orders)", got, persons)
	}
	if got := storetest.Count(t, db, "SELECT count() FROM "+db.Table("events")+" AS e INNER JOIN "+
		"(SELECT person_id FROM "+db.Table("orders")+" FINAL) AS o ON o.person_id = e.person_id WHERE e.event = 'buy'"); got != persons {
		t.Errorf("buys joined to orders: %d, want %d (a local JOIN sees one shard's orders)", got, persons)
	}
	if got := storetest.Count(t, db, "SELECT uniqExact(p.canonical) FROM "+db.Table("events")+" AS e INNER JOIN "+
		db.Table("persons")+" AS p FINAL ON p.person_id = e.person_id"); got != persons/2 {
		t.Errorf("canonical persons with events: %d, want %d", got, persons/2)
	}
}

func nodeCount(t *testing.T, ctx context.Context, conn driver.Conn, q string) int {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return int(n)
}

// TestDistributedInsertDeduplicatesOnEachShard: the writer's batch goes
// through a Distributed fact table, which splits it between the shards
// and inserts each part into its shard's local table under the batch's
// insert_deduplication_token. A retry of the batch is dropped by every
// shard; when one shard lost its part after writing the deduplication
// entry (here: the rows deleted from one node's local table), the retry's
// DuplicatedInsertedBlocks makes the writer restore exactly the missing
// rows.
func TestDistributedInsertDeduplicatesOnEachShard(t *testing.T) {
	db := storetest.Migrated(t)
	if !db.Sharded {
		t.Skip("needs the test cluster (" + storetest.ClusterEnv + "=2, make test-cluster)")
	}
	ctx := ctxT(t, 2*time.Minute)
	metrics := store.NewMetrics(nil)
	w := store.NewWriter(db, store.WriterOptions{Metrics: metrics, Logger: storetest.Logger()})
	defer w.Close(ctx)
	tw := w.Table("events", "message_id", "type", "event", "ts", "person_id", "spool_seq").Keyed("spool_seq")
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{fmt.Sprint("m", i), "track", "view", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), uint32(i + 1), uint64(i + 1)}
	}
	count := func() int { return storetest.Count(t, db, "SELECT count() FROM "+db.Table("events")) }
	for range 2 {
		if err := tw.Insert(ctx, "tok-1", rows); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1000 {
			t.Fatalf("after the batch and its retry: %d rows, want 1000", n)
		}
	}
	lost := nodeCount(t, ctx, db.Nodes[1], "SELECT count() FROM "+db.Local("events"))
	if err := db.Nodes[1].Exec(ctx, "ALTER TABLE "+db.Local("events")+" DELETE WHERE 1 SETTINGS mutations_sync = 2"); err != nil {
		t.Fatal(err)
	}
	if err := tw.Insert(ctx, "tok-1", rows); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1000 {
		t.Fatalf("after the second shard lost its %d rows and the batch was retried: %d rows, want 1000", lost, n)
	}
	if n := storetest.Count(t, db, "SELECT uniqExact(spool_seq) FROM "+db.Table("events")); n != 1000 {
		t.Fatalf("%d distinct rows, want 1000", n)
	}
}
