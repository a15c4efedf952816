package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/identity"
)

// Channels where orders come from.
var Channels = map[string]bool{"tmall": true, "douyin_shop": true, "group_buy": true, "pos": true, "phone": true, "mini_program": true}

// OrderStatuses an order passes through.
var OrderStatuses = map[string]bool{"created": true, "paid": true, "shipped": true, "completed": true, "refunded": true, "cancelled": true}

// orderJSON is an order as POST /v1/orders and order files carry it.
type orderJSON struct {
	Channel     string                `json:"channel"`
	OrderID     json.RawMessage       `json:"order_id"`
	Version     *uint64               `json:"version"`
	Status      string                `json:"status"`
	OrderedAt   string                `json:"ordered_at"`
	StatusAt    string                `json:"status_at"`
	Amount      *decimal.Decimal      `json:"amount"`
	Currency    string                `json:"currency"`
	Province    string                `json:"province"`
	City        string                `json:"city"`
	StoreID     string                `json:"store_id"`
	LeaderID    string                `json:"leader_id"`
	Buyer       map[string]any        `json:"buyer"`
	Identifiers []identity.Identifier `json:"identifiers"`
	Lines       []orderLineJSON       `json:"lines"`
}

type orderLineJSON struct {
	SKU         string           `json:"sku"`
	ProductName string           `json:"product_name"`
	Category    string           `json:"category"`
	Quantity    *decimal.Decimal `json:"quantity"`
	UnitPrice   *decimal.Decimal `json:"unit_price"`
	Amount      *decimal.Decimal `json:"amount"`
}

// maxOrderLines bounds one order; a household order has a handful.
const maxOrderLines = 500

// parseOrder validates one order and returns the first problem it finds.
func (c *Collector) parseOrder(raw json.RawMessage, source string, receivedAt time.Time) (*Record, *Problem) {
	return c.parseOrderScanned(raw, nil, source, receivedAt)
}

// parseOrderScanned is parseOrder with scanned the order as scanOrders
// decoded it from raw (nil: decode raw with encoding/json here).
func (c *Collector) parseOrderScanned(raw json.RawMessage, scanned *orderJSON, source string, receivedAt time.Time) (*Record, *Problem) {
	var in orderJSON
	var prob *Problem
	if scanned != nil && len(raw) <= MaxEventBytes {
		in = *scanned
	} else if in, prob = decodeOrder(raw); prob != nil {
		return nil, prob
	}
	o := &Order{Channel: strings.TrimSpace(in.Channel), Status: strings.TrimSpace(in.Status), Currency: in.Currency,
		Province: in.Province, City: in.City, StoreID: in.StoreID, LeaderID: in.LeaderID, Source: source, ReceivedAt: receivedAt}
	if prob := orderKey(o, &in); prob != nil {
		return nil, prob
	}
	if prob := orderTimes(o, &in, receivedAt); prob != nil {
		return nil, prob
	}
	if prob := orderAmount(o, &in); prob != nil {
		return nil, prob
	}
	if prob := orderLines(o, &in); prob != nil {
		return nil, prob
	}
	if prob := orderPlaces(o); prob != nil {
		return nil, prob
	}
	rec := &Record{Kind: KindOrder, Order: o}
	if prob := c.buyerIDs(rec, in); prob != nil {
		return nil, prob
	}
	return rec, nil
}

