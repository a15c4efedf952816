package ingest

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// orderSeeds are /v1/orders bodies: FuzzOrder's seeds, the shapes of the
// ingest tests' orders, batches, and what the scanner must leave to
// encoding/json.
var orderSeeds = []string{
	futureOrder,
	`{"channel":"tmall","order_id":"T1","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":"9.9","buyer":{"phone":"13900001111"},"lines":[{"sku":"a","quantity":2,"unit_price":"1.5"}]}`,
	`{"channel":"pos","order_id":7,"version":3,"status":"refunded","ordered_at":"2026-11-11 08:00:00+08:00","amount":0}`,
	`{"channel":"taobao","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"lines":[{"sku":"a","quantity":0,"unit_price":1}]}`,
	`{"channel":"douyin_shop","order_id":"R-1","status":"completed","ordered_at":"2026-11-11T00:00:00Z","status_at":"2026-11-12T00:00:00Z","amount":"59.00","city":"杭州","province":"浙江","store_id":"s","leader_id":"l","currency":"CNY","buyer":{"member_no":"M1","unionid":"U1","email":"A@B.cn"},"identifiers":[{"type":"user_id","value":"u9"}],"lines":[{"sku":"oil-5l","product_name":"菜籽油","category":"oil","quantity":"1","unit_price":"59.00","amount":59}]}`,
	`{"orders":[{"channel":"tmall","order_id":"T1","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":"9.9","buyer":{"phone":"13900001111","mobile":13900002222}},{"channel":"pos","order_id":"x","status":"paid"}]}`,
	`{"orders":[]}`,
	`{"orders":null,"channel":"pos"}`,
	`{"orders":[1]}`,
	`{"ORDERS":[{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1}]}`,
	`{"Channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1}`,
	`{"channel":"pos","channel":"tmall","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"note":"x"}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"version":-1}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":"1e2","version":1.0,"buyer":{"phone":true}}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":null,"buyer":{"x":"1","phone":"1"}}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"identifiers":[{"type":"email","value":"a@b.cn","x":1}]}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"lines":[{"sku":"a","quantity":1,"unit_price":1,"SKU":"b"}]}`,
	`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1} x`,
}

// decodeOrdersWith decodes an orders body as Collector.Orders does, with
// the reference decoder or the fast one.
func decodeOrdersWith(c *Collector, fast bool, body []byte, now time.Time) []string {
	s, prob := decodeOrders(bytes.TrimSpace(body), fast)
	if prob != nil {
		return []string{describeOrder(nil, prob)}
	}
	out := []string{fmt.Sprint("batch ", s.batch)}
	for k, raw := range s.raws {
		out = append(out, describeOrder(c.parseOrderScanned(raw, s.order(k), "fuzz", now)))
	}
	return out
}

func describeOrder(rec *Record, prob *Problem) string {
	if prob != nil {
		return fmt.Sprintf("problem %q %q %q", prob.Code, prob.Field, prob.Message)
	}
	var vault []string
	for _, v := range rec.Vault {
		vault = append(vault, v.Hash+" "+v.Masked)
	}
	return fmt.Sprintf("record %+v vault=%v", *rec.Order, vault)
}

func checkSameOrders(t testing.TB, c *Collector, body []byte) {
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	want := decodeOrdersWith(c, false, body, now)
	got := decodeOrdersWith(c, true, bytes.Clone(body), now)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nfast      %v\nreference %v", body, got, want)
	}
}

// FuzzOrdersDifferential: the fast decoder gives exactly the orders and
// problems of the reference decoder (encoding/json) for any body.
func FuzzOrdersDifferential(f *testing.F) {
	for _, s := range orderSeeds {
		f.Add([]byte(s))
	}
	c := &Collector{prot: fuzzProtector(f)}
	f.Fuzz(func(t *testing.T, body []byte) { checkSameOrders(t, c, body) })
}

// TestOrdersScanMatchesReference runs the differential check on the seeds
// and on every one-byte deletion, duplication and replacement of them.
func TestOrdersScanMatchesReference(t *testing.T) {
	c := &Collector{prot: fuzzProtector(t)}
	for _, s := range orderSeeds {
		for _, v := range mutations([]byte(s)) {
			checkSameOrders(t, c, v)
		}
	}
}

// futureOrder has no status_at, so its status time is its order time: both
// are in the future, and the problem must name ordered_at every time (it
// once came from a map's iteration order, found by the fuzzer in CI).
const futureOrder = `{"channel":"pos","order_id":"x","status":"paid","ordered_at":"6026-11-11T00:00:00Z","amount":null,"buyer":{"x":"1","phone":"1"}}`

func TestFutureOrderNamesOrderedAtEveryTime(t *testing.T) {
	c := &Collector{prot: fuzzProtector(t)}
	for i := 0; i < 64; i++ {
		got := decodeOrdersWith(c, false, []byte(futureOrder), time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
		if len(got) != 2 || !strings.Contains(got[1], `"ordered_at"`) {
			t.Fatalf("try %d: %v, want a problem naming ordered_at", i, got)
		}
		checkSameOrders(t, c, []byte(futureOrder))
	}
}
