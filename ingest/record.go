// Package ingest brings records in: the events API (compatible with the
// Segment.com HTTP tracking spec, trackspec.go), platform exports, WeCom
// callbacks and chat archives, and orders. Each collector validates and
// normalises its input into a Record, appends it to the durable spool and
// only then acknowledges; the Pipeline moves spooled records into ClickHouse
// and trims the spool once ClickHouse confirmed.
package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/identity"
)

// Kind tells what a spooled record holds.
type Kind string

const (
	KindEvent      Kind = "event"
	KindOrder      Kind = "order"
	KindContact    Kind = "contact"
	KindMessage    Kind = "message"
	KindDeadLetter Kind = "dead_letter"
)

// Record is the normalised unit the spool stores: exactly one of the
// payload fields is set, as Kind says. Phone numbers never appear in clear:
// identifiers hold keyed hashes, any other string holds a mobile number as
// its token (see Collector.scrubRecord), and Vault the protected forms.
type Record struct {
	Kind       Kind                 `json:"k"`
	Event      *Event               `json:"e,omitempty"`
	Order      *Order               `json:"o,omitempty"`
	Contact    *Contact             `json:"c,omitempty"`
	Message    *Message             `json:"m,omitempty"`
	DeadLetter *DeadLetter          `json:"d,omitempty"`
	Vault      []identity.Protected `json:"v,omitempty"`
}

// Event is a behaviour event (tracking-spec track/page/screen/identify/group/alias).
type Event struct {
	MessageID   string                `json:"message_id"`
	Type        string                `json:"type"`
	Event       string                `json:"event"`
	TS          time.Time             `json:"ts"`
	ReceivedAt  time.Time             `json:"received_at"`
	Source      string                `json:"source"`
	UserID      string                `json:"user_id,omitempty"`
	AnonymousID string                `json:"anonymous_id,omitempty"`
	IDs         []identity.Identifier `json:"ids"`
	Properties  json.RawMessage       `json:"properties,omitempty"`
	Traits      json.RawMessage       `json:"traits,omitempty"`
	Context     json.RawMessage       `json:"context,omitempty"`
}

// Order is one version of an order (a status change, with or without lines).
type Order struct {
	Channel    string                `json:"channel"`
	OrderID    string                `json:"order_id"`
	Version    uint64                `json:"version"`
	Status     string                `json:"status"`
	OrderedAt  time.Time             `json:"ordered_at"`
	StatusAt   time.Time             `json:"status_at"`
	Amount     decimal.Decimal       `json:"amount"`
	Currency   string                `json:"currency"`
	Province   string                `json:"province,omitempty"`
	City       string                `json:"city,omitempty"`
	StoreID    string                `json:"store_id,omitempty"`
	LeaderID   string                `json:"leader_id,omitempty"`
	IDs        []identity.Identifier `json:"ids"`
	Lines      []OrderLine           `json:"lines,omitempty"`
	Source     string                `json:"source"`
	ReceivedAt time.Time             `json:"received_at"`
}

// OrderLine is one product line of an order.
type OrderLine struct {
	LineNo      uint16          `json:"line_no"`
	SKU         string          `json:"sku"`
	ProductName string          `json:"product_name"`
	Category    string          `json:"category"`
	Quantity    decimal.Decimal `json:"quantity"`
	UnitPrice   decimal.Decimal `json:"unit_price"`
	Amount      decimal.Decimal `json:"amount"`
}

// Contact is a WeCom customer-contact change.
type Contact struct {
	DedupKey       string    `json:"dedup_key"`
	TS             time.Time `json:"ts"`
	ChangeType     string    `json:"change_type"`
	CorpID         string    `json:"corp_id"`
	StaffUserID    string    `json:"staff_userid"`
	ExternalUserID string    `json:"external_userid"`
	State          string    `json:"state,omitempty"`
	Name           string    `json:"name,omitempty"`
	UnionID        string    `json:"unionid,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
}

// Message is a WeCom chat-archive message.
type Message struct {
	MsgID          string    `json:"msgid"`
	Action         string    `json:"action"`
	From           string    `json:"from"`
	ToList         []string  `json:"tolist"`
	RoomID         string    `json:"roomid,omitempty"`
	MsgTime        time.Time `json:"msgtime"`
	MsgType        string    `json:"msgtype"`
	Content        string    `json:"content,omitempty"`
	PreMsgID       string    `json:"pre_msgid,omitempty"`
	ExternalUserID string    `json:"external_userid,omitempty"`
	StaffUserID    string    `json:"staff_userid,omitempty"`
	Body           string    `json:"body,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
}

// DeadLetter is a refused record kept for inspection.
type DeadLetter struct {
	ReceivedAt time.Time `json:"received_at"`
	Source     string    `json:"source"`
	Endpoint   string    `json:"endpoint"`
	Position   int       `json:"position"`
	Problem
	Payload string `json:"payload"`
}

// Problem is why a record was refused: a stable code, the field, a message.
type Problem struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

func invalid(field, format string, args ...any) *Problem {
	return &Problem{Code: "invalid", Field: field, Message: fmt.Sprintf(format, args...)}
}
