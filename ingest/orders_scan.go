package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/identity"
)

// The fast decoder of /v1/orders bodies, on the same terms as the
// tracking spec's (trackspec_scan.go): it fills orderJSON as
// json.Decoder with DisallowUnknownFields would, in one pass, and leaves
// anything else (an unknown, repeated or case-folded key, a value of the
// wrong type, invalid JSON) to encoding/json, the reference
// (FuzzOrdersDifferential).

var (
	orderKeys = []string{"channel", "order_id", "version", "status", "ordered_at", "status_at", "amount",
		"currency", "province", "city", "store_id", "leader_id", "buyer", "identifiers", "lines"}
	orderLineKeys  = []string{"sku", "product_name", "category", "quantity", "unit_price", "amount"}
	orderBatchKeys = []string{"orders"}
)

// scanOrder decodes the order object at raw[i] into in, or returns -1.
// Unlike scanFields' other users, an unknown key is refused: the
// reference names it in its problem.
func scanOrder(raw []byte, i, depth int, in *orderJSON) int {
	return scanKnownFields(raw, i, depth, orderKeys, in.set)
}

// scanKnownFields is scanFields refusing unknown keys.
func scanKnownFields(raw []byte, i, depth int, names []string, set func(n int, v []byte) bool) int {
	return scanFields(raw, i, depth, names, set, false)
}

// set stores the value of orderKeys[n].
func (in *orderJSON) set(n int, v []byte) bool {
	strs := [...]*string{0: &in.Channel, 3: &in.Status, 4: &in.OrderedAt, 5: &in.StatusAt, 7: &in.Currency,
		8: &in.Province, 9: &in.City, 10: &in.StoreID, 11: &in.LeaderID, 14: nil}
	switch n {
	case 1:
		in.OrderID = v
	case 2:
		return uint64Value(v, &in.Version)
	case 6:
		return decimalValue(v, &in.Amount)
	case 12:
		return buyerValue(v, &in.Buyer)
	case 13:
		return identifiersValue(v, &in.Identifiers)
	case 14:
		return in.setLines(v)
	default:
		return stringValue(v, strs[n])
	}
	return true
}

// setLines decodes "lines": null or an array of line objects.
func (in *orderJSON) setLines(v []byte) bool {
	if isNull(v) {
		return true
	}
	if v[0] != '[' {
		return false
	}
	return scanArray(v, 0, 2, func(x []byte) bool {
		in.Lines = append(in.Lines, orderLineJSON{})
		return x[0] == '{' && scanKnownFields(x, 0, 3, orderLineKeys, in.Lines[len(in.Lines)-1].set) >= 0
	}) >= 0
}

// set stores the value of orderLineKeys[n].
func (l *orderLineJSON) set(n int, v []byte) bool {
	if n < 3 {
		return stringValue(v, [...]*string{&l.SKU, &l.ProductName, &l.Category}[n])
	}
	return decimalValue(v, [...]**decimal.Decimal{&l.Quantity, &l.UnitPrice, &l.Amount}[n-3])
}

// identifiersValue decodes "identifiers" with encoding/json, refusing
// unknown fields as the reference does.
func identifiersValue(v []byte, dst *[]identity.Identifier) bool {
	if isNull(v) {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	return dec.Decode(dst) == nil
}

// uint64Value decodes a *uint64 field: null leaves nil, an integer in
// range is stored; anything else is refused.
func uint64Value(v []byte, dst **uint64) bool {
	if isNull(v) {
		return true
	}
	u, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return false
	}
	*dst = &u
	return true
}

// decimalValue decodes a *decimal.Decimal field as encoding/json does:
// null leaves nil, anything else goes to Decimal.UnmarshalJSON.
func decimalValue(v []byte, dst **decimal.Decimal) bool {
	if isNull(v) {
		return true
	}
	d := new(decimal.Decimal)
	if d.UnmarshalJSON(v) != nil {
		return false
	}
	*dst = d
	return true
}

// buyerValue decodes the buyer object when its keys are plain and its
// values strings or numbers (as encoding/json decodes them into any).
func buyerValue(v []byte, dst *map[string]any) bool {
	if isNull(v) {
		return true
	}
	if v[0] != '{' {
		return false
	}
	m := make(map[string]any, 4)
	end := scanObject(v, 0, 2, func(key []byte, escaped bool, x []byte) bool {
		if escaped || !utf8.Valid(key) {
			return false
		}
		switch {
		case x[0] == '"':
			var s string
			if !stringValue(x, &s) {
				return false
			}
			m[string(key)] = s
		case x[0] == '-' || isDigit(x[0]):
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return false
			}
			m[string(key)] = f
		default:
			return false
		}
		return true
	})
	*dst = m
	return end >= 0
}

// scannedOrders is an orders body as decodeOrders read it: the orders'
// raw bytes and, for those the scanner decoded, their fields.
type scannedOrders struct {
	raws    []json.RawMessage
	orders  []orderJSON
	scanned []bool
	batch   bool // {"orders": [...]} rather than one order
}

// order returns raws[k] as the scanner decoded it, or nil.
func (s *scannedOrders) order(k int) *orderJSON {
	if k < len(s.scanned) && s.scanned[k] {
		return &s.orders[k]
	}
	return nil
}

// scanOrders decodes a trimmed orders body in one pass when it is a batch
// of objects or one order the scanner takes, or returns false.
func scanOrders(body []byte, s *scannedOrders) bool {
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	if !bytes.Contains(body, []byte(`"orders"`)) {
		s.orders = make([]orderJSON, 1)
		s.raws, s.scanned = []json.RawMessage{body}, []bool{true}
		return scanOrder(body, 0, 1, &s.orders[0]) == len(body)
	}
	end := scanFields(body, 0, 1, orderBatchKeys, func(n int, v []byte) bool {
		return n == 0 && s.scanArray(v)
	}, true)
	return end == len(body) && s.batch && len(s.raws) > 0
}

// scanArray reads the "orders" array v; a valid element the scanner
// declines is left to the reference decoder.
func (s *scannedOrders) scanArray(v []byte) bool {
	s.batch = true
	return scanObjects(v, func(i int) int {
		s.orders = append(s.orders, orderJSON{})
		return scanOrder(v, i, 2, &s.orders[len(s.orders)-1])
	}, func(raw []byte, scanned bool) {
		s.raws, s.scanned = append(s.raws, raw), append(s.scanned, scanned)
	})
}
