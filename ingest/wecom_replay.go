package ingest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Replay protection of WeCom callbacks.
//
// msg_signature covers a callback's timestamp and nonce, so a captured
// callback can be sent again but not altered. Each one sent again would
// cost an externalcontact/get call against the corp's API quota. After the
// signature, two checks refuse it:
//
//   - the timestamp must be within ReplayWindow of this server's clock, in
//     either direction: |now - timestamp| <= window (default 300 s, which
//     tolerates WeCom's and our clocks being a few minutes apart);
//   - the (timestamp, nonce) pair must not have been accepted before.
//
// A pair is remembered until timestamp + window: from then on the first
// check refuses it, so it can be forgotten. The memory thus holds the
// callbacks accepted with timestamps within one window of now — at most
// 2 × 300 s of callbacks, which the callback rate limit bounds (20/s per
// source address by default) — and never more than MaxNonces pairs: when
// full, a callback is answered ErrBusy (503) and WeCom sends it again later.
// Each pair costs about 35 bytes (a 16-byte hash key and its expiry in a
// Go map): the default 200,000 pairs take 6.6 MB (TestWeComNonceMemorySize).
//
// The memory is per instance. Behind a load balancer spreading callbacks
// over N instances, one captured callback can be accepted once per
// instance, within the window: at most N contact-API calls, and the change
// is stored once (its deduplication key). A shared record in ClickHouse
// would add a round trip to every callback inside WeCom's 5 s; not worth it
// for N small.
const (
	DefaultReplayWindow = 5 * time.Minute
	DefaultMaxNonces    = 200_000
)

var (
	// ErrStaleTimestamp is a signed callback whose timestamp is outside
	// the replay window (or not a Unix time).
	ErrStaleTimestamp = errors.New("ingest: WeCom callback timestamp outside the replay window")
	// ErrReplayed is a signed callback whose timestamp and nonce were
	// accepted before.
	ErrReplayed = errors.New("ingest: WeCom callback already received (same timestamp and nonce)")
)

// nonceMemory remembers accepted (timestamp, nonce) pairs until they
// expire. Its zero value is ready; it is safe for concurrent use.
type nonceMemory struct {
	mu      sync.Mutex
	seen    map[[16]byte]int64 // pair -> Unix second after which it is forgotten
	sweepAt int                // sweep expired pairs once this many are held
}

// admit checks a verified callback's timestamp against now and remembers
// its nonce. On success it returns a function that forgets the pair again,
// for a callback that could not be taken (WeCom will resend it).
func (w *WeCom) admit(timestamp, nonce string, now time.Time) (release func(), err error) {
	window := w.ReplayWindow
	if window <= 0 {
		window = DefaultReplayWindow
	}
	limit := w.MaxNonces
	if limit <= 0 {
		limit = DefaultMaxNonces
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a Unix time", ErrStaleTimestamp, timestamp)
	}
	skew := now.Unix() - ts
	if skew > int64(window/time.Second) || -skew > int64(window/time.Second) {
		return nil, fmt.Errorf("%w: it is %d s from this server's clock; more than %d s either way is refused", ErrStaleTimestamp, skew, int64(window/time.Second))
	}
	key := pairKey(timestamp, nonce)
	m := &w.nonces
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[[16]byte]int64{}
	}
	if _, ok := m.seen[key]; ok {
		return nil, ErrReplayed
	}
	if len(m.seen) >= max(m.sweepAt, 1024) {
		for k, until := range m.seen {
			if until < now.Unix() {
				delete(m.seen, k)
			}
		}
		m.sweepAt = 2 * len(m.seen) // amortised: a sweep per doubling
	}
	if len(m.seen) >= limit {
		return nil, fmt.Errorf("%w: %d WeCom callbacks within the replay window, the most remembered", ErrBusy, len(m.seen))
	}
	m.seen[key] = ts + int64(window/time.Second)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.seen, key)
	}, nil
}

// pairKey is a fixed-size key for a (timestamp, nonce) pair, so that a
// pair's memory does not depend on the nonce's length.
func pairKey(timestamp, nonce string) [16]byte {
	h := sha256.Sum256([]byte(timestamp + "\x00" + nonce))
	return [16]byte(h[:16])
}

// rememberedNonces is how many pairs are held, for tests.
func (w *WeCom) rememberedNonces() int {
	w.nonces.mu.Lock()
	defer w.nonces.mu.Unlock()
	return len(w.nonces.seen)
}
