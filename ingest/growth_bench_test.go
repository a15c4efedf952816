package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

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
		AfterCommit: func(persons []uint32, tables []string) { h.seg.Touched(persons, segments.KindsOfTables(tables)) }})
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
