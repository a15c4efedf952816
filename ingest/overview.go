package ingest

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// ChannelCount is a number of records from one channel.
type ChannelCount struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"` // event, order, wecom_contact, chat
	Count   uint64 `json:"count"`
}

// DayCount is a number of records of one channel on one day.
type DayCount struct {
	Day     string `json:"day"` // YYYY-MM-DD in Beijing (schema.Beijing)
	Channel string `json:"channel"`
	Count   uint64 `json:"count"`
}

// RecordCounts are the records stored, by channel, for the console's
// overview.
type RecordCounts struct {
	// Today are the records received since 00:00 in Beijing, by channel
	// and kind: events by source (douyin when they carry a Douyin
	// openid), orders by sales channel, WeCom contacts and chats.
	Today []ChannelCount
	// Last30Days counts records by the Beijing day they happened, today
	// and the 29 days before, by channel; chats and contacts add up under
	// "wecom". Sorted by day, then channel.
	Last30Days []DayCount
}

// recordSources are the record tables, each with its kind, channel
// expression, time of the record and time of receipt.
var recordSources = []struct{ kind, table, channel, at, received string }{
	{"event", "events", "if(has(id_types, 'douyin_openid'), 'douyin', toString(source))", "ts", "received_at"},
	{"order", "orders", "toString(channel)", "ordered_at", "received_at"},
	{"wecom_contact", "wecom_contact_events", "'wecom'", "ts", "received_at"},
	{"chat", "wecom_messages", "'wecom'", "msgtime", "received_at"},
}

// CountRecords counts the records of db's record tables, Today and by day
// over the last 30 Beijing days, as of now. Orders are versioned and
// counted once each (FINAL): a status change is not a new record. Neither
// slice is nil.
func CountRecords(ctx context.Context, db *store.DB, now time.Time) (RecordCounts, error) {
	now = now.In(schema.Beijing)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, schema.Beijing)
	out := RecordCounts{Today: []ChannelCount{}, Last30Days: []DayCount{}}
	for _, src := range recordSources {
		table := db.Table(src.table)
		if src.kind == "order" {
			table += " FINAL"
		}
		rows, err := db.Conn.Query(ctx, "SELECT "+src.channel+" AS ch, count() FROM "+table+
			" WHERE "+src.received+" >= ? GROUP BY ch ORDER BY ch", today.UTC())
		err = scanCounts(rows, err, func(scan func(...any) error) error {
			cc := ChannelCount{Kind: src.kind}
			if err := scan(&cc.Channel, &cc.Count); err != nil {
				return err
			}
			out.Today = append(out.Today, cc)
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("ingest: count %s received today: %w", src.table, err)
		}
		rows, err = db.Conn.Query(ctx, "SELECT toString("+schema.BeijingDate(src.at)+") AS d, "+src.channel+" AS ch, count() FROM "+
			table+" WHERE "+src.at+" >= ? AND "+src.at+" < ? GROUP BY d, ch ORDER BY d, ch",
			today.AddDate(0, 0, -29).UTC(), today.AddDate(0, 0, 1).UTC())
		err = scanCounts(rows, err, func(scan func(...any) error) error {
			var dc DayCount
			if err := scan(&dc.Day, &dc.Channel, &dc.Count); err != nil {
				return err
			}
			out.Last30Days = append(out.Last30Days, dc)
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("ingest: count %s of the last 30 days: %w", src.table, err)
		}
	}
	// Chats and contacts share the channel "wecom": add them up per day.
	out.Last30Days = sumDays(out.Last30Days)
	return out, nil
}

// scanCounts calls row for each row of a query that returned rows and
// err, passing it the rows' Scan, and closes the rows.
func scanCounts(rows driver.Rows, err error, row func(scan func(...any) error) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sumDays adds up the counts of the same day and channel, sorted by day,
// then channel.
func sumDays(in []DayCount) []DayCount {
	idx := map[[2]string]int{}
	out := []DayCount{}
	for _, d := range in {
		k := [2]string{d.Day, d.Channel}
		if i, ok := idx[k]; ok {
			out[i].Count += d.Count
			continue
		}
		idx[k] = len(out)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}
