package storetest

import (
	"context"
	"testing"

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