// decodeOrder decodes one order of at most MaxEventBytes, refusing unknown
// fields by name.
func decodeOrder(raw json.RawMessage) (orderJSON, *Problem) {
	var in orderJSON
	if len(raw) > MaxEventBytes {
		return in, &Problem{Code: "too_large", Message: fmt.Sprintf("order is %d bytes; the limit is %d", len(raw), MaxEventBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return in, invalid(f, "unknown field")
		}
		return in, jsonProblem(err)
	}
	return in, nil
}

// orderKey checks the channel, the order id and the status.
func orderKey(o *Order, in *orderJSON) *Problem {
	if !Channels[o.Channel] {
		return invalid("channel", "must be one of tmall, douyin_shop, group_buy, pos, phone, mini_program; got %q", in.Channel)
	}
	var prob *Problem
	if o.OrderID, prob = stringOrNumber(in.OrderID, "order_id"); prob != nil {
		return prob
	}
	if o.OrderID == "" || len(o.OrderID) > 128 {
		return invalid("order_id", "is required (at most 128 characters)")
	}
	if !OrderStatuses[o.Status] {
		return invalid("status", "must be one of created, paid, shipped, completed, refunded, cancelled; got %q", in.Status)
	}
	return nil
}

// orderTimes sets the order and status times, neither beyond MaxFuture of
// receipt, and the version: the one given, or else the status time in
// milliseconds, so that later status times win.
func orderTimes(o *Order, in *orderJSON, receivedAt time.Time) *Problem {
	if in.OrderedAt == "" {
		return invalid("ordered_at", "is required")
	}
	var prob *Problem
	if o.OrderedAt, prob = parseTime(in.OrderedAt, "ordered_at"); prob != nil {
		return prob
	}
	o.StatusAt = o.OrderedAt
	if in.StatusAt != "" {
		if o.StatusAt, prob = parseTime(in.StatusAt, "status_at"); prob != nil {
			return prob
		}
	}
	// ordered_at is checked first, so a body with both in the future is
	// always told about the same field (a map's order would pick at random).
	for _, c := range [...]struct {
		field string
		t     time.Time
	}{{"ordered_at", o.OrderedAt}, {"status_at", o.StatusAt}} {
		if c.t.After(receivedAt.Add(MaxFuture)) {
			return invalid(c.field, "%s is more than %s in the future", c.t.Format(time.RFC3339), MaxFuture)
		}
	}
	// Without an explicit version, later status times win.
	o.Version = uint64(o.StatusAt.UnixMilli())
	if in.Version != nil {
		o.Version = *in.Version
	}
	return nil
}

// orderAmount sets the currency (CNY when none is given) and the amount,
// which is required and not negative.
func orderAmount(o *Order, in *orderJSON) *Problem {
	if o.Currency == "" {
		o.Currency = "CNY"
	}
	if !isCurrencyCode(o.Currency) {
		return invalid("currency", "must be a three-letter ISO 4217 code in capitals such as CNY; got %q", o.Currency)
	}
	if in.Amount == nil {
		return invalid("amount", "is required")
	}
	if in.Amount.IsNegative() {
		return invalid("amount", "must not be negative")
	}
	o.Amount = *in.Amount
	return nil
}

// orderLines sets the order's lines, at most maxOrderLines.
func orderLines(o *Order, in *orderJSON) *Problem {
	if len(in.Lines) > maxOrderLines {
		return invalid("lines", "more than %d lines", maxOrderLines)
	}
	for i, l := range in.Lines {
		line, prob := parseOrderLine(l, i)
		if prob != nil {
			return prob
		}
		o.Lines = append(o.Lines, line)
	}
	return nil
}

// orderPlaces bounds the province, city, store and leader to 128
// characters.
func orderPlaces(o *Order) *Problem {
	for _, s := range []struct{ v, f string }{{o.Province, "province"}, {o.City, "city"}, {o.StoreID, "store_id"}, {o.LeaderID, "leader_id"}} {
		if utf8.RuneCountInString(s.v) > 128 {
			return invalid(s.f, "longer than 128 characters")
		}
	}
	return nil
}

// isCurrencyCode tells an ISO 4217 code: three capital latin letters.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func parseOrderLine(l orderLineJSON, i int) (OrderLine, *Problem) {
	f := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
	line := OrderLine{LineNo: uint16(i + 1), SKU: strings.TrimSpace(l.SKU), ProductName: l.ProductName, Category: strings.TrimSpace(l.Category)}
	if line.SKU == "" {
		return line, invalid(f("sku"), "is required")
	}
	if l.Quantity == nil || !l.Quantity.IsPositive() {
		return line, invalid(f("quantity"), "must be a positive number")
	}
	line.Quantity = *l.Quantity
	if l.UnitPrice == nil || l.UnitPrice.IsNegative() {
		return line, invalid(f("unit_price"), "is required and must not be negative")
	}
	line.UnitPrice = *l.UnitPrice
	if l.Amount != nil {
		if l.Amount.IsNegative() {
			return line, invalid(f("amount"), "must not be negative")
		}
		line.Amount = *l.Amount
	} else {
		line.Amount = line.UnitPrice.Mul(line.Quantity).Round(2)
	}
	return line, nil
}

