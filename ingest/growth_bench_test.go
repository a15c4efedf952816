package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// BenchmarkIngestGrowth drives `cdp serve`'s ingest path under load,
// in-process: four clients post Segment batches of 100 events (one in
// four from a new person, with a phone on their identify) to the
// collector (deduplication store on disk), the pipeline resolves them in
// the identity graph and stores them in ClickHouse, and live segments are
// told who changed. After each quarter of CDP_GROWTH_EVENTS events
// (default 200,000) it collects garbage, writes a heap profile (to
// CDP_GROWTH_PROFILES, or a temporary folder) and logs the heap, the
// identity graph's size and the heap per identifier. Compare two profiles
// with `go tool pprof -top -diff_base heap-1.pb.gz heap-4.pb.gz`.
func BenchmarkIngestGrowth(b *testing.B) {
	total := 200_000
	if v := os.Getenv("CDP_GROWTH_EVENTS"); v != "" {
		fmt.Sscan(v, &total)
	}
	dir := os.Getenv("CDP_GROWTH_PROFILES")
	if dir == "" {
		dir = b.TempDir()
	}
	h := startGrowthHarness(b)
	defer h.close()
	for q := 1; q <= 4; q++ {
		h.load(b, int64(total*q/4))
		h.settle(b)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", q)))
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		ids, persons, st := h.graph.Identifiers(), h.graph.Persons(), h.dedup.Stats()
		b.Logf("%d events: heap %.1f MiB, %d persons, %d identifiers; deduplication: filters %.1f MiB, Pebble memory %.1f MiB, disk %.1f MB, %d disk lookups; profile %s",
			h.sent, float64(m.HeapAlloc)/(1<<20), persons, ids, float64(st.FilterBytes)/(1<<20), float64(st.PebbleBytes)/(1<<20), float64(st.DiskBytes)/1e6, st.DiskLookups, f.Name())
	}
}

type growthHarness struct {
	db     *store.DB
	sp     *spool.Spool
	col    *ingest.Collector
	dedup  *ingest.Dedup
	graph  *identity.Graph
	pipe   *ingest.Pipeline
	seg    *segments.Store
	stop   context.CancelFunc
	wg     sync.WaitGroup
	closer []func()

	mu   sync.Mutex
	sent int64 // events sent
}

func startGrowthHarness(b *testing.B) *growthHarness {
	db := storetest.Migrated(b)
	h := &growthHarness{db: db, graph: identity.NewGraph(identity.DefaultRules())}
	prot, err := identity.NewProtector(testKey)
	if err != nil {
		b.Fatal(err)
	}
	sopts := spool.DefaultOptions()
	sopts.Dir = b.TempDir()
	sp, err := spool.Open(sopts)
	if err != nil {
		b.Fatal(err)
	}
	h.sp = sp
	d, err := ingest.OpenDedup(ingest.DedupOptions{Dir: filepath.Join(b.TempDir(), "dedup")})
	if err != nil {
		b.Fatal(err)
	}
	h.dedup = d
	h.col = ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot, Dedup: d})
	if _, err := h.col.Warm(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	w := store.NewWriter(db, store.DefaultWriterOptions())
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	if h.seg, err = segments.NewStore(ctx, db, segments.DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	h.pipe = ingest.NewPipeline(ingest.PipelineOptions{Spool: sp, Writer: w, SpoolID: "growth", Resolver: h.graph,
		AfterCommit: func(c ingest.Committed) { h.seg.TouchedTables(c.Persons) }})
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.pipe.Run(ctx) }()
	go func() { defer h.wg.Done(); h.seg.RunLive(ctx) }()
	h.closer = []func(){func() { w.Close(context.Background()) }, func() { h.col.Close() }, func() { sp.Close() }}
	return h
}

