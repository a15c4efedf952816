package store_test

import (
	"context"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestLargeInListFitsTheQuery: a bound IN list of 200,000 person ids (over
// 1 MB of query text, four times ClickHouse's default parse limit) runs.
func TestLargeInListFitsTheQuery(t *testing.T) {
	db := storetest.DB(t)
	ids := make([]uint32, 200_000)
	for i := range ids {
		ids[i] = uint32(1_000_000 + i)
	}
	var n uint64
	if err := db.Conn.QueryRow(context.Background(), "SELECT count() FROM numbers(1000000, 300000) WHERE toUInt32(number) IN ?", ids).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(ids)) {
		t.Fatalf("%d matched, want %d", n, len(ids))
	}
}
