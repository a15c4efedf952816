package ingest

import (
	"runtime"
	"testing"

	"github.com/granarycdp/cdp/gen"
)

// demoBatches returns the demo data set's items of kind (gen, as cdp
// bench sends them) as bodies of 100 (events: {"batch": [...]}, orders:
// {"orders": [...]}), and how many items they hold.
func demoBatches(b *testing.B, households int, kind gen.Kind) ([][]byte, int) {
	open := map[gen.Kind]string{gen.KindEvent: `{"batch":[`, gen.KindOrder: `{"orders":[`}[kind]
	g := gen.New(gen.Config{Seed: 7, Households: households})
	var bodies [][]byte
	body, n, total := []byte(open), 0, 0
	err := g.Each(func(it gen.Item) error {
		if it.Kind != kind {
			return nil
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, it.Data...)
		n++
		total++
		if n == 100 {
			bodies = append(bodies, append(body, "]}"...))
			body, n = []byte(open), 0
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return bodies, total - n
}

// perRecord runs decode over bodies and reports time, bytes and
// allocations per record.
func perRecord(b *testing.B, bodies [][]byte, records int, decode func(body []byte)) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		for _, body := range bodies {
			decode(body)
		}
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * records)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/record")
}

// BenchmarkOrdersDecode decodes the demo mix's /v1/orders bodies (as
// Collector.Orders does) with the reference decoder and the fast one, in
// the same run. Figures are per order.
func BenchmarkOrdersDecode(b *testing.B) {
	bodies, records := demoBatches(b, 2000, gen.KindOrder)
	c := &Collector{prot: fuzzProtector(b)}
	now := gen.New(gen.Config{}).Config().End.UTC()
	for _, fast := range []bool{false, true} {
		b.Run(map[bool]string{false: "reference", true: "fast"}[fast], func(b *testing.B) {
			perRecord(b, bodies, records, func(body []byte) {
				s, prob := decodeOrders(body, fast)
				if prob != nil {
					b.Fatal(prob)
				}
				for k, raw := range s.raws {
					if _, prob := c.parseOrderScanned(raw, s.order(k), "bench", now); prob != nil {
						b.Fatalf("%s: %v", raw, prob)
					}
				}
			})
		})
	}
}

// BenchmarkTrackSpecDecode decodes the demo mix's /v1/batch bodies (batch
// envelope and every message, as Collector.TrackSpec does) with the
// reference decoder (encoding/json) and the fast one, in the same run.
// Figures are per record.
func BenchmarkTrackSpecDecode(b *testing.B) {
	bodies, records := demoBatches(b, 2000, gen.KindEvent)
	ref, fast := diffParsers(b)
	ref.receivedAt = gen.New(gen.Config{}).Config().End.UTC()
	fast.receivedAt = ref.receivedAt
	for _, tc := range []struct {
		name string
		p    *trackSpecParser
	}{{"reference", ref}, {"fast", fast}} {
		b.Run(tc.name, func(b *testing.B) {
			perRecord(b, bodies, records, func(body []byte) { decodeBench(b, tc.p, body) })
		})
	}
}

// decodeBench is decodeTrackSpec for a batch body, without rendering.
func decodeBench(b *testing.B, p *trackSpecParser, body []byte) {
	bt, prob := batchWith(p, body)
	if prob != nil {
		b.Fatal(prob)
	}
	for k, raw := range bt.Batch {
		if _, prob := p.parseScanned(raw, bt.message(k), "", bt.SentAt, bt.Context); prob != nil {
			b.Fatalf("%s: %v", raw, prob)
		}
	}
}
