package gen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Target is a running platform to load generated data into, through its
// real ingest endpoints.
type Target struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	// WriteKey posts orders and chat archives, so it must be a server
	// key.
	WriteKey string
	// WriteKeys are write keys by source (Item.Source: douyin,
	// mini_program, ...), so events arrive under their own channel's
	// key (client keys will do: they carry only events); sources without
	// one use WriteKey.
	WriteKeys map[string]string
	// WeCom signs and encrypts contact callbacks exactly as WeCom does;
	// nil skips contact events.
	WeCom   *wecom.Crypto
	AgentID string
	Client  *http.Client
	// Workers posting concurrently (default 4).
	Workers int
}

// Progress is reported while loading.
type Progress struct {
	Items, Total int64
	Elapsed      time.Duration
}

// Limits per request, under the platform's 500 KB body limit.
const (
	loadBatchEvents = 500
	loadBatchBytes  = 400 << 10
	loadChatBytes   = 8 << 20
)

// Load sends the whole stream to the target: events in /v1/batch bodies,
// orders in /v1/orders batches, contacts as encrypted WeCom callbacks and
// chat lines as /v1/import/wecom-archive uploads. Resending the same
// stream stores nothing twice. progress, when set, is called about every
// half second.
func (g *Generator) Load(ctx context.Context, t Target, total int64, progress func(Progress)) (int64, error) {
	if t.Client == nil {
		t.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if t.Workers <= 0 {
		t.Workers = 4
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := &loader{t: t, ctx: ctx, cancel: cancel, jobs: make(chan loadJob, t.Workers*2), events: map[string]*loadBatch{}}
	l.startWorkers()
	start := time.Now()
	report := func() {
		if progress != nil {
			progress(Progress{Items: l.sent.Load(), Total: total, Elapsed: time.Since(start)})
		}
	}
	stopReports := l.reportEvery(500*time.Millisecond, progress != nil, report)
	err := g.Each(l.add)
	if err == nil {
		err = l.flush()
	}
	close(l.jobs)
	l.workers.Wait()
	stopReports()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	report()
	return l.sent.Load(), err
}

// loader is one Load: the request bodies being filled and the workers
// posting them. A worker's failure cancels ctx with its error.
type loader struct {
	t      Target
	ctx    context.Context
	cancel context.CancelCauseFunc
	jobs   chan loadJob
	sent   atomic.Int64 // items the target acknowledged
	// workers are the goroutines posting jobs.
	workers sync.WaitGroup

	events  map[string]*loadBatch // by source
	sources []string              // of events, in order of first appearance
	orders  loadBatch
	chats   loadBatch
}

// loadJob is one request: a body of n items for path under key, or a
// signed WeCom callback (no write key).
type loadJob struct {
	path, ctype, key string
	body             []byte
	n                int
	callback         bool
}

// loadBatch is a request body being filled.
type loadBatch struct {
	buf bytes.Buffer
	n   int
}

// put appends data to the batch, after sep unless it is the first.
func (b *loadBatch) put(data []byte, sep string) {
	if b.n > 0 {
		b.buf.WriteString(sep)
	}
	b.buf.Write(data)
	b.n++
}

// startWorkers starts t.Workers goroutines posting jobs until the channel
// closes or a post fails.
func (l *loader) startWorkers() {
	for range l.t.Workers {
		l.workers.Add(1)
		go func() {
			defer l.workers.Done()
			for j := range l.jobs {
				var err error
				if j.callback {
					err = l.t.postCallback(l.ctx, j.body)
				} else {
					err = l.t.post(l.ctx, j.key, j.path, j.ctype, j.body)
				}
				if err != nil {
					l.cancel(err)
					return
				}
				l.sent.Add(int64(j.n))
			}
		}()
	}
}

// reportEvery calls report every d, when on, until the returned stop is
// called; stop returns once report is no longer running.
func (l *loader) reportEvery(d time.Duration, on bool, report func()) (stop func()) {
	if !on {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				report()
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// add puts one item in its body, sending the body when it is full;
// contact events go out one callback each, as WeCom delivers them
// (concurrently too).
func (l *loader) add(it Item) error {
	switch it.Kind {
	case KindEvent:
		b := l.events[it.Source]
		if b == nil {
			b = &loadBatch{}
			l.events[it.Source] = b
			l.sources = append(l.sources, it.Source)
		}
		b.put(it.Data, ",")
		if b.n >= loadBatchEvents || b.buf.Len() >= loadBatchBytes {
			return l.sendEvents(it.Source)
		}
	case KindOrder:
		l.orders.put(it.Data, ",")
		if l.orders.n >= loadBatchEvents || l.orders.buf.Len() >= loadBatchBytes {
			return l.sendOrders()
		}
	case KindChat:
		l.chats.put(it.Data, "\n")
		if l.chats.buf.Len() >= loadChatBytes {
			return l.sendChats()
		}
	case KindContact:
		if l.t.WeCom == nil {
			return nil
		}
		return l.enqueue(loadJob{body: bytes.Clone(it.Data), n: 1, callback: true})
	}
	return nil
}

// flush sends what the bodies still hold: events by source, then orders,
// then chats.
func (l *loader) flush() error {
	for _, src := range l.sources {
		if err := l.sendEvents(src); err != nil {
			return err
		}
	}
	if err := l.sendOrders(); err != nil {
		return err
	}
	return l.sendChats()
}

func (l *loader) sendEvents(source string) error {
	return l.send(l.t.keyFor(source), "/v1/batch", "application/json", l.events[source], `{"batch":[`, `]}`)
}

func (l *loader) sendOrders() error {
	return l.send(l.t.WriteKey, "/v1/orders", "application/json", &l.orders, `{"orders":[`, `]}`)
}

func (l *loader) sendChats() error {
	return l.send(l.t.WriteKey, "/v1/import/wecom-archive", "application/x-ndjson", &l.chats, "", "\n")
}

// send hands a non-empty batch, between open and close, to the workers
// and empties it.
func (l *loader) send(key, path, ctype string, b *loadBatch, open, close string) error {
	if b.n == 0 {
		return nil
	}
	body := append([]byte(open), b.buf.Bytes()...)
	body = append(body, close...)
	j := loadJob{path: path, ctype: ctype, key: key, body: body, n: b.n}
	b.buf.Reset()
	b.n = 0
	return l.enqueue(j)
}

// enqueue hands j to the workers, unless Load was cancelled.
func (l *loader) enqueue(j loadJob) error {
	select {
	case l.jobs <- j:
		return nil
	case <-l.ctx.Done():
		return context.Cause(l.ctx)
	}
}

// keyFor returns the write key events of source arrive under.
func (t Target) keyFor(source string) string {
	if k, ok := t.WriteKeys[source]; ok {
		return k
	}
	return t.WriteKey
}

func (t Target) post(ctx context.Context, key, path, ctype string, body []byte) error {
	return t.send(ctx, "POST "+path, 0, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", t.BaseURL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(key, "")
		req.Header.Set("Content-Type", ctype)
		return req, nil
	})
}

// postCallback delivers a contact event as WeCom does: encrypted, signed
// with the time of sending and a fresh nonce (the platform refuses stale
// timestamps and repeated nonces), sent again when it is answered 429 or
// 503, and, as WeCom resends a callback that got no success answer, up to
// three times more after another failure (a 500 on a loaded machine lost
// the whole demo load); WeCom sends no credentials beyond the signature.
func (t Target) postCallback(ctx context.Context, xml []byte) error {
	return t.send(ctx, "WeCom callback", callbackResends, func() (*http.Request, error) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		var nonce [8]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, err
		}
		body, sig, err := t.WeCom.EncryptedXML(xml, t.AgentID, ts, hex.EncodeToString(nonce[:]))
		if err != nil {
			return nil, err
		}
		q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {hex.EncodeToString(nonce[:])}}
		req, err := http.NewRequestWithContext(ctx, "POST", t.BaseURL+"/wecom/callback?"+q.Encode(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/xml")
		return req, nil
	})
}

// callbackResends is how many times WeCom sends a callback again that got
// no success answer.
const callbackResends = 3

// send sends the request build makes until it is answered 200, waiting as
// the platform asks (Retry-After) while it answers 503 (spool full) or 429
// (rate limited), up to 60 times, and sending it again at once after any
// other failure (an error status or none), up to resends times.
func (t Target) send(ctx context.Context, what string, resends int, build func() (*http.Request, error)) error {
	for attempt, failures := 0, 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return err
		}
		resp, err := t.Client.Do(req)
		if err != nil {
			if failures < resends {
				failures++
				continue
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && attempt < 60:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		case failures < resends:
			failures++
		default:
			return fmt.Errorf("%s: %d %s", what, resp.StatusCode, msg)
		}
	}
}
