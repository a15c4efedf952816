package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/identity"
)

// Limits of the events API, as Segment.com documents them for its own.
const (
	MaxRequestBytes = 500 << 10 // one request body (a batch)
	MaxEventBytes   = 32 << 10  // one event within it
	// MaxFuture is how far ahead of the server clock an event may be
	// stamped; beyond it the timestamp is wrong, not early.
	MaxFuture = 24 * time.Hour
	// MaxPast bounds back-filled events; platform exports reach back
	// about three years (Segment.com Engage's lookback).
	MaxPast = 3 * 366 * 24 * time.Hour
)

// TrackSpecTypes are the message types of the Segment.com tracking spec
// that the events API takes.
var TrackSpecTypes = map[string]bool{"track": true, "identify": true, "page": true, "screen": true, "group": true, "alias": true}

// trackSpecMessage is one message as the Segment.com HTTP tracking spec
// sends it.
type trackSpecMessage struct {
	Type              string          `json:"type"`
	MessageID         json.RawMessage `json:"messageId"`
	UserID            json.RawMessage `json:"userId"`
	AnonymousID       json.RawMessage `json:"anonymousId"`
	Event             string          `json:"event"`
	Name              string          `json:"name"`
	Category          string          `json:"category"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	Context           json.RawMessage `json:"context"`
	Timestamp         string          `json:"timestamp"`
	OriginalTimestamp string          `json:"originalTimestamp"`
	SentAt            string          `json:"sentAt"`
	GroupID           json.RawMessage `json:"groupId"`
	PreviousID        json.RawMessage `json:"previousId"`
}

type trackSpecBatch struct {
	Batch   []json.RawMessage `json:"batch"`
	SentAt  string            `json:"sentAt"`
	Context json.RawMessage   `json:"context"`
}

// trackSpecContext is the part of context the platform reads.
type trackSpecContext struct {
	ExternalIDs []externalID    `json:"externalIds"`
	Traits      json.RawMessage `json:"traits"`
}

// externalID is one element of context.externalIds.
type externalID struct {
	ID   json.RawMessage `json:"id"`
	Type string          `json:"type"`
}

// externalIDTypes maps context.externalIds types to identifier types. Our
// own names pass through; a few common spellings are accepted.
var externalIDTypes = map[string]string{
	"wecom_external_user_id": identity.WeComExternalUserID,
	"external_userid":        identity.WeComExternalUserID,
	"union_id":               identity.UnionID,
	"open_id":                identity.OpenID,
	"mobile":                 identity.Phone,
	"phone_number":           identity.Phone,
	"member_id":              identity.MemberNo,
	"member_number":          identity.MemberNo,
}

// trackSpecParser turns tracking-spec messages into events.
type trackSpecParser struct {
	source     string
	receivedAt time.Time
	protector  *identity.Protector
	// fast decodes with the hand-written scanner (trackspec_scan.go),
	// falling back to encoding/json for what it does not take; false is
	// the reference decoder, encoding/json alone. Raw fields of a fast
	// record point into the input, which must not change afterwards.
	fast bool
}

// stringOrNumber reads a JSON id that SDKs send as a string or a number.
func stringOrNumber(raw json.RawMessage, field string) (string, *Problem) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(field, "must be a string")
		}
		return strings.TrimSpace(s), nil
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return string(raw), nil
	}
	return "", invalid(field, "must be a string or a number")
}

// idReader is stringOrNumber, or with fast plainStringOrNumber.
func idReader(fast bool) func(json.RawMessage, string) (string, *Problem) {
	if fast {
		return plainStringOrNumber
	}
	return stringOrNumber
}

func parseTime(s, field string) (time.Time, *Problem) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid(field, "%q is not an ISO-8601 timestamp", s)
}

// parse validates one message. typ is the endpoint's type ("" for batch
// items, which must carry their own). batchSentAt applies when the message
// has none.
func (p *trackSpecParser) parse(raw json.RawMessage, typ, batchSentAt string, batchContext json.RawMessage) (*Record, *Problem) {
	return p.parseScanned(raw, nil, typ, batchSentAt, batchContext)
}

// parseScanned is parse with scanned the message as scanBatch decoded it
// from raw (nil: decode raw here).
func (p *trackSpecParser) parseScanned(raw json.RawMessage, scanned *trackSpecMessage, typ, batchSentAt string, batchContext json.RawMessage) (*Record, *Problem) {
	if len(raw) > MaxEventBytes {
		return nil, &Problem{Code: "too_large", Message: fmt.Sprintf("event is %d bytes; the limit is %d", len(raw), MaxEventBytes)}
	}
	if p.fast {
		if scanned == nil {
			scanned = new(trackSpecMessage)
			if !scanMessage(raw, scanned) {
				scanned = nil
			}
		}
		if scanned != nil {
			if rec, prob := p.message(scanned, typ, batchSentAt, batchContext, true); prob != errSlowPath {
				return rec, prob
			}
		}
	}
	var m trackSpecMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return nil, jsonProblem(err)
	}
	return p.message(&m, typ, batchSentAt, batchContext, false)
}

// message validates a decoded message. With fast, ids are read by
// plainStringOrNumber and the context by scanContext, and errSlowPath
// asks for the reference decoder instead of a problem.
func (p *trackSpecParser) message(m *trackSpecMessage, typ, batchSentAt string, batchContext json.RawMessage, fast bool) (*Record, *Problem) {
	str := idReader(fast)
	if typ != "" && m.Type != "" && m.Type != typ {
		return nil, invalid("type", "%q sent to the %s endpoint", m.Type, typ)
	}
	if typ != "" {
		m.Type = typ
	}
	if !TrackSpecTypes[m.Type] {
		return nil, invalid("type", "must be one of track, identify, page, screen, group, alias; got %q", m.Type)
	}
	e := &Event{Type: m.Type, Source: p.source, ReceivedAt: p.receivedAt}
	var prob *Problem
	if e.MessageID, prob = str(m.MessageID, "messageId"); prob != nil {
		return nil, prob
	}
	if e.MessageID == "" {
		e.MessageID = "auto-" + randomHex(16) // no id: no deduplication possible
	} else if len(e.MessageID) > 200 {
		return nil, invalid("messageId", "longer than 200 characters")
	}
	if e.UserID, prob = str(m.UserID, "userId"); prob != nil {
		return nil, prob
	}
	if e.AnonymousID, prob = str(m.AnonymousID, "anonymousId"); prob != nil {
		return nil, prob
	}
	switch m.Type {
	case "track":
		e.Event = strings.TrimSpace(m.Event)
		if e.Event == "" {
			return nil, invalid("event", "a track call needs an event name")
		}
	case "page", "screen":
		e.Event = strings.TrimSpace(m.Name)
		if e.Event == "" {
			e.Event = m.Type
		}
	default:
		e.Event = m.Type
	}
	if utf8.RuneCountInString(e.Event) > 200 {
		return nil, invalid("event", "longer than 200 characters")
	}
	if e.TS, prob = p.timestamp(*m, batchSentAt); prob != nil {
		return nil, prob
	}
	rec := &Record{Kind: KindEvent, Event: e}
	if err := p.identifiers(rec, m, batchContext, fast); err != nil {
		return nil, err
	}
	if m.Type == "group" || m.Type == "alias" {
		// Their ids are kept in properties for identity to use.
		extra := map[string]string{}
		if s, _ := str(m.GroupID, "groupId"); s != "" {
			extra["groupId"] = s
		}
		if s, _ := str(m.PreviousID, "previousId"); s != "" {
			extra["previousId"] = s
		}
		if len(extra) > 0 && len(e.Properties) == 0 {
			e.Properties, _ = json.Marshal(extra)
		}
	}
	return rec, nil
}

// timestamp applies the tracking spec's rules: an explicit timestamp wins; otherwise
// originalTimestamp corrected for the device's clock skew by sentAt;
// otherwise the time of receipt.
func (p *trackSpecParser) timestamp(m trackSpecMessage, batchSentAt string) (time.Time, *Problem) {
	ts := p.receivedAt
	switch {
	case m.Timestamp != "":
		t, prob := parseTime(m.Timestamp, "timestamp")
		if prob != nil {
			return ts, prob
		}
		ts = t
	case m.OriginalTimestamp != "":
		orig, prob := parseTime(m.OriginalTimestamp, "originalTimestamp")
		if prob != nil {
			return ts, prob
		}
		ts = orig
		sent := m.SentAt
		if sent == "" {
			sent = batchSentAt
		}
		if sent != "" {
			s, prob := parseTime(sent, "sentAt")
			if prob != nil {
				return ts, prob
			}
			ts = p.receivedAt.Add(-s.Sub(orig))
		}
	}
	if ts.After(p.receivedAt.Add(MaxFuture)) {
		return ts, invalid("timestamp", "%s is more than %s in the future", ts.Format(time.RFC3339), MaxFuture)
	}
	if ts.Before(p.receivedAt.Add(-MaxPast)) {
		return ts, invalid("timestamp", "%s is more than three years in the past", ts.Format(time.RFC3339))
	}
	return ts, nil
}

// identifiers collects the message's identifiers (userId, anonymousId,
// traits.phone/email, context.externalIds), protects phones and masks
// phone-like keys in traits and properties.
func (p *trackSpecParser) identifiers(rec *Record, m *trackSpecMessage, batchContext json.RawMessage, fast bool) *Problem {
	str := idReader(fast)
	e := rec.Event
	add := func(typ, value, field string) *Problem {
		if value == "" {
			return nil
		}
		return addIdentifier(p.protector, rec, &e.IDs, typ, value, field)
	}
	if e.UserID != "" && !identity.Blocked(e.UserID) {
		if err := add(identity.UserID, e.UserID, "userId"); err != nil {
			return err
		}
	}
	if e.AnonymousID != "" && !identity.Blocked(e.AnonymousID) {
		if err := add(identity.AnonymousID, e.AnonymousID, "anonymousId"); err != nil {
			return err
		}
	}
	ctxRaw := m.Context
	if len(ctxRaw) == 0 {
		ctxRaw = batchContext
	}
	var ctx trackSpecContext
	switch {
	case len(ctxRaw) == 0 || string(ctxRaw) == "null":
	case fast:
		if !scanContext(ctxRaw, &ctx) {
			return errSlowPath
		}
	default:
		if err := json.Unmarshal(ctxRaw, &ctx); err != nil {
			return invalid("context", "must be an object with externalIds as [{id, type}]")
		}
	}
	for i, x := range ctx.ExternalIDs {
		typ := strings.ToLower(strings.TrimSpace(x.Type))
		if t, ok := externalIDTypes[typ]; ok {
			typ = t
		}
		if !identity.KnownType(typ) {
			return invalid(externalIDField(i, "type"), "unknown identifier type %q (known: %s)", x.Type, strings.Join(identity.Types, ", "))
		}
		field := externalIDField(i, "id")
		id, prob := str(x.ID, field)
		if prob != nil {
			return prob
		}
		if id == "" {
			return invalid(field, "is empty")
		}
		if err := add(typ, id, field); err != nil {
			return err
		}
	}
	traits := m.Traits
	if len(traits) == 0 && len(ctx.Traits) > 0 {
		traits = ctx.Traits
	}
	var err *Problem
	if e.Traits, err = p.scrub(traits, "traits", add, fast); err != nil {
		return err
	}
	if e.Properties, err = p.scrub(m.Properties, "properties", nil, fast); err != nil {
		return err
	}
	e.Context = nonNull(ctxRaw)
	if len(e.IDs) == 0 {
		return invalid("userId", "a message needs userId, anonymousId, a phone or context.externalIds")
	}
	return nil
}

// externalIDIDFields are the names of the first context.externalIds' id
// fields, made once rather than for each message.
var externalIDIDFields = func() (f [8]string) {
	for i := range f {
		f[i] = fmt.Sprintf("context.externalIds[%d].id", i)
	}
	return f
}()

// externalIDField names field leaf ("id", "type") of context.externalIds[i].
func externalIDField(i int, leaf string) string {
	if leaf == "id" && i < len(externalIDIDFields) {
		return externalIDIDFields[i]
	}
	return fmt.Sprintf("context.externalIds[%d].%s", i, leaf)
}

// scrub checks that raw is a JSON object, masks phone-like keys and, when
// add is given, turns traits' phone and email into identifiers.
func (p *trackSpecParser) scrub(raw json.RawMessage, field string, add func(typ, value, field string) *Problem, fast bool) (json.RawMessage, *Problem) {
	raw = nonNull(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, invalid(field, "must be a JSON object")
	}
	var interesting bool
	if fast {
		interesting = scrubKeyIn(raw, add != nil)
	} else {
		lower := bytes.ToLower(raw)
		interesting = add != nil && bytes.Contains(lower, []byte(`"email"`))
		for _, k := range identity.PhoneTraitKeys {
			if bytes.Contains(lower, []byte(`"`+k+`"`)) {
				interesting = true
			}
		}
	}
	if !interesting {
		return raw, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, invalid(field, "must be a JSON object")
	}
	// In key order, so that identifiers come in one order and the first
	// bad one is the one reported, whatever the map's order.
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		s, ok := v.(string)
		if !ok {
			if f, isNum := v.(float64); isNum {
				s = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
		key := strings.ToLower(k)
		switch {
		case identity.PhoneTraitKey(key) && s != "":
			if add != nil {
				if err := add(identity.Phone, s, field+"."+k); err != nil {
					return nil, err
				}
			}
			if e164, err := identity.NormalizePhone(s); err == nil {
				obj[k] = identity.MaskPhone(e164)
			} else {
				obj[k] = "***"
			}
		case key == "email" && add != nil && s != "":
			if err := add(identity.Email, s, field+"."+k); err != nil {
				return nil, err
			}
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, invalid(field, "%v", err)
	}
	return out, nil
}

func nonNull(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

func jsonProblem(err error) *Problem {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		return invalid(typ.Field, "must be %s, not %s", typ.Type, typ.Value)
	case errors.As(err, &syn):
		return &Problem{Code: "invalid_json", Message: fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)}
	}
	return &Problem{Code: "invalid_json", Message: "invalid JSON: " + err.Error()}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addIdentifier normalises an identifier and adds it to ids unless already
// there; a phone number is protected (its hash goes into ids, the
// protected forms into the record's vault).
func addIdentifier(prot *identity.Protector, rec *Record, ids *[]identity.Identifier, typ, value, field string) *Problem {
	v, err := identity.Normalize(typ, value)
	if err != nil {
		return invalid(field, "%v", err)
	}
	if typ == identity.Phone {
		pr, err := prot.ProtectPhone(v)
		if err != nil {
			return invalid(field, "%v", err)
		}
		rec.Vault = append(rec.Vault, pr)
		v = pr.Hash
	}
	for _, id := range *ids {
		if id.Type == typ && id.Value == v {
			return nil
		}
	}
	*ids = append(*ids, identity.Identifier{Type: typ, Value: v})
	return nil
}
