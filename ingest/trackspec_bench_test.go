package ingest

import (
	"runtime"
	"testing"

	"github.com/granarycdp/cdp/gen"
)

// demoBatches returns the demo data set's events (gen, as cdp bench sends
// them) as /v1/batch bodies of 100 messages, and how many messages.
func demoBatches(b *testing.B, households int) ([][]byte, int) {
	g := gen.New(gen.Config{Seed: 7, Households: households})
	var bodies [][]byte
	body, n, total := []byte(`{"batch":[`), 0, 0
	err := g.Each(func(it gen.Item) error {
		if it.Kind != gen.KindEvent {
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
			body, n = []byte(`{"batch":[`), 0
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return bodies, total - n
}

// BenchmarkTrackSpecDecode decodes the demo mix's /v1/batch bodies (batch
// envelope and every message, as Collector.TrackSpec does) with the
// reference decoder (encoding/json) and the fast one, in the same run.
// Figures are per record.
func BenchmarkTrackSpecDecode(b *testing.B) {
	bodies, records := demoBatches(b, 2000)
	ref, fast := diffParsers(b)
	ref.receivedAt = gen.New(gen.Config{}).Config().End.UTC()
	fast.receivedAt = ref.receivedAt
	for _, tc := range []struct {
		name string
		p    *trackSpecParser
	}{{"reference", ref}, {"fast", fast}} {
		b.Run(tc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for _, body := range bodies {
					decodeBench(b, tc.p, body)
				}
			}
			runtime.ReadMemStats(&after)
			n := float64(b.N * records)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/record")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/record")
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