// buyerKeys maps buyer object keys to identifier types.
var buyerKeys = map[string]string{
	"phone": identity.Phone, "mobile": identity.Phone, "unionid": identity.UnionID, "openid": identity.OpenID,
	"douyin_openid": identity.DouyinOpenID, "wecom_external_userid": identity.WeComExternalUserID,
	"member_no": identity.MemberNo, "tmall_ouid": identity.TmallOUID, "email": identity.Email, "user_id": identity.UserID,
}

func (c *Collector) buyerIDs(rec *Record, in orderJSON) *Problem {
	o := rec.Order
	add := func(typ, value, field string) *Problem {
		return addIdentifier(c.prot, rec, &o.IDs, typ, value, field)
	}
	// In key order, so that identifiers come in one order and the first
	// bad one is the one reported, whatever the map's order.
	for _, k := range slices.Sorted(maps.Keys(in.Buyer)) {
		v := in.Buyer[k]
		typ, ok := buyerKeys[k]
		if !ok {
			return invalid("buyer."+k, "unknown buyer identifier (known: phone, unionid, openid, douyin_openid, wecom_external_userid, member_no, tmall_ouid, email, user_id)")
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = decimal.NewFromFloat(x).String()
		default:
			return invalid("buyer."+k, "must be a string")
		}
		if err := add(typ, s, "buyer."+k); err != nil {
			return err
		}
	}
	for i, id := range in.Identifiers {
		if err := add(id.Type, id.Value, fmt.Sprintf("identifiers[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

type orderBatch struct {
	Orders []json.RawMessage `json:"orders"`
}

// decodeOrders splits a trimmed orders body into its orders: with fast,
// by scanOrders when it takes the body, else by encoding/json, the
// reference (whose problems are the answer).
func decodeOrders(trimmed []byte, fast bool) (*scannedOrders, *Problem) {
	s := new(scannedOrders)
	if fast && scanOrders(trimmed, s) {
		return s, nil
	}
	var b orderBatch
	if err := json.Unmarshal(trimmed, &b); err != nil {
		return nil, jsonProblem(err)
	}
	// A single order has no "orders" key (unknown keys are refused).
	s = &scannedOrders{batch: b.Orders != nil, raws: b.Orders}
	if !s.batch {
		s.raws = []json.RawMessage{trimmed}
	} else if len(s.raws) == 0 {
		return nil, invalid("orders", "must be a non-empty array")
	}
	return s, nil
}

// Orders accepts one order object or {"orders": [...]}. Each order is
// applied idempotently per (channel, order_id) and version: resending a
// version changes nothing, a higher version replaces a lower one.
func (c *Collector) Orders(ctx context.Context, source string, body []byte) (Result, error) {
	if err := checkBody(body); err != nil {
		return Result{}, err
	}
	now := c.now().UTC()
	s, prob := decodeOrders(bytes.TrimSpace(body), true)
	if prob != nil {
		return Result{}, prob
	}
	items := make([]item, 0, len(s.raws))
	for k, raw := range s.raws {
		rec, prob := c.parseOrderScanned(raw, s.order(k), source, now)
		items = append(items, c.item(rec, prob, raw))
	}
	if !s.batch && items[0].problem != nil {
		c.deadLetter(ctx, source, "/v1/orders", items)
		return Result{}, items[0].problem
	}
	return c.accept(ctx, source, "/v1/orders", items)
}
