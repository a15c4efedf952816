package ingest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/identity"
)

// Spooled records are written in a compact binary form: encoding/json
// cost a quarter of ingest's CPU (profile in docs/ingest.md). Its first
// byte is recordFormat; a record an older version spooled as JSON begins
// with '{' and is still read. Dead letters stay JSON (they are rare and
// carry a free-form problem).
//
// After the format byte and the kind byte, fields follow in the order of
// their struct, each as:
//   - string, json.RawMessage: uvarint length, bytes;
//   - integers (Version, LineNo): uvarint;
//   - time.Time: varint Unix seconds, uvarint nanoseconds (read back in UTC);
//   - decimal.Decimal: its MarshalBinary, length-prefixed;
//   - slices: uvarint count, elements; a nil ToList is count 0 with a
//     flag so that it reads back nil.
//
// The vault's protected phones come last. Adding a field to a record
// type means adding it here, in encodeBinary and decodeBinary (the
// round-trip test fills every field by reflection and fails otherwise).
const recordFormat = 1

var errShort = errors.New("record truncated")

func encodeRecord(r *Record) ([]byte, error) {
	if r.Kind == KindDeadLetter {
		return json.Marshal(r)
	}
	return appendRecord(make([]byte, 0, 256), r)
}

// appendRecord appends r's binary form to dst and returns the extended
// buffer; a request's records share one buffer this way instead of one
// allocation (and its growth) each. It takes no dead letters (those stay
// JSON: encodeRecord).
func appendRecord(dst []byte, r *Record) ([]byte, error) {
	e := recEncoder{buf: dst}
	e.buf = append(e.buf, recordFormat)
	switch r.Kind {
	case KindEvent:
		e.buf = append(e.buf, 'e')
		e.event(r.Event)
	case KindOrder:
		e.buf = append(e.buf, 'o')
		if err := e.order(r.Order); err != nil {
			return nil, err
		}
	case KindContact:
		e.buf = append(e.buf, 'c')
		e.contact(r.Contact)
	case KindMessage:
		e.buf = append(e.buf, 'm')
		e.message(r.Message)
	default:
		return nil, fmt.Errorf("BUG: record kind %q", r.Kind)
	}
	e.uint(uint64(len(r.Vault)))
	for _, v := range r.Vault {
		e.str(v.Hash)
		e.str(v.Masked)
		e.str(v.Ciphertext)
	}
	return e.buf, nil
}

func decodeRecord(b []byte) (*Record, error) {
	if len(b) > 0 && b[0] == '{' {
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("BUG: spooled record undecodable: %w", err)
		}
		return &r, nil
	}
	r, err := decodeBinary(b)
	if err != nil {
		return nil, fmt.Errorf("BUG: spooled record undecodable: %w", err)
	}
	return r, nil
}

func decodeBinary(b []byte) (*Record, error) {
	if len(b) < 2 || b[0] != recordFormat {
		return nil, fmt.Errorf("unknown record format %x", b[:min(len(b), 1)])
	}
	d := recDecoder{buf: b[2:]}
	r := &Record{}
	switch b[1] {
	case 'e':
		r.Kind, r.Event = KindEvent, d.event()
	case 'o':
		r.Kind, r.Order = KindOrder, d.order()
	case 'c':
		r.Kind, r.Contact = KindContact, d.contact()
	case 'm':
		r.Kind, r.Message = KindMessage, d.message()
	default:
		return nil, fmt.Errorf("unknown record kind %q", b[1])
	}
	if n := d.count(); n > 0 {
		r.Vault = make([]identity.Protected, n)
		for i := range r.Vault {
			r.Vault[i] = identity.Protected{Hash: d.str(), Masked: d.str(), Ciphertext: d.str()}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("%d bytes after the record", len(d.buf))
	}
	return r, nil
}

type recEncoder struct{ buf []byte }

func (e *recEncoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *recEncoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *recEncoder) raw(b json.RawMessage) {
	e.uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *recEncoder) time(t time.Time) {
	e.buf = binary.AppendVarint(e.buf, t.Unix())
	e.uint(uint64(t.Nanosecond()))
}

func (e *recEncoder) dec(d decimal.Decimal) error {
	b, err := d.MarshalBinary()
	if err != nil {
		return err
	}
	e.uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
	return nil
}

func (e *recEncoder) ids(ids []identity.Identifier) {
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		e.str(id.Type)
		e.str(id.Value)
	}
}

func (e *recEncoder) event(v *Event) {
	e.str(v.MessageID)
	e.str(v.Type)
	e.str(v.Event)
	e.time(v.TS)
	e.time(v.ReceivedAt)
	e.str(v.Source)
	e.str(v.UserID)
	e.str(v.AnonymousID)
	e.ids(v.IDs)
	e.raw(v.Properties)
	e.raw(v.Traits)
	e.raw(v.Context)
}

