package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/store"
)

// warmBatch is the number of keys Warm writes at a time.
const warmBatch = 10_000

// Warm completes the deduplication store after a start, before the
// collector accepts requests. The store on disk already holds the keys of
// the window; a crash may have cut the last ones (see Dedup: a key is
// written after its record is spooled, without an fsync of its own). Warm
// adds back the keys of:
//   - the records still waiting in the spool;
//   - the records the pipeline moved to ClickHouse above the store's
//     watermark, usually none after a clean stop and the last moments'
//     after a crash;
//   - as a fallback, every record ClickHouse received within the window,
//     when the store has no watermark (a first start with this store, a
//     deleted or emptied store) or the spool's numbering restarted (a new
//     spool): the only case that reads the whole window, as every start
//     did when the keys lived in memory.
//
// Without it a client retrying a request whose answer was lost in a crash
// could be stored twice. It returns the number of keys added.
func (c *Collector) Warm(ctx context.Context, db *store.DB) (int, error) {
	now := c.now()
	n, err := c.warmFromSpool(ctx, now)
	if err != nil {
		return n, err
	}
	w, known, err := c.dedup.watermark()
	if err != nil {
		return n, fmt.Errorf("warm deduplication: read the watermark: %w", err)
	}
	last := c.spool.LastSeq()
	var cond string
	args := []any{now.Add(-c.dedup.opts.Window)}
	switch {
	case !known || w > last:
		cond = "received_at >= ?"
	case w < c.spool.Committed():
		cond, args = "received_at >= ? AND spool_seq > ?", append(args, w)
	}
	if cond != "" {
		m, err := c.warmFromClickHouse(ctx, db, cond, args, now)
		n += m
		if err != nil {
			return n, err
		}
	}
	if err := c.dedup.warmedUpTo(last); err != nil {
		return n, fmt.Errorf("warm deduplication: write the watermark: %w", err)
	}
	return n, nil
}

// warmFromClickHouse adds the keys of the rows matching cond of the
// tables with deduplication keys.
func (c *Collector) warmFromClickHouse(ctx context.Context, db *store.DB, cond string, args []any, now time.Time) (int, error) {
	queries := []struct{ name, sql string }{
		{"events", "SELECT concat('e|', source, '|', message_id), received_at FROM " + db.Table("events") + " WHERE " + cond + " AND NOT startsWith(message_id, 'auto-')"},
		{"wecom messages", "SELECT concat('m|', msgid), received_at FROM " + db.Table("wecom_messages") + " WHERE " + cond},
		{"wecom contact events", "SELECT concat('c|', dedup_key), received_at FROM " + db.Table("wecom_contact_events") + " WHERE " + cond},
	}
	n := 0
	for _, q := range queries {
		m, err := c.warmQuery(ctx, db, q.sql, args, now)
		n += m
		if err != nil {
			return n, fmt.Errorf("warm deduplication from %s: %w", q.name, err)
		}
	}
	return n, nil
}

func (c *Collector) warmQuery(ctx context.Context, db *store.DB, sql string, args []any, now time.Time) (int, error) {
	rows, err := db.Conn.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	keys := make([]warmKey, 0, warmBatch)
	flush := func() error {
		m, err := c.dedup.remember(keys, now)
		n += m
		keys = keys[:0]
		return err
	}
	for rows.Next() {
		var k warmKey
		if err := rows.Scan(&k.key, &k.at); err != nil {
			return n, err
		}
		if keys = append(keys, k); len(keys) == warmBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// warmFromSpool adds the keys of the records waiting in the spool.
func (c *Collector) warmFromSpool(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for from := c.spool.Committed() + 1; from <= c.spool.LastSeq(); {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		recs, err := c.spool.Read(rctx, from, 10_000, 32<<20)
		cancel()
		if err != nil {
			return n, fmt.Errorf("warm deduplication from the spool: %w", err)
		}
		var keys []warmKey
		for _, sr := range recs {
			r, err := decodeRecord(sr.Data)
			if err != nil {
				return n, fmt.Errorf("warm deduplication from the spool: record %d: %w", sr.Seq, err)
			}
			if k := dedupKey(r); k != "" {
				keys = append(keys, warmKey{key: k, at: receivedAt(r)})
			}
		}
		m, err := c.dedup.remember(keys, now)
		n += m
		if err != nil {
			return n, fmt.Errorf("warm deduplication from the spool: %w", err)
		}
		from = recs[len(recs)-1].Seq + 1
	}
	return n, nil
}

// receivedAt is when a record with a deduplication key arrived.
func receivedAt(r *Record) time.Time {
	switch r.Kind {
	case KindEvent:
		return r.Event.ReceivedAt
	case KindMessage:
		return r.Message.ReceivedAt
	case KindContact:
		return r.Contact.ReceivedAt
	}
	return time.Time{}
}
