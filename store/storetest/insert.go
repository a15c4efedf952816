package storetest

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/store"
)

// Insert appends rows to a table of db through one batch; cols lists the
// columns the rows give, in order. A failure fails the test.
func Insert(t testing.TB, db *store.DB, table, cols string, rows ...[]any) {
	t.Helper()
	batch, err := db.Conn.PrepareBatch(context.Background(), "INSERT INTO "+db.Table(table)+" ("+cols+")")
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer batch.Close()
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("%s: %v", table, err)
	}
}

// Count runs q, a query of one count, on db and returns it. A failure
// fails the test.
func Count(t testing.TB, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n uint64
	if err := db.Conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return int(n)
}

// Optimize merges a platform table's parts (OPTIMIZE TABLE ... FINAL): the
// table itself on one engine, each node's local table on a sharded
// cluster (a Distributed table cannot be optimized). A failure fails the
// test.
func Optimize(t testing.TB, db *store.DB, table string) {
	t.Helper()
	err := db.EachNode(func(conn driver.Conn) error {
		return conn.Exec(context.Background(), "OPTIMIZE TABLE "+db.Local(table)+db.OnCluster()+" FINAL")
	})
	if err != nil {
		t.Fatalf("optimize %s: %v", table, err)
	}
}

// Mutate runs a mutation (action: "DELETE WHERE ..." or "UPDATE ... WHERE
// ...") on a platform table and waits for it: on the table itself on one
// engine, on each node's local table on a sharded cluster (a Distributed
// table takes no mutations), as identity's erasure does. A failure fails
// the test.
func Mutate(t testing.TB, db *store.DB, table, action string, args ...any) {
	t.Helper()
	err := db.EachNode(func(conn driver.Conn) error {
		return conn.Exec(context.Background(), "ALTER TABLE "+db.Local(table)+db.OnCluster()+" "+action+" SETTINGS mutations_sync = 2", args...)
	})
	if err != nil {
		t.Fatalf("mutate %s: %v", table, err)
	}
}