func (e *recEncoder) order(v *Order) error {
	e.str(v.Channel)
	e.str(v.OrderID)
	e.uint(v.Version)
	e.str(v.Status)
	e.time(v.OrderedAt)
	e.time(v.StatusAt)
	if err := e.dec(v.Amount); err != nil {
		return err
	}
	for _, s := range []string{v.Currency, v.Province, v.City, v.StoreID, v.LeaderID} {
		e.str(s)
	}
	e.ids(v.IDs)
	e.uint(uint64(len(v.Lines)))
	for _, l := range v.Lines {
		e.uint(uint64(l.LineNo))
		e.str(l.SKU)
		e.str(l.ProductName)
		e.str(l.Category)
		for _, d := range []decimal.Decimal{l.Quantity, l.UnitPrice, l.Amount} {
			if err := e.dec(d); err != nil {
				return err
			}
		}
	}
	e.str(v.Source)
	e.time(v.ReceivedAt)
	return nil
}

func (e *recEncoder) contact(v *Contact) {
	e.str(v.DedupKey)
	e.time(v.TS)
	for _, s := range []string{v.ChangeType, v.CorpID, v.StaffUserID, v.ExternalUserID, v.State, v.Name, v.UnionID} {
		e.str(s)
	}
	e.time(v.ReceivedAt)
}

func (e *recEncoder) message(v *Message) {
	e.str(v.MsgID)
	e.str(v.Action)
	e.str(v.From)
	if v.ToList == nil {
		e.uint(0)
	} else {
		e.uint(uint64(len(v.ToList)) + 1)
		for _, s := range v.ToList {
			e.str(s)
		}
	}
	e.str(v.RoomID)
	e.time(v.MsgTime)
	for _, s := range []string{v.MsgType, v.Content, v.PreMsgID, v.ExternalUserID, v.StaffUserID, v.Body} {
		e.str(s)
	}
	e.time(v.ReceivedAt)
}

// recDecoder reads what recEncoder wrote; the first error sticks and
// every later read returns zero values.
type recDecoder struct {
	buf []byte
	err error
}

func (d *recDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads a length that must fit in what is left (each element takes
// at least a byte), so corrupt input cannot make a huge allocation.
func (d *recDecoder) count() int {
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.err = errShort
		return 0
	}
	return int(n)
}

func (d *recDecoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *recDecoder) str() string { return string(d.bytes()) }

func (d *recDecoder) raw() json.RawMessage {
	b := d.bytes()
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

func (d *recDecoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	sec, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errShort
		return time.Time{}
	}
	d.buf = d.buf[n:]
	ns := d.uint()
	if ns >= 1e9 {
		d.err = fmt.Errorf("nanoseconds %d out of range", ns)
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}

func (d *recDecoder) dec() decimal.Decimal {
	var v decimal.Decimal
	b := d.bytes()
	if d.err == nil {
		if err := v.UnmarshalBinary(b); err != nil {
			d.err = err
		}
	}
	return v
}

func (d *recDecoder) ids() []identity.Identifier {
	n := d.count()
	if n == 0 {
		return nil
	}
	ids := make([]identity.Identifier, n)
	for i := range ids {
		ids[i] = identity.Identifier{Type: d.str(), Value: d.str()}
	}
	return ids
}

func (d *recDecoder) event() *Event {
	return &Event{MessageID: d.str(), Type: d.str(), Event: d.str(), TS: d.time(), ReceivedAt: d.time(), Source: d.str(),
		UserID: d.str(), AnonymousID: d.str(), IDs: d.ids(), Properties: d.raw(), Traits: d.raw(), Context: d.raw()}
}

func (d *recDecoder) order() *Order {
	o := &Order{Channel: d.str(), OrderID: d.str(), Version: d.uint(), Status: d.str(), OrderedAt: d.time(), StatusAt: d.time(),
		Amount: d.dec(), Currency: d.str(), Province: d.str(), City: d.str(), StoreID: d.str(), LeaderID: d.str(), IDs: d.ids()}
	if n := d.count(); n > 0 {
		o.Lines = make([]OrderLine, n)
		for i := range o.Lines {
			no := d.uint()
			if no > math.MaxUint16 {
				d.err = fmt.Errorf("line number %d out of range", no)
			}
			o.Lines[i] = OrderLine{LineNo: uint16(no), SKU: d.str(), ProductName: d.str(), Category: d.str(),
				Quantity: d.dec(), UnitPrice: d.dec(), Amount: d.dec()}
		}
	}
	o.Source, o.ReceivedAt = d.str(), d.time()
	return o
}

func (d *recDecoder) contact() *Contact {
	return &Contact{DedupKey: d.str(), TS: d.time(), ChangeType: d.str(), CorpID: d.str(), StaffUserID: d.str(),
		ExternalUserID: d.str(), State: d.str(), Name: d.str(), UnionID: d.str(), ReceivedAt: d.time()}
}

func (d *recDecoder) message() *Message {
	m := &Message{MsgID: d.str(), Action: d.str(), From: d.str()}
	if n := d.uint(); n > 0 {
		if n-1 > uint64(len(d.buf)) {
			d.err = errShort
		} else {
			m.ToList = make([]string, n-1)
			for i := range m.ToList {
				m.ToList[i] = d.str()
			}
		}
	}
	m.RoomID, m.MsgTime = d.str(), d.time()
	m.MsgType, m.Content, m.PreMsgID, m.ExternalUserID, m.StaffUserID, m.Body = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	m.ReceivedAt = d.time()
	return m
}
