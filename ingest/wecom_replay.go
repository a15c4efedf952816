package ingest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
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
// full, a callback is answered ErrNonceMemoryFull (503) and WeCom sends it
// again later. A full memory is swept before it refuses, as soon as a held
// pair may have expired (TestWeComNonceMemoryFullRecoversAfterTheWindow).
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
	// ErrNonceMemoryFull is a signed callback refused because MaxNonces
	// callbacks accepted within the replay window are remembered already;
	// WeCom sends it again later.
	ErrNonceMemoryFull = errors.New("ingest: too many WeCom callbacks within the replay window; retry later")
)

// nonceMemory remembers accepted (timestamp, nonce) pairs until they
// expire. Its zero value is ready; it is safe for concurrent use.
type nonceMemory struct {
	mu      sync.Mutex
	seen    map[[16]byte]int64 // pair -> Unix second after which it is forgotten
	sweepAt int                // sweep expired pairs once this many are held
	// firstExpiry is no later than the earliest expiry held: while the
	// clock has not passed it a full memory has nothing to sweep.
	firstExpiry int64
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
	// Amortised: a sweep per doubling, and always before refusing at the
	// limit once a held pair may have expired. sweepAt never exceeds the
	// limit, so a memory that fills up is swept, not refused until restart.
	if len(m.seen) >= min(max(m.sweepAt, 1024), limit) && (len(m.seen) < limit || m.firstExpiry < now.Unix()) {
		m.firstExpiry = math.MaxInt64
		for k, until := range m.seen {
			if until < now.Unix() {
				delete(m.seen, k)
			} else {
				m.firstExpiry = min(m.firstExpiry, until)
			}
		}
		m.sweepAt = min(2*len(m.seen), limit)
	}
	if len(m.seen) >= limit {
		return nil, fmt.Errorf("%w: %d WeCom callbacks within the replay window, the most remembered", ErrNonceMemoryFull, len(m.seen))
	}
	until := ts + int64(window/time.Second)
	if len(m.seen) == 0 {
		m.firstExpiry = until
	}
	m.firstExpiry = min(m.firstExpiry, until)
	m.seen[key] = until
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
