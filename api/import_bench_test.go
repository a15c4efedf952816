package api_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"time"
)

// peakHeap runs fn and returns the largest live heap seen above the heap
// before it, sampled every millisecond (a sample stops the world briefly).
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak - base
}

// BenchmarkImportOfBadLines posts the case, a 585 KB file of bad
// lines (65,000 lines), to /v1/import/events and reports the peak heap of
// the request and the size of its answer (the first 100 rejections listed,
// all counted). Before the bound, the same file peaked at 41 MB.
func BenchmarkImportOfBadLines(b *testing.B) {
	// No pipeline (a spool limit stands for ClickHouse being away): the
	// heap holds the request and nothing that moves records on.
	f := newIngestFixtureTB(b, &testing.T{}, 1<<30)
	file := bytes.Repeat([]byte("not json\n"), 65_000)
	var peak uint64
	var answer int
	for range b.N {
		peak = max(peak, peakHeap(func() {
			rec := f.post("/v1/import/events", writeKey, file, nil)
			var res struct {
				Rejected      []json.RawMessage `json:"rejected"`
				RejectedCount int               `json:"rejected_count"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 || res.RejectedCount != 65_000 || len(res.Rejected) != 100 {
				b.Fatalf("%d %.200s (%v)", rec.Code, rec.Body, err)
			}
			answer = rec.Body.Len()
		}))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(answer)/(1<<10), "answer-KB")
}
