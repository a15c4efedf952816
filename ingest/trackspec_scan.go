package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/granarycdp/cdp/identity"
)

// The fast decoder of tracking-spec bodies. It fills the same structs
// encoding/json fills (trackSpecMessage, trackSpecContext, the batch's
// parts) in one pass over the bytes with jsonscan.go, its raw fields
// pointing into the body instead of copies. It takes the common shapes
// only; for anything else (invalid JSON, a value of the wrong type, a
// repeated or case-folded key, a problem to report) it says so and the
// caller runs the reference decoder (encoding/json), so records and
// problems are exactly those of the reference for every input
// (FuzzTrackSpecDifferential).

// errSlowPath is the fast decoder's "not mine": the caller decodes the
// input again with the reference decoder. It never leaves the package.
var errSlowPath = &Problem{Message: slowPathMarker}

// slowPathMarker is errSlowPath's message. errSlowPath has no code: it is
// compared by identity and never answered, so it is no server error code
// (the console's catalogs translate every one of those).
const slowPathMarker = "internal: decode with encoding/json"

// messageKeys are trackSpecMessage's JSON names, in field order.
var messageKeys = []string{"type", "messageId", "userId", "anonymousId", "event", "name", "category",
	"properties", "traits", "context", "timestamp", "originalTimestamp", "sentAt", "groupId", "previousId"}

// scanFields scans the object starting at raw[i] ('{'; depth is its
// nesting) as encoding/json decodes one into a struct whose JSON names are
// names: set stores the value of names[n]; other members are skipped. It
// returns the index past the object, or -1 for invalid JSON, a refusal of
// set, a repeated field, a key encoding/json would match to a field
// case-insensitively or through an escape, or an unknown key when
// skipUnknown is false.
func scanFields(raw []byte, i, depth int, names []string, set func(n int, v []byte) bool, skipUnknown bool) int {
	if i >= len(raw) || raw[i] != '{' {
		return -1
	}
	var seen uint32
	return scanObject(raw, i, depth, func(key []byte, escaped bool, v []byte) bool {
		n := keyIndex(key, escaped, names)
		switch {
		case n == -1:
			return skipUnknown
		case n < 0 || seen&(1<<n) != 0:
			return false
		}
		seen |= 1 << n
		return set(n, v)
	})
}

// scanMessage decodes one message (an object; trailing bytes are ignored,
// as json.Decoder ignores them) into m, as json.Decoder.Decode would, or
// returns false.
func scanMessage(raw []byte, m *trackSpecMessage) bool {
	return scanFields(raw, skipSpace(raw, 0), 1, messageKeys, m.set, true) >= 0
}

// set stores the value of messageKeys[n]: a string field as encoding/json
// decodes one, a raw field as it is.
func (m *trackSpecMessage) set(n int, v []byte) bool {
	strs := [...]*string{0: &m.Type, 4: &m.Event, 5: &m.Name, 6: &m.Category, 10: &m.Timestamp,
		11: &m.OriginalTimestamp, 12: &m.SentAt, 14: nil}
	raws := [...]*json.RawMessage{1: &m.MessageID, 2: &m.UserID, 3: &m.AnonymousID, 7: &m.Properties,
		8: &m.Traits, 9: &m.Context, 13: &m.GroupID, 14: &m.PreviousID}
	if raws[n] != nil {
		*raws[n] = v
		return true
	}
	return stringValue(v, strs[n])
}

var (
	contextKeys    = []string{"externalIds", "traits"}
	externalIDKeys = []string{"id", "type"}
)

// scanContext decodes a message's context as json.Unmarshal into
// trackSpecContext would, or returns false.
func scanContext(raw []byte, ctx *trackSpecContext) bool {
	return scanFields(raw, 0, 1, contextKeys, func(n int, v []byte) bool {
		switch {
		case n == 1:
			ctx.Traits = v
			return true
		case isNull(v):
			return true
		}
		return v[0] == '[' && scanArray(v, 0, 2, func(x []byte) bool {
			var id externalID
			if scanFields(x, 0, 3, externalIDKeys, id.set, true) < 0 {
				return false
			}
			ctx.ExternalIDs = append(ctx.ExternalIDs, id)
			return true
		}) >= 0
	}, true) >= 0
}

// set stores the value of externalIDKeys[n].
func (id *externalID) set(n int, v []byte) bool {
	if n == 0 {
		id.ID = v
		return true
	}
	return stringValue(v, &id.Type)
}

var batchKeys = []string{"batch", "sentAt", "context"}

// scannedBatch is a batch body as scanBatch decodes it: the envelope as
// json.Unmarshal fills it, and each message decoded in the same pass.
type scannedBatch struct {
	trackSpecBatch
	msgs    []trackSpecMessage // msgs[k] is Batch[k] decoded when scanned[k]
	scanned []bool
}

// scannedBatches hold decoded batches between requests (decodeBatch,
// release): a batch's messages were ~100 MB of a cdp bench run's ~2.4 GB
// allocated, ~300 B a message. A batch keeps the capacity of the largest
// body it decoded, which MaxRequestBytes bounds.
var scannedBatches = sync.Pool{New: func() any { return new(scannedBatch) }}

