package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// benchRows makes n rows of a 5-column table shaped like an event.
func benchRows(n int) [][]any {
	events := []string{"video_play", "video_complete", "search", "like", "order_paid"}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{uint64(i), base.Add(time.Duration(i) * time.Millisecond), events[i%len(events)], float64(i%500) / 10, "topic=控糖"}
	}
	return rows
}

func benchTable(b *testing.B, db *store.DB) {
	err := db.Conn.Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS "+db.Database)
	if err == nil {
		err = db.Conn.Exec(context.Background(), "CREATE TABLE "+db.Table("bench")+` (id UInt64, ts DateTime64(3), event LowCardinality(String), value Float64, payload String)
			ENGINE = MergeTree ORDER BY (event, ts) SETTINGS non_replicated_deduplication_window = 1000`)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInsert compares the batch writer with clickhouse-go's raw
// PrepareBatch/Append/Send on the same rows, in the same run. Each op
// inserts 1M rows; rows/s is the figure to read.
func BenchmarkInsert(b *testing.B) {
	const n = 1_000_000
	rows := benchRows(n)
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		db := storetest.DB(b)
		benchTable(b, db)
		b.ResetTimer()
		for range b.N {
			batch, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Table("bench")+" (id, ts, event, value, payload)")
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				if err := batch.Append(r...); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("writer", func(b *testing.B) {
		db := storetest.DB(b)
		benchTable(b, db)
		w := store.NewWriter(db, store.WriterOptions{})
		defer w.Close(ctx)
		tw := w.Table("bench", "id", "ts", "event", "value", "payload")
		b.ResetTimer()
		for range b.N {
			for _, r := range rows {
				if err := tw.Append(ctx, r...); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkEngineStart measures the embedded engine's start (child process
// start to /ping answering) and the child's resident memory when idle.
func BenchmarkEngineStart(b *testing.B) {
	var rss float64
	for range b.N {
		e, err := storetest.StartEngine(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rss = e.ResidentMB()
		if rss == 0 {
			b.Fatal("engine resident memory unreadable")
		}
		e.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(rss, "child_RSS_MB")
}
