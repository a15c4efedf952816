package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
)

func eventBatch(prefix string, n int) []byte {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"type":"track","event":"video_complete","messageId":"%s-%d","anonymousId":"dev-%d","properties":{"topic":"控糖","completion_ratio":0.93,"video_id":"v%d"},"context":{"externalIds":[{"id":"dy_%d","type":"douyin_openid"}]},"timestamp":"2026-11-20T07:59:00Z"}`, prefix, i, i%5000, i%300, i%5000)
	}
	return []byte(`{"batch":[` + strings.Join(msgs, ",") + `]}`)
}

// BenchmarkIngestEndToEnd measures sustained events/s from HTTP through
// the spool into ClickHouse (each op: 200k events in batches of 500 from 8
// clients, timed until ClickHouse has them all), and, in the same run, the
// raw ClickHouse insert of the same number of event rows.
func BenchmarkIngestEndToEnd(b *testing.B) {
	const events, perBatch, clients = 200_000, 500, 8
	f := newBenchFixture(b)
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	bodies := make([][]byte, events/perBatch)
	b.ResetTimer()
	for op := range b.N {
		for i := range bodies {
			bodies[i] = eventBatch(fmt.Sprintf("op%d-b%d", op, i), perBatch)
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan []byte)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for body := range next {
					req, _ := http.NewRequest("POST", ts.URL+"/v1/batch", bytes.NewReader(body))
					req.SetBasicAuth(writeKey, "")
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != 200 {
						b.Errorf("post: %v %v", err, resp)
						return
					}
					resp.Body.Close()
				}
			}()
		}
		for _, body := range bodies {
			next <- body
		}
		close(next)
		wg.Wait()
		acked := time.Since(start)
		f.sync()
		b.StopTimer()
		b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(float64(events)/acked.Seconds(), "acked_events/s")
	}
}

// BenchmarkIngestLatencyAt10k sends 10,000 events/s (batches of 20, 500
// requests/s) for 5 s and reports acknowledgement latency percentiles.
func BenchmarkIngestLatencyAt10k(b *testing.B) {
	f := newBenchFixture(b)
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for op := range b.N {
		const rate, seconds, perBatch = 500, 5, 20
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		for i := 0; i < rate*seconds; i++ {
			<-tick.C
			body := eventBatch(fmt.Sprintf("lat%d-%d", op, i), perBatch)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", ts.URL+"/v1/batch", bytes.NewReader(body))
				req.SetBasicAuth(writeKey, "")
				start := time.Now()
				resp, err := client.Do(req)
				d := time.Since(start)
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("post: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		tick.Stop()
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), "p50_ms")
		b.ReportMetric(q(0.99), "p99_ms")
		b.ReportMetric(q(1), "max_ms")
	}
}

// BenchmarkRawEventInsert inserts the same shape of event rows straight
// into cdp.events with clickhouse-go's PrepareBatch (no HTTP, no spool):
// the reference for BenchmarkIngestEndToEnd.
func BenchmarkRawEventInsert(b *testing.B) {
	const events = 200_000
	f := newBenchFixture(b)
	ctx := context.Background()
	ts := time.Date(2026, 11, 20, 7, 59, 0, 0, time.UTC)
	for op := range b.N {
		batch, err := f.db.Conn.PrepareBatch(ctx, "INSERT INTO "+f.db.Table("events")+" (id_types, id_values, message_id, type, event, ts, received_at, source, person_id, user_id, anonymous_id, properties, traits, context, spool_seq)")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range events {
			err := batch.Append([]string{"anonymous_id", "douyin_openid"}, []string{fmt.Sprint("dev-", i%5000), fmt.Sprint("dy_", i%5000)},
				fmt.Sprintf("raw%d-%d", op, i), "track", "video_complete", ts, ts, "default", uint32(0), "", fmt.Sprint("dev-", i%5000),
				`{"topic":"控糖","completion_ratio":0.93,"video_id":"v1"}`, "", `{"externalIds":[{"id":"dy_1","type":"douyin_openid"}]}`, uint64(i))
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
	}
}

// BenchmarkAckToSegmentEntry measures the delay from a record's
// acknowledgement to its person's entry event in a live segment: 200
// searches by new persons, 20 per second.
func BenchmarkAckToSegmentEntry(b *testing.B) {
	f := newBenchFixture(b)
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	for op := range b.N {
		keyword := fmt.Sprintf("低GI大米-%d", op)
		seg, err := f.segs.Save(context.Background(), segments.Definition{Name: keyword, Rule: fmt.Sprintf(`did("search", 30, {"keyword": %q}) >= 1`, keyword), Live: true}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		entered := map[string]time.Time{}
		f.segs.OnChange = func(c segments.Change) {
			if c.Segment != seg.ID {
				return
			}
			mu.Lock()
			for _, p := range c.Entered {
				entered[fmt.Sprint(p)] = time.Now()
			}
			mu.Unlock()
		}
		const n = 200
		prefix := fmt.Sprintf("lat-%d-", op)
		ackAt := postSearches(b, ts.URL, prefix, keyword, n, 50*time.Millisecond) // 20 records a second
		deadline := time.Now().Add(time.Minute)
		var lat []time.Duration
		for i := range n {
			p := f.awaitPerson(fmt.Sprint(prefix, i), deadline)
			for time.Now().Before(deadline) {
				mu.Lock()
				at, ok := entered[fmt.Sprint(p)]
				mu.Unlock()
				if ok {
					lat = append(lat, at.Sub(ackAt[i]))
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		if len(lat) != n {
			b.Fatalf("%d of %d entries seen", len(lat), n)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[n/2].Milliseconds()), "p50_ms")
		b.ReportMetric(float64(lat[n*99/100].Milliseconds()), "p99_ms")
	}
}

// postSearches posts n searches for keyword, one every interval, by new
// users prefix0 .. prefix(n-1), and returns when each was acknowledged.
func postSearches(b *testing.B, url, prefix, keyword string, n int, every time.Duration) []time.Time {
	b.Helper()
	ackAt := make([]time.Time, n)
	for i := range n {
		body := fmt.Sprintf(`{"event":"search","messageId":"%s%d","userId":"%s%d","properties":{"keyword":%q}}`, prefix, i, prefix, i, keyword)
		req, _ := http.NewRequest("POST", url+"/v1/track", strings.NewReader(body))
		req.SetBasicAuth(writeKey, "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		ackAt[i] = time.Now()
		time.Sleep(every) // pacing the load, not waiting for a condition
	}
	return ackAt
}

// awaitPerson waits (until deadline) for the person of a user id to be
// resolved; 0 when it was not.
func (f *ingestFixture) awaitPerson(userID string, deadline time.Time) uint32 {
	var p uint32
	for p == 0 && time.Now().Before(deadline) {
		p, _ = f.graph.Lookup(identityID("user_id", userID))
		time.Sleep(time.Millisecond)
	}
	return p
}
