package ingest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
)

func fuzzProtector(t testing.TB) *identity.Protector {
	p, err := identity.NewProtector(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzTrackSpecMessage: any input is either refused with a problem or turned
// into an event with an identifier, a name, and no phone number in clear.
func FuzzTrackSpecMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","event":"video_complete","userId":"u1","properties":{"topic":"控糖"}}`,
		`{"type":"identify","userId":123,"traits":{"phone":"13812345678","email":"A@B.CN"}}`,
		`{"type":"page","anonymousId":"a","originalTimestamp":"2026-11-20T09:00:00Z","sentAt":"2026-11-20T09:00:10Z"}`,
		`{"type":"track","event":"x","context":{"externalIds":[{"id":"1","type":"douyin_openid"}]}}`,
		`{"type":"alias","userId":"u","previousId":"p"}`,
	} {
		f.Add([]byte(s))
	}
	p := &trackSpecParser{source: "fuzz", receivedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), protector: fuzzProtector(f)}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, prob := p.parse(data, "", "", nil)
		if (rec == nil) == (prob == nil) {
			t.Fatalf("parse gave record %v and problem %v", rec, prob)
		}
		if prob != nil {
			if prob.Message == "" || prob.Code == "" {
				t.Fatalf("problem without code or message: %+v", prob)
			}
			return
		}
		e := rec.Event
		if len(e.IDs) == 0 || e.Event == "" || e.MessageID == "" {
			t.Fatalf("accepted an event without ids, name or id: %+v", e)
		}
		for _, id := range e.IDs {
			if id.Type == identity.Phone && (len(id.Value) < 2 || id.Value[:2] != "h:") {
				t.Fatalf("phone stored unhashed: %q", id.Value)
			}
		}
		if _, err := encodeRecord(rec); err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		for _, raw := range [][]byte{e.Properties, e.Traits, e.Context} {
			if len(raw) > 0 && !json.Valid(raw) {
				t.Fatalf("stored invalid JSON %q", raw)
			}
		}
	})
}

// FuzzOrder: any order is refused with a problem naming a field or
// accepted with a channel, id, status and non-negative amounts.
func FuzzOrder(f *testing.F) {
	f.Add([]byte(`{"channel":"tmall","order_id":"T1","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":"9.9","buyer":{"phone":"13900001111"},"lines":[{"sku":"a","quantity":2,"unit_price":"1.5"}]}`))
	f.Add([]byte(`{"channel":"pos","order_id":7,"version":3,"status":"refunded","ordered_at":"2026-11-11 08:00:00+08:00","amount":0}`))
	c := &Collector{prot: fuzzProtector(f)}
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, prob := c.parseOrder(data, "fuzz", now)
		if (rec == nil) == (prob == nil) {
			t.Fatalf("parseOrder gave %v and %v", rec, prob)
		}
		if prob != nil {
			return
		}
		o := rec.Order
		if !Channels[o.Channel] || o.OrderID == "" || !OrderStatuses[o.Status] || o.Amount.IsNegative() {
			t.Fatalf("accepted a bad order: %+v", o)
		}
		for _, l := range o.Lines {
			if l.SKU == "" || !l.Quantity.IsPositive() || l.Amount.IsNegative() {
				t.Fatalf("accepted a bad line: %+v", l)
			}
		}
	})
}

// FuzzImportCSV: a CSV file never crashes the reader; every row it yields
// is JSON.
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("openid,topic\ndy_1,控糖\n"), false)
	f.Add([]byte("channel,order_id,line.sku\npos,1,a\npos,1,b\npos,2,c\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, orders bool) {
		spec := ImportSpec{Kind: "events", Format: "csv", Event: "e"}
		if orders {
			spec.Kind = "orders"
			spec.Mapping = nil
		}
		next, err := csvRows(bytes.NewReader(data), spec)
		if err != nil {
			return
		}
		for n := 0; n < 10_000; n++ {
			row, err := next()
			if err != nil {
				return
			}
			if row.prob == nil && !json.Valid(row.raw) {
				t.Fatalf("row is not JSON: %q", row.raw)
			}
		}
	})
}

// FuzzImportJSONLines: lines come back whole and in order.
func FuzzImportJSONLines(f *testing.F) {
	f.Add([]byte("{\"event\":\"a\"}\n\n{\"event\":\"b\",\"type\":\"page\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		next := jsonLines(bytes.NewReader(data))
		last := 0
		for {
			_, line, _, err := next()
			if err != nil {
				return
			}
			if line <= last {
				t.Fatalf("line %d after %d", line, last)
			}
			last = line
		}
	})
}
