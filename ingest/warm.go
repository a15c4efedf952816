package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/store"
)

// Warm refills the deduplication memory after a start: keys of records
// ClickHouse received within the window and of records still waiting in
// the spool. Without it a client retrying a request whose answer was lost
// in a crash would be stored twice. It returns the number of keys loaded.
func (c *Collector) Warm(ctx context.Context, db *store.DB) (int, error) {
	since := c.now().Add(-c.dedup.window)
	now := c.now()
	queries := []struct{ name, sql string }{
		{"recent event keys", "SELECT concat('e|', source, '|', message_id) FROM " + db.Table("events") + " WHERE received_at >= ? AND NOT startsWith(message_id, 'auto-')"},
		{"recent message keys", "SELECT concat('m|', msgid) FROM " + db.Table("wecom_messages") + " WHERE received_at >= ?"},
		{"recent contact change keys", "SELECT concat('c|', dedup_key) FROM " + db.Table("wecom_contact_events") + " WHERE received_at >= ?"},
	}
	for _, q := range queries {
		if err := c.warmFrom(ctx, db, q.sql, since, now); err != nil {
			return 0, fmt.Errorf("ingest: warm deduplication: read %s: %w", q.name, err)
		}
	}
	for from := c.spool.Committed() + 1; from <= c.spool.LastSeq(); {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		recs, err := c.spool.Read(rctx, from, 10_000, 32<<20)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("ingest: warm deduplication from the spool: %w", err)
		}
		for _, sr := range recs {
			r, err := decodeRecord(sr.Data)
			if err != nil {
				return 0, fmt.Errorf("ingest: warm deduplication from the spool: record %d: %w", sr.Seq, err)
			}
			if k := dedupKey(r); k != "" {
				c.dedup.reserve(k, now)
			}
		}
		from = recs[len(recs)-1].Seq + 1
	}
	return c.dedup.size(), nil
}

// warmFrom reserves the deduplication keys that query (with the parameter
// since) returns.
func (c *Collector) warmFrom(ctx context.Context, db *store.DB, query string, since, now time.Time) error {
	rows, err := db.Conn.Query(ctx, query, since)
	if err != nil {
		return err
	}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return err
		}
		c.dedup.reserve(key, now)
	}
	rows.Close()
	return rows.Err()
}
