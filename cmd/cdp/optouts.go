package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// optOutChunk is the most persons one scan reads: an IN list the size of
// a pipeline batch's.
const optOutChunk = 50_000

// optOutDrainTimeout bounds the scan of what is pending when ingest
// closes.
const optOutDrainTimeout = 10 * time.Second

// optOutRetryMax is the longest pause before a failed scan is tried again.
const optOutRetryMax = time.Minute

// optOutScan records the opt-outs (and opt-ins) customers write in WeCom
// chats (campaigns.Service.ScanOptOuts), off the pipeline's goroutine, on
// one worker.
//
// The pipeline adds the persons of each committed batch with chat
// messages. Add never blocks and never drops: persons coalesce into a
// pending set (each person once however many batches name them, so its
// size is bounded by the number of persons, not of batches) and a wake
// channel of one slot tells the worker there is work. The worker takes up
// to optOutChunk persons at a time; a failed scan puts its persons back
// and is tried again after a pause, so an outage of ClickHouse delays
// opt-outs but loses none. stop drains what is pending before the worker
// returns.
type optOutScan struct {
	scan   func(ctx context.Context, persons []uint32) (int, error)
	logger *slog.Logger

	mu      sync.Mutex
	pending *roaring.Bitmap

	wake    chan struct{} // one slot: persons are pending
	closing chan struct{} // closed by stop: drain, then return
	done    chan struct{} // closed when run has returned
}

func newOptOutScan(scan func(ctx context.Context, persons []uint32) (int, error), logger *slog.Logger) *optOutScan {
	return &optOutScan{scan: scan, logger: logger, pending: roaring.New(),
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
}

// Add queues persons for a scan. It never blocks; persons is not kept.
func (q *optOutScan) Add(persons []uint32) {
	if len(persons) == 0 {
		return
	}
	q.mu.Lock()
	q.pending.AddMany(persons)
	q.mu.Unlock()
	q.signal()
}

// signal wakes the worker without waiting.
func (q *optOutScan) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run is the worker: it scans pending persons until stop (after a last
// drain) or until ctx ends. After a failed scan it tries again after a
// pause (1 s, doubling up to optOutRetryMax), or sooner when persons are
// added.
func (q *optOutScan) run(ctx context.Context) {
	defer close(q.done)
	retry := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.closing:
			q.drain(ctx)
			return
		case <-q.wake:
		}
		err := q.scanPending(ctx)
		if err == nil {
			retry = 0
			continue
		}
		retry = min(max(retry*2, time.Second), optOutRetryMax)
		if ctx.Err() == nil {
			q.logger.Error("opt-out keyword scan failed; retrying", "persons", q.size(), "in", retry, "err", err)
		}
		time.AfterFunc(retry, q.signal)
	}
}

// stop makes the worker scan what is pending and return, and waits until
// it has. The caller must no longer Add.
func (q *optOutScan) stop() {
	close(q.closing)
	<-q.done
}

// drain scans what is pending, trying again after failures, for at most
// optOutDrainTimeout; what it could not scan is logged with its size.
func (q *optOutScan) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, optOutDrainTimeout)
	defer cancel()
	for {
		err := q.scanPending(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			q.logger.Error("opt-out keyword scan not done at shutdown: these persons' 退订 and 订阅 messages are stored but not applied", "persons", q.size(), "err", err)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scanPending scans the pending persons a chunk at a time until none is
// left. A failed chunk's persons go back to the set.
func (q *optOutScan) scanPending(ctx context.Context) error {
	for {
		persons := q.take(optOutChunk)
		if len(persons) == 0 {
			return nil
		}
		n, err := q.scan(ctx, persons)
		if err != nil {
			q.mu.Lock()
			q.pending.AddMany(persons)
			q.mu.Unlock()
			return err
		}
		if n > 0 {
			q.logger.Info("customers opted out by WeCom message", "persons", n)
		}
	}
}

// take removes and returns up to n pending persons, the lowest ids first.
func (q *optOutScan) take(n int) []uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]uint32, 0, min(n, int(q.pending.GetCardinality())))
	for it := q.pending.Iterator(); it.HasNext() && len(out) < n; {
		out = append(out, it.Next())
	}
	if len(out) > 0 {
		q.pending.RemoveRange(0, uint64(out[len(out)-1])+1)
	}
	return out
}

// size is how many persons are pending.
func (q *optOutScan) size() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending.GetCardinality()
}
