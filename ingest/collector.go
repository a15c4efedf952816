package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/spool"
)

// ErrBusy means the spool is full (ClickHouse has been unavailable for a
// while): the client should retry later. Nothing of the request was kept.
var ErrBusy = errors.New("ingest: spool full; retry later")

// ErrNoSpace means the spool's disk is full (ENOSPC, EDQUOT): nothing of
// the request was kept; retry once space is freed.
var ErrNoSpace = errors.New("ingest: no space left on the spool's disk")

// Options configure a Collector.
type Options struct {
	Spool     *spool.Spool
	Protector *identity.Protector
	// Dedup remembers the keys (messageId, msgid, callback key) of the
	// window's records to drop client retries; the collector owns it and
	// closes it. Nil makes one in memory with the default 24 h window (for
	// tests and tools: its memory grows with the window).
	Dedup  *Dedup
	Logger *slog.Logger
	Now    func() time.Time
}

// Collector validates, normalises and spools incoming records. It is safe
// for concurrent use.
type Collector struct {
	spool  *spool.Spool
	prot   *identity.Protector
	dedup  *Dedup
	logger *slog.Logger
	now    func() time.Time
}

// NewCollector returns a collector appending to opts.Spool.
func NewCollector(opts Options) *Collector {
	if opts.Dedup == nil {
		d, err := OpenDedup(DedupOptions{Logger: opts.Logger})
		if err != nil {
			panic(err) // an in-memory store cannot fail to open
		}
		opts.Dedup = d
	}
	opts.Dedup.bind(opts.Spool.LastSeq)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{spool: opts.Spool, prot: opts.Protector, dedup: opts.Dedup, logger: opts.Logger, now: opts.Now}
}

// Close closes the deduplication store; requests must have stopped.
func (c *Collector) Close() error { return c.dedup.Close() }

// Rejection is a refused record of a batch: its position and the problem.
type Rejection struct {
	Index int `json:"index"`
	Problem
}

// Result says what happened to a request's records.
type Result struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected,omitempty"`
}

// item is one parsed record of a request, or the reason it was refused.
type item struct {
	rec     *Record
	key     string // deduplication key ("" for none)
	problem *Problem
	raw     []byte
	line    int // line number in an imported file (0: use the index)
}

// TrackSpec accepts a body of the tracking API, which follows the
// Segment.com HTTP tracking spec (trackspec.go): one message for typ
// (track, identify, ...) or, with typ "batch", {"batch": [...]}. A body
// that is not valid as a whole is a *Problem; in a batch, valid messages
// are accepted and invalid ones reported and dead-lettered.
func (c *Collector) TrackSpec(ctx context.Context, source, typ string, body []byte) (Result, error) {
	if err := checkBody(body); err != nil {
		return Result{}, err
	}
	p := &trackSpecParser{source: source, receivedAt: c.now().UTC(), protector: c.prot, fast: true}
	var items []item
	if typ == "batch" {
		b, prob := decodeBatch(body)
		if prob != nil {
			return Result{}, prob
		}
		defer b.release() // after accept has encoded the records
		items = make([]item, 0, len(b.Batch))
		if len(b.Batch) == 0 {
			return Result{}, invalid("batch", "must be a non-empty array of messages")
		}
		for k, raw := range b.Batch {
			rec, prob := p.parseScanned(raw, b.message(k), "", b.SentAt, b.Context)
			items = append(items, c.item(rec, prob, raw))
		}
	} else {
		rec, prob := p.parse(body, typ, "", nil)
		if prob != nil {
			c.deadLetter(ctx, source, "/v1/"+typ, []item{{problem: prob, raw: body}})
			return Result{}, prob
		}
		items = append(items, c.item(rec, nil, body))
	}
	return c.accept(ctx, source, "/v1/"+typ, items)
}

// decodeBatch reads a batch body with scanBatch or, for what that does
// not take, encoding/json (whose problems are the answer).
// The caller releases the batch when done with it.
func decodeBatch(body []byte) (*scannedBatch, *Problem) {
	b := scannedBatches.Get().(*scannedBatch)
	if scanBatch(body, b) {
		return b, nil
	}
	b.release()
	b = new(scannedBatch)
	if err := json.Unmarshal(body, &b.trackSpecBatch); err != nil {
		return nil, jsonProblem(err)
	}
	return b, nil
}

// item wraps a parsed record (scrubbed of mobile numbers, then keyed for
// deduplication) or the reason it was refused.
func (c *Collector) item(rec *Record, prob *Problem, raw []byte) item {
	it := item{rec: rec, problem: prob, raw: raw}
	if rec != nil {
		c.scrubRecord(rec)
		it.key = dedupKey(rec)
	}
	return it
}

func dedupKey(r *Record) string {
	switch r.Kind {
	case KindEvent:
		if len(r.Event.MessageID) > 5 && r.Event.MessageID[:5] == "auto-" {
			return ""
		}
		return "e|" + r.Event.Source + "|" + r.Event.MessageID
	case KindMessage:
		return "m|" + r.Message.MsgID
	case KindContact:
		return "c|" + r.Contact.DedupKey
	}
	return ""
}

