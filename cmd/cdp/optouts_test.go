package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestOptOutScanCoalescesRetriesAndDrains drives the opt-out worker with
// a scan that fails while "ClickHouse is down": Add never blocks however
// many batches arrive, each person is scanned (once the scan succeeds),
// persons of a failed scan are not lost, and stop scans what is pending
// before the worker returns.
func TestOptOutScanCoalescesRetriesAndDrains(t *testing.T) {
	// Goroutines alive before are other tests' (the shared test engine,
	// platforms they ran): only the worker's matter here.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var mu sync.Mutex
	down := true
	scanned := map[uint32]int{}
	calls := 0
	scan := func(ctx context.Context, persons []uint32) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if len(persons) > optOutChunk {
			t.Errorf("a scan of %d persons, over the chunk of %d", len(persons), optOutChunk)
		}
		if down {
			return 0, errors.New("ClickHouse is down")
		}
		for _, p := range persons {
			scanned[p]++
		}
		return 0, nil
	}
	q := newOptOutScan(scan, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.run(ctx)

	// 1,000 batches of 200 persons, overlapping: Add returns at once.
	start := time.Now()
	for b := range 1000 {
		persons := make([]uint32, 200)
		for i := range persons {
			persons[i] = uint32(b*100 + i) // each batch shares half its persons with the next
		}
		q.Add(persons)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("1,000 Adds took %v while the scan fails", d)
	}
	const distinct = 999*100 + 200
	until(t, 10*time.Second, "a failed scan", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls > 0
	})
	// Between retries every person is pending again, each once.
	until(t, 10*time.Second, "the failed scan's persons back in the set", func() bool { return q.size() == distinct })
	mu.Lock()
	down = false
	mu.Unlock()
	q.Add([]uint32{distinct + 1}) // wakes the worker before its pause ends
	until(t, 10*time.Second, "the scan after recovery", func() bool { return q.size() == 0 })
	// Persons added just before stop are scanned by stop.
	q.Add([]uint32{distinct + 2, distinct + 3})
	q.stop()
	mu.Lock()
	defer mu.Unlock()
	if len(scanned) != distinct+3 {
		t.Errorf("%d persons scanned, want %d", len(scanned), distinct+3)
	}
	for p, n := range scanned {
		if n != 1 {
			t.Errorf("person %d scanned %d times after recovery", p, n)
		}
	}
}
