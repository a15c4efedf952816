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
	type job struct {
		path, ctype, key string
		body             []byte
		n                int
		callback         bool // a signed WeCom callback: no write key
	}
	jobs := make(chan job, t.Workers*2)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range t.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var err error
				if j.callback {
					err = t.postCallback(ctx, j.body)
				} else {
					err = t.post(ctx, j.key, j.path, j.ctype, j.body)
				}
				if err != nil {
					cancel(err)
					return
				}
				sent.Add(int64(j.n))
			}
		}()
	}
	start := time.Now()
	stop := make(chan struct{})
	if progress != nil {
		go func() {
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					progress(Progress{Items: sent.Load(), Total: total, Elapsed: time.Since(start)})
				}
			}
		}()
	}
	var orders, chats bytes.Buffer
	var nOrders, nChats int
	type eventBatch struct {
		buf bytes.Buffer
		n   int
	}
	events := map[string]*eventBatch{} // by source
	var sources []string
	emitKey := func(key, path, ctype string, buf *bytes.Buffer, n *int, open, close string) error {
		if *n == 0 {
			return nil
		}
		body := append([]byte(open), buf.Bytes()...)
		body = append(body, close...)
		buf.Reset()
		j := job{path: path, ctype: ctype, key: key, body: body, n: *n}
		*n = 0
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	emit := func(path, ctype string, buf *bytes.Buffer, n *int, open, close string) error {
		return emitKey(t.WriteKey, path, ctype, buf, n, open, close)
	}
	emitEvents := func(source string) error {
		b := events[source]
		return emitKey(t.keyFor(source), "/v1/batch", "application/json", &b.buf, &b.n, `{"batch":[`, `]}`)
	}
	add := func(buf *bytes.Buffer, n *int, data []byte, sep string) {
		if *n > 0 {
			buf.WriteString(sep)
		}
		buf.Write(data)
		*n++
	}
	err := g.Each(func(it Item) error {
		switch it.Kind {
		case KindEvent:
			b := events[it.Source]
			if b == nil {
				b = &eventBatch{}
				events[it.Source] = b
				sources = append(sources, it.Source)
			}
			add(&b.buf, &b.n, it.Data, ",")
			if b.n >= loadBatchEvents || b.buf.Len() >= loadBatchBytes {
				return emitEvents(it.Source)
			}
		case KindOrder:
			add(&orders, &nOrders, it.Data, ",")
			if nOrders >= loadBatchEvents || orders.Len() >= loadBatchBytes {
				return emit("/v1/orders", "application/json", &orders, &nOrders, `{"orders":[`, `]}`)
			}
		case KindChat:
			add(&chats, &nChats, it.Data, "\n")
			if chats.Len() >= loadChatBytes {
				return emit("/v1/import/wecom-archive", "application/x-ndjson", &chats, &nChats, "", "\n")
			}
		case KindContact:
			if t.WeCom == nil {
				return nil
			}
			// WeCom delivers callbacks concurrently too.
			select {
			case jobs <- job{body: bytes.Clone(it.Data), n: 1, callback: true}:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	})
	for _, src := range sources {
		if err == nil {
			err = emitEvents(src)
		}
	}
	if err == nil {
		err = emit("/v1/orders", "application/json", &orders, &nOrders, `{"orders":[`, `]}`)
	}
	if err == nil {
		err = emit("/v1/import/wecom-archive", "application/x-ndjson", &chats, &nChats, "", "\n")
	}
	close(jobs)
	wg.Wait()
	close(stop)
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if progress != nil {
		progress(Progress{Items: sent.Load(), Total: total, Elapsed: time.Since(start)})
	}
	return sent.Load(), err
}

// keyFor returns the write key events of source arrive under.
func (t Target) keyFor(source string) string {
	if k, ok := t.WriteKeys[source]; ok {
		return k
	}
	return t.WriteKey
}

func (t Target) post(ctx context.Context, key, path, ctype string, body []byte) error {
	return t.send(ctx, "POST "+path, func() (*http.Request, error) {
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
// timestamps and repeated nonces), and sent again when it is answered 429
// or 503; WeCom sends no credentials beyond the signature.
func (t Target) postCallback(ctx context.Context, xml []byte) error {
	return t.send(ctx, "WeCom callback", func() (*http.Request, error) {
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

// send sends the request build makes until it is answered 200, waiting as
// the platform asks (Retry-After) while it answers 503 (spool full) or 429
// (rate limited), up to 60 times.
func (t Target) send(ctx context.Context, what string, build func() (*http.Request, error)) error {
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return err
		}
		resp, err := t.Client.Do(req)
		if err != nil {
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
		default:
			return fmt.Errorf("%s: %d %s", what, resp.StatusCode, msg)
		}
	}
}
