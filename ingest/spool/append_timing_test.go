package spool

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend appends 300-byte records, one per Append, from 1, 8 and 64
// goroutines, and reports records/s and the 99th percentile of Append's
// latency (write and fdatasync included). Each appender waits for its
// Append, as an HTTP handler does, so throughput is appenders / latency.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			s := openT(b, Options{Dir: b.TempDir(), MaxBytes: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
			rec := make([]byte, 300)
			for i := range rec {
				rec[i] = byte(i)
			}
			var (
				next atomic.Int64
				wg   sync.WaitGroup
				lats = make([][]time.Duration, appenders)
			)
			b.ResetTimer()
			for g := range appenders {
				wg.Go(func() {
					lat := make([]time.Duration, 0, b.N/appenders+1)
					for next.Add(1) <= int64(b.N) {
						start := time.Now()
						if _, _, err := s.Append(b.Context(), rec); err != nil {
							b.Error(err)
							return
						}
						lat = append(lat, time.Since(start))
					}
					lats[g] = lat
				})
			}
			wg.Wait()
			b.StopTimer()
			all := slices.Concat(lats...)
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}

// BenchmarkRead reads 300-byte records back in batches of 1,000, as the
// consumer does, from files in the page cache.
func BenchmarkRead(b *testing.B) {
	s := openT(b, Options{Dir: b.TempDir(), MaxBytes: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
	const total = 200_000
	rec := make([]byte, 300)
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = rec
	}
	for range total / len(batch) {
		if _, _, err := s.Append(b.Context(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	read := 0
	for i := 0; i < b.N; i++ {
		recs, err := s.Read(b.Context(), uint64(read%total)+1, 1000, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		read += len(recs)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "records/s")
}