// load sends batches from four clients until upTo events were sent.
func (h *growthHarness) load(b *testing.B, upTo int64) {
	next := func() (int64, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.sent+100 > upTo {
			return 0, false
		}
		h.sent += 100
		return h.sent, true
	}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n, ok := next(); ok; n, ok = next() {
				res, err := h.col.TrackSpec(context.Background(), "app", "batch", growthBatch(c, n))
				if err != nil || res.Accepted != 100 {
					b.Errorf("batch %d: %+v %v", n, res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// growthBatch is 100 events ending at event n: tracks of returning users
// and, one in four, a new user identified with a phone.
func growthBatch(client int, n int64) []byte {
	b := []byte(`{"batch":[`)
	for i := n - 100; i < n; i++ {
		if i > n-100 {
			b = append(b, ',')
		}
		user := i / 4
		if i%4 == 0 {
			b = fmt.Appendf(b, `{"type":"identify","messageId":"g-%d","userId":"u%d","anonymousId":"a%d","traits":{"phone":"139%08d","city":"杭州"}}`, i, user, user, user%100_000_000)
			continue
		}
		b = fmt.Appendf(b, `{"type":"track","messageId":"g-%d","userId":"u%d","event":"video_play","properties":{"topic":"控糖","video_id":"v%d"}}`, i, user, client)
	}
	return append(b, "]}"...)
}

// settle waits until ClickHouse holds everything spooled.
func (h *growthHarness) settle(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := h.pipe.WaitCommitted(ctx, h.sp.LastSeq()); err != nil {
		b.Fatal(err)
	}
}

func (h *growthHarness) close() {
	h.stop()
	h.wg.Wait()
	for _, c := range h.closer {
		c()
	}
}

// BenchmarkPipeline times the pipeline alone, spool to ClickHouse with
// identity resolution: CDP_PIPE_EVENTS events (default 200,000; one in
// four an identify with a phone, growthBatch) are spooled through the
// collector first, then the pipeline starts and the clock runs until
// ClickHouse confirmed them all. Beside it, in the same run, the same
// number of event rows inserted raw into a copy of the events table with
// one columnar insert per 50,000 rows: the physical limit. Run it with
// -benchtime 1x; it reports records/s, raw rows/s and the ratio. With
// storetest.CompareEnv it runs on one engine and on a 2-shard cluster.
func BenchmarkPipeline(b *testing.B) { storetest.Topologies(b, pipelineOn) }

func pipelineOn(b *testing.B, db *store.DB) {
	total := 200_000
	if v := os.Getenv("CDP_PIPE_EVENTS"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	prot, err := identity.NewProtector(testKey)
	if err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: b.TempDir()}) // default sizes
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	col := ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot})
	defer col.Close()
	for n := int64(100); n <= int64(total); n += 100 {
		if res, err := col.TrackSpec(context.Background(), "app", "batch", growthBatch(0, n)); err != nil || res.Accepted != 100 {
			b.Fatalf("batch %d: %+v %v", n, res, err)
		}
	}
	w := store.NewWriter(db, store.DefaultWriterOptions())
	defer w.Close(context.Background())
	pipe := ingest.NewPipeline(ingest.PipelineOptions{Spool: sp, Writer: w, SpoolID: "bench", Resolver: identity.NewGraph(identity.DefaultRules())})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- pipe.Run(ctx) }()
	if err := pipe.WaitCommitted(context.Background(), sp.LastSeq()); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.StopTimer()
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	raw := rawColumnarInsert(b, db, w, total)
	rate := float64(total) / took.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(raw, "raw-rows/s")
	b.ReportMetric(rate/raw*100, "%-of-raw")
}