// checkBody applies the limits every body shares.
func checkBody(body []byte) *Problem {
	if len(body) > MaxRequestBytes {
		return &Problem{Code: "too_large", Message: fmt.Sprintf("body is %d bytes; the limit is %d", len(body), MaxRequestBytes)}
	}
	if !utf8.Valid(body) {
		return &Problem{Code: "invalid_utf8", Message: "body is not valid UTF-8"}
	}
	return nil
}

// accept spools the valid items (dropping known duplicates) and the
// invalid ones as dead letters, all in one durable append, and returns when
// they are on disk. The deduplication keys are reserved before the append
// and written to the store after it (see Dedup for why in that order).
func (c *Collector) accept(ctx context.Context, source, endpoint string, items []item) (Result, error) {
	var res Result
	// The accepted records are encoded one after another into enc (one
	// buffer for the request, sized for records about as large as their
	// JSON); the k-th ends at ends[k] and goes to bufs[slots[k]], filled
	// once all are encoded (enc may move while it grows). Dead letters
	// are encoded on their own.
	bufs := make([][]byte, 0, len(items))
	encp := encodeBuffers.Get().(*[]byte)
	enc := slices.Grow((*encp)[:0], encodeBufferHint(items))
	defer func() { *encp = enc[:0]; encodeBuffers.Put(encp) }() // the spool does not keep records
	ends := make([]int, 0, len(items))
	slots := make([]int, 0, len(items))
	keys := c.dedup.request()
	now := c.now()
	release := keys.release
	for i, it := range items {
		if it.problem != nil {
			pos := i
			if it.line > 0 {
				pos = it.line
			}
			res.Rejected = append(res.Rejected, Rejection{Index: pos, Problem: it.problem.Masked()})
			bufs = append(bufs, c.deadLetterRecord(source, endpoint, pos, it))
			continue
		}
		if it.key != "" {
			ok, err := keys.reserve(it.key, now)
			if err != nil {
				release()
				return Result{}, err
			}
			if !ok {
				res.Duplicates++
				continue
			}
		}
		var err error
		if enc, err = appendRecord(enc, it.rec); err != nil {
			release()
			return Result{}, err
		}
		ends = append(ends, len(enc))
		slots = append(slots, len(bufs))
		bufs = append(bufs, nil)
		res.Accepted++
	}
	if len(bufs) == 0 {
		return res, nil
	}
	start := 0
	for k, end := range ends {
		bufs[slots[k]] = enc[start:end:end]
		start = end
	}
	if _, _, err := c.spool.Append(ctx, bufs...); err != nil {
		release()
		if errors.Is(err, spool.ErrFull) {
			return Result{}, ErrBusy
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return Result{}, fmt.Errorf("%w: %v", ErrNoSpace, err)
		}
		return Result{}, fmt.Errorf("spool: %w", err)
	}
	keys.commit()
	return res, nil
}

// encodeBuffers hold accept's encoding buffers between requests: a new
// one for each was 83 MB of the ~2.5 GB a cdp bench run allocated (and
// zeroed), ~400 KB a request of 1,000 records. A buffer keeps the capacity
// of the largest request it served, at most MaxRequestBytes and its
// records' overhead; the pool drops what the GC finds unused.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// encodeBufferHint is the capacity accept starts its encoding buffer with:
// the items' raw JSON, which their binary form seldom exceeds, plus room
// for what a record adds (times, resolved identifiers, vault entries).
func encodeBufferHint(items []item) int {
	n := 0
	for _, it := range items {
		if it.problem == nil {
			n += len(it.raw) + 64
		}
	}
	return n
}

// maxDeadLetterPayload keeps dead letters small; the reason matters more
// than a huge payload.
const maxDeadLetterPayload = 32 << 10

func (c *Collector) deadLetterRecord(source, endpoint string, pos int, it item) []byte {
	payload := string(it.raw)
	if len(payload) > maxDeadLetterPayload {
		payload = payload[:maxDeadLetterPayload]
	}
	if !utf8.ValidString(payload) {
		payload = fmt.Sprintf("%q", payload)
	}
	b, _ := encodeRecord(&Record{Kind: KindDeadLetter, DeadLetter: &DeadLetter{
		ReceivedAt: c.now().UTC(), Source: source, Endpoint: endpoint, Position: pos,
		Problem: it.problem.Masked(), Payload: c.prot.ScrubPayload(payload),
	}})
	return b
}

// deadLetter spools refused records of a request that failed as a whole.
// It is best effort: the client already gets the error.
func (c *Collector) deadLetter(ctx context.Context, source, endpoint string, items []item) {
	var bufs [][]byte
	for i, it := range items {
		bufs = append(bufs, c.deadLetterRecord(source, endpoint, i, it))
	}
	if _, _, err := c.spool.Append(ctx, bufs...); err != nil {
		c.logger.Warn("dead letter not kept", "endpoint", endpoint, "err", err)
	}
}
