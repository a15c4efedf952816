package wecomops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// apply makes the writes in batches of Batch: each batch's intents
// (adding, removing) are recorded before any of its calls, and each
// call's outcome after the batch. A crash in between leaves intents the
// next reconcile makes again. It returns the calls that succeeded.
func (s *Service) apply(ctx context.Context, ts TagSync, writes []write) (int, error) {
	done := 0
	for len(writes) > 0 {
		n := min(len(writes), s.o.Batch)
		batch := writes[:n]
		writes = writes[n:]
		start := s.o.Clock.Now().UTC()
		rows := make([][]any, len(batch))
		for i, w := range batch {
			state := MarkRemoving
			if w.add {
				state = MarkAdding
			}
			rows[i] = []any{ts.TagID, w.ext, w.staff, ts.ID, w.person, state, w.entered.UTC(), start}
		}
		if err := s.insert(ctx, "wecom_tag_marks", markCols, rows); err != nil {
			return done, fmt.Errorf("wecomops: write tag intents: %w", err)
		}
		outcomes, err := s.calls(ctx, ts, batch, start)
		if werr := s.insert(ctx, "wecom_tag_marks", markCols, outcomes); werr != nil {
			return done, fmt.Errorf("wecomops: write tag outcomes: %w", werr)
		}
		done += len(outcomes)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// errTagDeleted reports that WeCom no longer knows the sync's tag.
var errTagDeleted = errors.New("wecomops: the corp tag was deleted in WeCom (errcode 40068)")

// calls makes a batch's mark_tag calls on Workers workers under the rate
// limit and returns the outcome rows of those that settled. A call that
// fails for good (after its retries) leaves its intent; the first such
// error is returned once the batch is over.
func (s *Service) calls(ctx context.Context, ts TagSync, batch []write, start time.Time) ([][]any, error) {
	var (
		mu       sync.Mutex
		outcomes [][]any
		first    error
		next     = make(chan write)
		wg       sync.WaitGroup
	)
	for range min(s.o.Workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range next {
				state, err := s.markOne(ctx, ts.TagID, w)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if state != "" {
					at := s.o.Clock.Now().UTC()
					if !at.After(start) {
						at = start.Add(time.Millisecond) // after its intent, for ReplacingMergeTree(ts)
					}
					outcomes = append(outcomes, []any{ts.TagID, w.ext, w.staff, ts.ID, w.person, state, w.entered.UTC(), at})
				}
				mu.Unlock()
			}
		}()
	}
	for _, w := range batch {
		if ctx.Err() != nil {
			break
		}
		next <- w
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return outcomes, first
}

// maxAttempts bounds the retries of one call on 5xx, errcode -1 and
// network errors; 45009 is waited out without counting.
const maxAttempts = 6

// markOne makes one call, retrying what WeCom may answer differently
// later, and returns the state it settles the pair in ("" when not).
func (s *Service) markOne(ctx context.Context, tagID string, w write) (string, error) {
	add, remove, settled := []string{tagID}, []string(nil), MarkAdded
	if !w.add {
		add, remove, settled = nil, []string{tagID}, MarkRemoved
	}
	backoff, limited := time.Second, RateLimitWait
	for attempt := 0; ; {
		if err := s.markRate.wait(ctx); err != nil {
			return "", err
		}
		err := s.o.Client.MarkTag(ctx, w.staff, w.ext, add, remove)
		var apiErr *wecom.APIError
		switch {
		case err == nil:
			return settled, nil
		case errors.Is(err, wecom.ErrRateLimited):
			if err := s.o.Clock.Sleep(ctx, limited); err != nil {
				return "", err
			}
			limited = min(2*limited, time.Hour)
			continue
		case errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeNotExternalContact:
			return MarkRemoved, nil // not their contact any more: nothing of ours on it
		case errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeInvalidTagID:
			return MarkRemoved, errTagDeleted
		case wecom.IsRetryable(err) && attempt+1 < maxAttempts:
			attempt++
			if err := s.o.Clock.Sleep(ctx, backoff); err != nil {
				return "", err
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		return "", fmt.Errorf("wecomops: mark_tag %s on %s/%s: %w", tagID, w.staff, w.ext, err)
	}
}

// RateLimitWait is the first wait after errcode 45009 (WeCom blocks the
// API 60 s after its minute limit); it doubles, up to an hour (the hour
// limit's block), while 45009 repeats.
const RateLimitWait = wecom.RateLimitBackoff