// rawColumnarInsert inserts n event rows into a copy of the events table,
// 50,000 a batch, column by column, and returns rows/s (of the inserts
// alone: the columns are built before the clock starts). On a cluster the
// copy is of the first node's local table: a copy of the Distributed
// front would put the rows into the events.
func rawColumnarInsert(b *testing.B, db *store.DB, w *store.Writer, n int) float64 {
	ctx := context.Background()
	if err := db.Conn.Exec(ctx, "CREATE TABLE "+db.Table("bench_raw_events")+" AS "+db.Local("events")); err != nil {
		b.Fatal(err)
	}
	tw := w.Table("bench_raw_events", benchEventColumns...)
	const batch = 50_000
	now := time.Now().UTC()
	var batches [][]any
	for from := 0; from < n; from += batch {
		m := min(batch, n-from)
		var cols benchEvents
		for i := from; i < from+m; i++ {
			cols.add(i, fmt.Sprintf("g-%d", i), "video_play", `{"topic":"控糖","video_id":"v0"}`, "", now)
		}
		batches = append(batches, cols.columns())
	}
	start := time.Now()
	for i, cols := range batches {
		if err := tw.InsertColumns(ctx, fmt.Sprintf("raw-%d", i), cols...); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkEngineCPUByBatchSize inserts the same 200,000 event rows
// (spread over 12 months, so 12 partitions, as the demo's year is) into
// the events table, with its materialized views, defaults and skipping
// index, in batches of 10,000 to 200,000 rows, and reports the CPU the
// engine says the inserts took per row (store.Metrics.WriterEngineCPU;
// background merges are not in it). It answers whether larger batches
// when the spool has a backlog would cut the engine's share per record.
// Run it with -benchtime 1x.
func BenchmarkEngineCPUByBatchSize(b *testing.B) {
	db := storetest.Migrated(b)
	const n = 200_000
	for _, size := range []int{10_000, 25_000, 50_000, 100_000, 200_000} {
		b.Run(fmt.Sprintf("rows=%d", size), func(b *testing.B) {
			m := store.NewMetrics(nil)
			w := store.NewWriter(db, store.WriterOptions{Metrics: m})
			defer w.Close(context.Background())
			tw := w.Table("events", benchEventColumns...)
			batches := engineCostBatches(n, size, fmt.Sprintf("bs-%d-", size))
			b.ResetTimer()
			for i, cols := range batches {
				if err := tw.InsertColumns(context.Background(), fmt.Sprintf("bs-%d-%d", size, i), cols...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var metric dto.Metric
			if err := m.WriterEngineCPU.WithLabelValues("events").Write(&metric); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(metric.GetCounter().GetValue()*1e6/n, "engine-µs/row")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// benchEventColumns are the columns of benchEvents.columns.
var benchEventColumns = []string{"id_types", "id_values", "message_id", "type", "event", "ts", "received_at", "source",
	"person_id", "user_id", "anonymous_id", "properties", "traits", "context", "spool_seq"}

// benchEvents are event rows column by column, for the events table's
// columnar insert (the order of ingest's eventColumns); user u<i/4>.
type benchEvents struct {
	types, values                      [][]string
	id, typ, event, source, user, anon []string
	props, traits, ctxs                []string
	ts                                 []time.Time
	person                             []uint32
	seq                                []uint64
}

func (c *benchEvents) add(i int, id, event, props, ctx string, ts time.Time) {
	u := "u" + strconv.Itoa(i/4)
	c.types, c.values = append(c.types, []string{"user_id"}), append(c.values, []string{u})
	c.id, c.typ, c.event = append(c.id, id), append(c.typ, "track"), append(c.event, event)
	c.source, c.user, c.anon = append(c.source, "app"), append(c.user, u), append(c.anon, "")
	c.props, c.traits, c.ctxs = append(c.props, props), append(c.traits, ""), append(c.ctxs, ctx)
	c.ts, c.person, c.seq = append(c.ts, ts), append(c.person, uint32(i/4)), append(c.seq, uint64(i))
}

func (c *benchEvents) columns() []any {
	return []any{c.types, c.values, c.id, c.typ, c.event, c.ts, c.ts, c.source, c.person, c.user, c.anon, c.props, c.traits, c.ctxs, c.seq}
}