// reset empties b, keeping its capacity and dropping its references into
// the body it decoded.
func (b *scannedBatch) reset() {
	clear(b.Batch)
	clear(b.msgs)
	*b = scannedBatch{trackSpecBatch: trackSpecBatch{Batch: b.Batch[:0]}, msgs: b.msgs[:0], scanned: b.scanned[:0]}
}

// release returns b to scannedBatches once nothing uses it, its messages
// or their bytes any more.
func (b *scannedBatch) release() {
	b.reset()
	scannedBatches.Put(b)
}

// message returns Batch[k] as the scanner decoded it, or nil when it did
// not (the reference decoder reads Batch[k] then).
func (b *scannedBatch) message(k int) *trackSpecMessage {
	if k < len(b.scanned) && b.scanned[k] {
		return &b.msgs[k]
	}
	return nil
}

// scanBatch decodes a batch body as json.Unmarshal into trackSpecBatch
// would when every element of "batch" is an object, or returns false.
// The messages it can it decodes on the way (scannedBatch.message).
func scanBatch(body []byte, b *scannedBatch) bool {
	end := scanFields(body, skipSpace(body, 0), 1, batchKeys, func(n int, v []byte) bool {
		switch n {
		case 1:
			return stringValue(v, &b.SentAt)
		case 2:
			b.Context = v
			return true
		}
		return b.scanMessages(v)
	}, true)
	return end >= 0 && skipSpace(body, end) == len(body)
}

// scanMessages reads the "batch" array v; a valid element the scanner
// declines is left to the reference decoder.
func (b *scannedBatch) scanMessages(v []byte) bool {
	// Each message has a "type": room for all without growing.
	n := bytes.Count(v, []byte(`"type"`))
	b.Batch, b.msgs, b.scanned = slices.Grow(b.Batch[:0], n), slices.Grow(b.msgs[:0], n), slices.Grow(b.scanned[:0], n)
	return scanObjects(v, func(i int) int {
		b.msgs = append(b.msgs, trackSpecMessage{})
		return scanFields(v, i, 2, messageKeys, b.msgs[len(b.msgs)-1].set, true)
	}, func(raw []byte, scanned bool) {
		b.Batch, b.scanned = append(b.Batch, raw), append(b.scanned, scanned)
	})
}

// scanObjects reads the array v, whose elements must all be objects:
// decode decodes the one at v[i] and returns the index past it, or -1 to
// leave it to the reference decoder (when it is valid JSON); add gets
// each element's bytes and whether decode took it.
func scanObjects(v []byte, decode func(i int) int, add func(raw []byte, scanned bool)) bool {
	if v[0] != '[' {
		return false
	}
	i, done := opening(v, 0, 2, ']')
	for !done {
		if i >= len(v) || v[i] != '{' {
			return false
		}
		end := decode(i)
		scanned := end >= 0
		if !scanned {
			if end = scanValue(v, i, 1); end < 0 {
				return false
			}
		}
		add(v[i:end], scanned)
		i, done = afterValue(v, end, ']')
	}
	return i >= 0
}

// plainStringOrNumber is stringOrNumber for raw a string without escapes
// (the common case, read without encoding/json); other values go to
// stringOrNumber itself.
func plainStringOrNumber(raw json.RawMessage, field string) (string, *Problem) {
	if len(raw) >= 2 && raw[0] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return strings.TrimSpace(string(inner)), nil
		}
	}
	return stringOrNumber(raw, field)
}

// Runes whose lower case is ASCII ('i', 'k'): bytes.ToLower turns them
// into letters of a key scrub looks for.
var (
	dottedCapitalI = []byte("\u0130")
	kelvinSign     = []byte("\u212a")
)

// scrubKeyIn tells whether the lower-cased raw holds `"email"` (with
// email set) or `"<phone key>"`, as scrub's bytes.ToLower search does,
// without lower-casing a copy.
func scrubKeyIn(raw []byte, email bool) bool {
	if bytes.Contains(raw, kelvinSign) || bytes.Contains(raw, dottedCapitalI) {
		lower := bytes.ToLower(raw)
		if email && bytes.Contains(lower, []byte(`"email"`)) {
			return true
		}
		for _, k := range identity.PhoneTraitKeys {
			if bytes.Contains(lower, []byte(`"`+k+`"`)) {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(raw); i++ {
		j := bytes.IndexByte(raw[i:], '"')
		if j < 0 {
			return false
		}
		i += j
		rest := raw[i+1:]
		if email && quotedKeyAt(rest, "email") {
			return true
		}
		for _, k := range identity.PhoneTraitKeys {
			if quotedKeyAt(rest, k) {
				return true
			}
		}
	}
	return false
}

// quotedKeyAt tells whether b starts with k (lower-case ASCII) in any
// ASCII case followed by a quote.
func quotedKeyAt(b []byte, k string) bool {
	if len(b) <= len(k) || b[len(k)] != '"' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != k[i] {
			return false
		}
	}
	return true
}
