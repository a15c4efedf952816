// Package demandtest is a fake supply system (an OMS, a WMS, the mill's
// planning) speaking the demand alert webhook contract, for tests of the
// delivery (docs/demand.md#alert-delivery-to-supply-systems).
package demandtest

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/granarycdp/cdp/campaigns"
)

// Receiver checks each post's signature (campaigns.SignWebhook with
// Secret) and processes each Idempotency-Key once: a repeat is answered
// 200 and counted, not processed again. It answers 503 to the first post
// of every fifth key, so the sender's retries are exercised.
type Receiver struct {
	Secret string
	// Delay is how long each post takes to answer.
	Delay time.Duration

	mu        sync.Mutex
	processed map[string]int
	busy      map[string]bool
	posts     int
	repeats   int
	bad       int
	onProcess func(n int)
}

// New returns a Receiver checking signatures with secret.
func New(secret string) *Receiver {
	return &Receiver{Secret: secret, processed: map[string]int{}, busy: map[string]bool{}}
}

// OnProcess sets f (nil clears it) to run after the n-th key is
// processed, before the answer: a crash test kills the sender there.
func (rc *Receiver) OnProcess(f func(n int)) {
	rc.mu.Lock()
	rc.onProcess = f
	rc.mu.Unlock()
}

// ServeHTTP takes one post.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if rc.Delay > 0 {
		time.Sleep(rc.Delay) // a slow receiver: the sender is killed with posts in flight
	}
	ts, sig, key := r.Header.Get(campaigns.HeaderTimestamp), r.Header.Get(campaigns.HeaderSignature), r.Header.Get(campaigns.HeaderIdempotency)
	rc.mu.Lock()
	rc.posts++
	if !hmac.Equal([]byte(sig), []byte(campaigns.SignWebhook(rc.Secret, ts, body))) || key == "" || !json.Valid(body) {
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.processed[key] > 0 {
		rc.repeats++
		rc.mu.Unlock()
		return
	}
	if len(rc.processed)%5 == 4 && !rc.busy[key] {
		rc.busy[key] = true
		rc.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	rc.processed[key]++
	n, hook := len(rc.processed), rc.onProcess
	rc.mu.Unlock()
	if hook != nil {
		hook(n)
	}
}

// Processed is how many keys were processed.
func (rc *Receiver) Processed() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.processed)
}

// Summary says what the receiver saw: keys processed, posts, repeats
// answered idempotently, keys answered 503 first, badly signed posts.
func (rc *Receiver) Summary() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return fmt.Sprintf("%d processed, %d posts, %d repeats answered idempotently, %d retried after a 503, %d badly signed",
		len(rc.processed), rc.posts, rc.repeats, len(rc.busy), rc.bad)
}

// ExactlyOnce checks what a delivery across a crash must leave: each of
// keys processed exactly once and no other, every post correctly signed,
// at least one repeat answered idempotently (the cut-off delivery) and
// at least one retry after a 503.
func (rc *Receiver) ExactlyOnce(keys []string) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var errs []error
	for _, k := range keys {
		if c := rc.processed[k]; c != 1 {
			errs = append(errs, fmt.Errorf("%s processed %d times", k, c))
		}
	}
	if len(rc.processed) != len(keys) || rc.bad != 0 || rc.repeats < 1 || len(rc.busy) == 0 {
		errs = append(errs, fmt.Errorf("processed %d keys of %d, %d badly signed, %d repeats, %d answered 503 first",
			len(rc.processed), len(keys), rc.bad, rc.repeats, len(rc.busy)))
	}
	return errors.Join(errs...)
}
