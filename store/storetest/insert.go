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
