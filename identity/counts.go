package identity

import (
	"context"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// Counts are the identity graph's totals as ClickHouse holds them, for
// the console's overview.
type Counts struct {
	Persons      uint64 // OneID persons: distinct canonical persons after merges
	Merges       uint64 // merges recorded, undone ones included
	MergesUndone uint64 // merges since undone (unmerged)
	Conflicts    uint64 // identifier conflicts recorded
}

// ReadCounts reads the totals from the persons, identity_merges and
// identity_conflicts tables of db. It needs no Service: the overview
// reads them whether or not the server serves identity.
func ReadCounts(ctx context.Context, db *store.DB) (Counts, error) {
	var c Counts
	err := db.Conn.QueryRow(ctx, "SELECT uniqExact(canonical) FROM "+schema.Canonical(db.Table("persons"), "")).Scan(&c.Persons)
	if err != nil {
		return c, queryErr("counts: read persons", err)
	}
	err = db.Conn.QueryRow(ctx, "SELECT count(), countIf(undone = 1) FROM "+db.Table("identity_merges")+" FINAL").Scan(&c.Merges, &c.MergesUndone)
	if err != nil {
		return c, queryErr("counts: read merges", err)
	}
	err = db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("identity_conflicts")).Scan(&c.Conflicts)
	return c, queryErr("counts: read conflicts", err)
}
