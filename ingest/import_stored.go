package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/store"
)

// EventKey names an imported event for the check against ClickHouse: its
// source and messageId, and its name and time, which bound the search to
// the events table's sorting key.
type EventKey struct {
	Source, MessageID, Event string
	TS                       time.Time
}

// StoredEvents returns the check imports make before spooling a chunk of
// events: which of them ClickHouse already holds. The deduplication window
// remembers messageIds for 24 hours; an export imported again later (the
// overlapping date ranges of weekly exports) would otherwise be stored
// twice. The search is bounded by the chunk's event names and days, so it
// reads the parts of the events table those rows can be in, not the table.
func StoredEvents(db *store.DB) func(ctx context.Context, keys []EventKey) (map[string]bool, error) {
	return func(ctx context.Context, keys []EventKey) (map[string]bool, error) {
		if len(keys) == 0 {
			return nil, nil
		}
		var names, ids, days []string
		seen := map[string]bool{}
		for _, k := range keys {
			if !seen["e"+k.Event] {
				seen["e"+k.Event], names = true, append(names, k.Event)
			}
			d := k.TS.UTC().Format(time.DateOnly)
			if !seen["d"+d] {
				seen["d"+d], days = true, append(days, d)
			}
			ids = append(ids, k.MessageID)
		}
		rows, err := db.Conn.Query(ctx, "SELECT message_id FROM "+db.Table("events")+
			" WHERE source = ? AND event IN ? AND toDate(ts) IN ? AND message_id IN ?", keys[0].Source, names, days, ids)
		if err != nil {
			return nil, fmt.Errorf("import: look up stored events: %w", err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, fmt.Errorf("import: look up stored events: %w", err)
			}
			out[id] = true
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("import: look up stored events: %w", err)
		}
		return out, nil
	}
}
