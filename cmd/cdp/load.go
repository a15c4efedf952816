package main

// `cdp bench --load`: a sustained-load run of the whole platform (issue
// #10). A platform on a fresh embedded engine takes Segment batches from
// several clients at a target rate while analysts estimate segments at
// --load-estimates a second, rules seen before and never seen (#17,
// load_measure.go), and a segment-entry campaign runs on the outbox
// channel; every 10 s it reports acknowledged events/s, errors by kind,
// ack and estimate (cold, warm) latency percentiles, the campaign's
// latency from segment entry to send recorded, the resident memory of the
// platform and of the engine child, and the memory of the platform's
// parts; at the end it fits the memory growth after a warm-up (soak.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granarycdp/cdp/api"
)

// loadInterval is one reporting period of the load run.
type loadInterval struct {
	At           float64        `json:"at_s"` // seconds since the start, end of the interval
	EventsPerSec float64        `json:"events_acked_per_s"`
	Errors       map[string]int `json:"errors"` // by kind: HTTP status or "transport"
	AckP50       float64        `json:"ack_p50_ms"`
	AckP95       float64        `json:"ack_p95_ms"`
	AckP99       float64        `json:"ack_p99_ms"`
	Estimates    int            `json:"estimates"`
	EstimateP50  float64        `json:"estimate_p50_ms"`
	EstimateP99  float64        `json:"estimate_p99_ms"`
	ColdP99      float64        `json:"estimate_cold_p99_ms"` // rules never run before
	// ColdShapeP99 is ColdP99 by the shape of the rule (coldRule).
	ColdShapeP99  [coldShapes]float64 `json:"estimate_cold_p99_by_shape_ms"`
	WarmP99       float64             `json:"estimate_warm_p99_ms"` // rules run before
	EntrySend     entrySend           `json:"entry_to_send"`
	PlatformRSSMB float64             `json:"platform_rss_mb"`
	EngineRSSMB   float64             `json:"engine_rss_mb"`
	// EngineTrackedMB is the memory the engine's allocator tracks
	// (system.metrics MemoryTracking): queries, merges and caches.
	EngineTrackedMB float64 `json:"engine_memory_tracking_mb"`
	SpoolPending    uint64  `json:"spool_pending_records"`
	soakSample
	runSample
}

// loadReport is the whole run, for --json.
type loadReport struct {
	Minutes     int            `json:"minutes"`
	Clients     int            `json:"clients"`
	TargetRate  int            `json:"target_events_per_s"`
	Acked       int64          `json:"events_acked"`
	Stored      uint64         `json:"events_stored"`
	Errors      map[string]int `json:"errors"`
	Campaign    string         `json:"campaign"` // the live campaign's id, or why there is none
	Sends       uint64         `json:"campaign_sends"`
	DrainSec    float64        `json:"drain_s"` // from the end of the load until ClickHouse held every acknowledged event
	Intervals   []loadInterval `json:"intervals"`
	AckP99Max   float64        `json:"ack_p99_max_ms"`
	EstP99Max   float64        `json:"estimate_p99_max_ms"`
	EntryP99Max float64        `json:"entry_to_send_p99_max_ms"`
	PeakRSSMB   float64        `json:"platform_rss_peak_mb"`
	PeakEngine  float64        `json:"engine_rss_peak_mb"`
	FinalRSSMB  float64        `json:"platform_rss_final_mb"`
	FinalEngine float64        `json:"engine_rss_final_mb"`
	// EngineMemory is, at the end, what the engine holds besides queries:
	// its caches (system.asynchronous_metrics *CacheBytes), the primary
	// keys of the active parts (system.parts, grows with the data) and
	// MemoryTracking, in MB; ActiveParts counts the parts.
	EngineMemory    map[string]float64 `json:"engine_memory_mb"`
	EngineMemoryErr string             `json:"engine_memory_error,omitempty"` // why figures are missing
	ActiveParts     uint64             `json:"engine_active_parts"`
	Soak            soakReport         `json:"soak"` // the growth fit over Intervals
	// AfterWarmup is the run after its warm-up taken whole: percentiles
	// over all its acknowledgements and estimates, not per interval.
	AfterWarmup runPercentiles `json:"after_warmup"`
}

// loadRules are the estimates analysts run during the load.
var loadRules = []string{
	`did("video_complete", 30, {"topic": "控糖"}) >= 2`,
	`did("video_play", 7) >= 1 && did("add_to_cart", 7) == 0`,
	`did("search", 30, {"keyword": "低GI大米"}) >= 1 || did("video_complete", 30, {"topic": "花生油"}) >= 3`,
	`did("add_to_cart", 1) >= 1`,
}

// loadSegmentRule is the live campaign's audience: persons entering it
// during the run are sent to (a non-sensitive topic, so no consent gate).
const loadSegmentRule = `did("add_to_cart", 1, {"sku": "OIL-5L"}) >= 2`

// loadSampler collects latencies and errors of the current interval.
type loadSampler struct {
	mu         sync.Mutex
	acks       []time.Duration
	cold, warm []time.Duration // estimates
	// byShape are the cold estimates by the shape of their rule
	// (coldRule: n % coldShapes).
	byShape [coldShapes][]time.Duration
	errors  map[string]int
	total   map[string]int
}

func (s *loadSampler) ack(d time.Duration) {
	s.mu.Lock()
	s.acks = append(s.acks, d)
	s.mu.Unlock()
}

// estimate records an estimate's latency: a cold rule's of shape shape
// (coldRule), a warm rule's for shape -1.
func (s *loadSampler) estimate(d time.Duration, shape int) {
	s.mu.Lock()
	if shape >= 0 {
		s.cold = append(s.cold, d)
		s.byShape[shape] = append(s.byShape[shape], d)
	} else {
		s.warm = append(s.warm, d)
	}
	s.mu.Unlock()
}

func (s *loadSampler) fail(kind string) {
	s.mu.Lock()
	s.errors[kind]++
	s.total[kind]++
	s.mu.Unlock()
}

// take returns and resets the interval's samples.
func (s *loadSampler) take() (acks, cold, warm []time.Duration, byShape [coldShapes][]time.Duration, errs map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acks, cold, warm, byShape, errs = s.acks, s.cold, s.warm, s.byShape, s.errors
	s.acks, s.cold, s.warm, s.byShape, s.errors = nil, nil, nil, [coldShapes][]time.Duration{}, map[string]int{}
	return
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := min(int(p*float64(len(d))), len(d)-1)
	return float64(d[i].Microseconds()) / 1000
}

// selfRSSMB is this process's resident memory.
func selfRSSMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func loadCommand(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	minutes, clients, rate := cfg.LoadMinutes, cfg.LoadClients, cfg.LoadRate
	if minutes < 1 || clients < 1 || rate < 0 {
		return fmt.Errorf("bench --load: --load-minutes and --load-clients must be at least 1, --load-rate not negative")
	}
	sc, err := newScratch(ctx, cfg, "cdp-load-")
	if err != nil {
		return err
	}
	defer sc.Close()
	l, err := startLoadRun(ctx, cfg, sc)
	if err != nil {
		return err
	}
	defer l.stopServer()
	// The live campaign: a segment-entry campaign on the outbox channel.
	l.rep.Campaign, l.segmentID = startLoadCampaign(l.apiCall)
	logger.Info("load: running", "minutes", minutes, "clients", clients, "target_events_per_s", rate, "campaign", l.rep.Campaign)
	if !cfg.BenchJSON {
		fmt.Fprintf(out, "load: %d clients, target %d events/s, %d min, campaign %s\n", clients, rate, minutes, l.rep.Campaign)
	}
	prof, err := startProfile(cfg.BenchProfile)
	if err != nil {
		return err
	}
	defer prof.stop()
	l.prof = prof
	contention := startContentionProfile(cfg.BenchProfile)
	l.drive(time.Duration(minutes)*time.Minute, out)
	if err := errors.Join(prof.stop(), contention()); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if time.Since(l.lastAt) > 2*time.Second { // a last partial interval worth reporting
		l.report(time.Now(), out)
	}
	if err := l.settle(); err != nil {
		return err
	}
	return l.print(out)
}

// loadRun is one `cdp bench --load`: the scratch platform's API server,
// the clients' and analysts' samples and the report being built.
type loadRun struct {
	ctx        context.Context // the command's: requests use it
	cfg        config
	sc         *scratch
	base       string
	key, token string // the clients' write key, the analysts' admin token
	hc         *http.Client
	stopServer func()
	segmentID  string // the live campaign's segment ("" without one)
	sm         *loadSampler
	prof       *benchProfile // --profile: the heap at the end of the warm-up
	warmedUp   bool          // that heap is written
	probe      *soakProbe
	run        *runProbe
	acked      atomic.Int64
	rep        loadReport
	start      time.Time
	last       int64 // events acknowledged at the end of the last interval
	lastAt     time.Time
}

// startLoadRun creates the run's write key and admin token and serves the
// scratch platform's API on a free loopback port.
func startLoadRun(ctx context.Context, cfg config, sc *scratch) (*loadRun, error) {
	l := &loadRun{ctx: ctx, cfg: cfg, sc: sc, key: api.NewSecret("cdp_wk_"), token: api.NewSecret("cdp_at_"),
		sm:  &loadSampler{errors: map[string]int{}, total: map[string]int{}},
		rep: loadReport{Minutes: cfg.LoadMinutes, Clients: cfg.LoadClients, TargetRate: cfg.LoadRate, Errors: map[string]int{}}}
	if err := sc.creds.PutWriteKey(ctx, api.Principal{ID: "wk_load", Name: "load", Source: "load", Scope: api.ScopeClient}, l.key, "bench"); err != nil {
		return nil, err
	}
	if err := sc.creds.PutToken(ctx, api.Principal{ID: "tok_load", Name: "load", Role: api.RoleAdmin}, l.token, "bench"); err != nil {
		return nil, err
	}
	in := sc.in
	l.probe = newSoakProbe(in.dedup, in.identity.Graph, in.segments.Engine().Stats)
	pid := func() int { return 0 }
	if sc.ch.engine != nil {
		pid = sc.ch.engine.PID
	}
	l.run = newRunProbe(pid, in.segments.Engine().Stats)
	srv := api.New(api.Options{DB: sc.ch.db, Credentials: sc.creds, Collector: in.collector, Identity: in.identity, Segments: in.segments,
		Campaigns: in.campaigns, Gatherer: sc.reg, Logger: sc.quiet})
	sctx, stopServer := context.WithCancel(ctx)
	addrc, served := make(chan net.Addr, 1), make(chan error, 1)
	go func() { served <- srv.Serve(sctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		l.base = "http://" + a.String()
	case err := <-served:
		stopServer()
		return nil, fmt.Errorf("load: serve the API: %w", err)
	}
	// Stopping waits for the server, which uses ingest, so that the
	// scratch platform closes after it.
	l.stopServer = func() {
		stopServer()
		<-served
	}
	l.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.LoadClients + 4}}
	return l, nil
}

// apiCall calls the management API as admin and decodes the answer into
// outv (when not nil).
func (l *loadRun) apiCall(method, path string, body any, outv any) (int, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(l.ctx, method, l.base+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if outv != nil {
		_ = json.NewDecoder(resp.Body).Decode(outv)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, nil
}

// perBatch is the events in one client batch.
const perBatch = 100

// drive runs the clients and the analysts' estimates for d, reporting every 10 s,
// and waits for them.
func (l *loadRun) drive(d time.Duration, out io.Writer) {
	runCtx, stopLoad := context.WithTimeout(l.ctx, d)
	defer stopLoad()
	var wg sync.WaitGroup
	// Each client paces itself to its share of the target rate.
	every := time.Duration(0)
	if rate := l.cfg.LoadRate; rate > 0 {
		every = time.Duration(float64(time.Second) * perBatch * float64(l.cfg.LoadClients) / float64(rate))
	}
	for c := range l.cfg.LoadClients {
		wg.Go(func() { l.client(runCtx, c, every) })
	}
	wg.Go(func() { l.estimators(runCtx, float64(l.cfg.LoadEstimates)) })
	l.start = time.Now()
	l.lastAt = l.start
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for runCtx.Err() == nil {
		select {
		case now := <-tick.C:
			l.report(now, out)
		case <-runCtx.Done():
		}
	}
	wg.Wait()
}

// client c posts batches until runCtx ends, one every every (0: as fast as
// they are acknowledged).
func (l *loadRun) client(runCtx context.Context, c int, every time.Duration) {
	rnd := rand.New(rand.NewPCG(uint64(c), 7))
	next := time.Now()
	for b := 0; runCtx.Err() == nil; b++ {
		body := loadBatch(rnd, c, b, perBatch)
		start := time.Now()
		req, _ := http.NewRequestWithContext(l.ctx, "POST", l.base+"/v1/batch", bytes.NewReader(body))
		req.SetBasicAuth(l.key, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.hc.Do(req)
		switch {
		case err != nil:
			l.sm.fail("transport")
		case resp.StatusCode == 200:
			l.sm.ack(time.Since(start))
			l.acked.Add(perBatch)
		default:
			l.sm.fail(strconv.Itoa(resp.StatusCode))
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if every > 0 {
			// Behind by more than a second (the platform was slow):
			// resume the pace rather than burst to catch up.
			if next = next.Add(every); time.Since(next) > time.Second {
				next = time.Now()
			}
			select {
			case <-runCtx.Done():
			case <-time.After(time.Until(next)):
			}
		}
	}
}

// report closes the interval ending now: it adds it to the report and,
// unless --json, prints it.
func (l *loadRun) report(now time.Time, out io.Writer) {
	acks, cold, warm, byShape, errs := l.sm.take()
	ests := append(slices.Clone(cold), warm...)
	n := l.acked.Load()
	in, ch := l.sc.in, l.sc.ch
	iv := loadInterval{At: now.Sub(l.start).Seconds(), EventsPerSec: float64(n-l.last) / now.Sub(l.lastAt).Seconds(), Errors: errs,
		AckP50: percentile(acks, .50), AckP95: percentile(acks, .95), AckP99: percentile(acks, .99),
		Estimates: len(ests), EstimateP50: percentile(ests, .50), EstimateP99: percentile(ests, .99),
		ColdP99: percentile(cold, .99), WarmP99: percentile(warm, .99),
		PlatformRSSMB: selfRSSMB(), SpoolPending: in.spool.LastSeq() - in.spool.Committed(), soakSample: l.probe.sample(now.Sub(l.lastAt)), runSample: l.run.sample()}
	for i, d := range byShape {
		iv.ColdShapeP99[i] = percentile(d, .99)
	}
	if ch.engine != nil {
		iv.EngineRSSMB = ch.engine.ResidentMB()
	}
	var tracked int64
	if err := ch.db.Conn.QueryRow(l.ctx, "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'").Scan(&tracked); err == nil {
		iv.EngineTrackedMB = float64(tracked) / mib
	}
	var err error
	if iv.EntrySend, err = l.measureEntrySend(l.ctx, l.lastAt, now); err != nil {
		l.sm.fail("entry to send query")
	}
	l.last, l.lastAt = n, now
	if !l.warmedUp && l.prof != nil && now.Sub(l.start) >= soakWarmup(l.cfg.LoadWarmup, l.cfg.LoadMinutes) {
		l.warmedUp = true
		if err := l.prof.heapAt("warmup"); err != nil {
			l.sm.fail("profile")
		}
	}
	rep := &l.rep
	if now.Sub(l.start) > soakWarmup(l.cfg.LoadWarmup, l.cfg.LoadMinutes) {
		rep.AfterWarmup.add(acks, cold, warm)
	}
	rep.Intervals = append(rep.Intervals, iv)
	rep.AckP99Max, rep.EstP99Max = max(rep.AckP99Max, iv.AckP99), max(rep.EstP99Max, iv.EstimateP99)
	rep.EntryP99Max = max(rep.EntryP99Max, iv.EntrySend.EntryP99)
	rep.PeakRSSMB, rep.PeakEngine = max(rep.PeakRSSMB, iv.PlatformRSSMB), max(rep.PeakEngine, iv.EngineRSSMB)
	if !l.cfg.BenchJSON {
		printInterval(out, iv)
	}
}

// printInterval writes one interval's line.
func printInterval(out io.Writer, iv loadInterval) {
	fmt.Fprintf(out, "%4.0fs  %6.0f ev/s  ack p50/p95/p99 %5.1f/%5.1f/%5.1f ms  estimates %3d p50/p99 %5.1f/%5.1f ms (cold %5.1f warm %5.1f; cold by shape %5.1f/%5.1f/%5.1f)  "+
		"entry->send %4d p50/p99 %6.0f/%6.0f ms (event->send p99 %6.0f)  rss platform %4.0f MB engine %4.0f MB (tracked %4.0f)  heap %4.0f MB  go %4.0f MB  leaf cache %4d %4.1f MB  "+
		"dedup filter %4.1f MB pebble %4.1f MB disk %5.1f MB %5.0f lookups/s  persons %7d identifiers %8d  spool %6d  "+
		"cpu platform %.2f engine %.2f  sched p99/max %5.1f/%5.1f ms  gc %3d max pause %5.2f ms  leaves computed %3d patched %3d waited %3d  slot wait/query %5.1f/%5.1f ms  errors %v\n",
		iv.At, iv.EventsPerSec, iv.AckP50, iv.AckP95, iv.AckP99, iv.Estimates, iv.EstimateP50, iv.EstimateP99, iv.ColdP99, iv.WarmP99,
		iv.ColdShapeP99[0], iv.ColdShapeP99[1], iv.ColdShapeP99[2], iv.EntrySend.Sends, iv.EntrySend.EntryP50, iv.EntrySend.EntryP99, iv.EntrySend.EventP99,
		iv.PlatformRSSMB, iv.EngineRSSMB, iv.EngineTrackedMB, iv.GoHeapLiveMB, iv.GoRuntimeMB, iv.Leaves, iv.LeafCacheMB,
		iv.DedupFilterMB, iv.DedupPebbleMB, iv.DedupDiskMB, iv.DedupLookupsPerSec, iv.Persons, iv.Identifiers, iv.SpoolPending,
		iv.PlatformCores, iv.EngineCores, iv.SchedP99MS, iv.SchedMaxMS, iv.GCCycles, iv.GCPauseMaxMS, iv.LeafMisses, iv.LeafPatches, iv.LeafWaits, iv.SlotWaitMS, iv.LeafQueryMS, iv.Errors)
}

// settle completes the report after the load: totals, the time ClickHouse
// took to hold every acknowledged event, what it stores, the campaign's
// sends and the final memory.
func (l *loadRun) settle() error {
	rep, ch := &l.rep, l.sc.ch
	rep.Acked = l.acked.Load()
	l.sm.mu.Lock()
	for k, v := range l.sm.total {
		rep.Errors[k] = v
	}
	l.sm.mu.Unlock()
	end := time.Now()
	wctx, cancel := context.WithTimeout(l.ctx, 5*time.Minute)
	defer cancel()
	if err := l.sc.in.waitIngested(wctx); err != nil {
		return fmt.Errorf("load: waiting for ClickHouse to hold the acknowledged events: %w", err)
	}
	rep.DrainSec = time.Since(end).Seconds()
	if err := ch.db.Conn.QueryRow(l.ctx, "SELECT count() FROM "+ch.db.Table("events")).Scan(&rep.Stored); err != nil {
		return fmt.Errorf("load: count stored events: %w", err)
	}
	if !strings.HasPrefix(rep.Campaign, "none") {
		_ = ch.db.Conn.QueryRow(l.ctx, "SELECT count() FROM "+ch.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND group = 'treatment'", rep.Campaign).Scan(&rep.Sends)
	}
	rep.EngineMemory, rep.ActiveParts = l.engineMemory()
	rep.AfterWarmup.summarize()
	rep.Soak = analyseSoak(rep.Intervals, soakWarmup(l.cfg.LoadWarmup, l.cfg.LoadMinutes), currentGOGC())
	rep.FinalRSSMB = selfRSSMB()
	if ch.engine != nil {
		rep.FinalEngine = ch.engine.ResidentMB()
	}
	return nil
}

// print writes the report: JSON with --json, else a summary. It fails
// when ClickHouse stores other than the acknowledged events.
func (l *loadRun) print(out io.Writer) error {
	rep := &l.rep
	if l.cfg.BenchJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "\nacknowledged %d events, stored %d (drained %.1f s after the load); errors %v\n", rep.Acked, rep.Stored, rep.DrainSec, rep.Errors)
	fmt.Fprintf(out, "worst 10 s: ack p99 %.1f ms, estimate p99 %.1f ms, segment entry to send recorded p99 %.0f ms; peak RSS platform %.0f MB, engine %.0f MB; final %.0f / %.0f MB\n",
		rep.AckP99Max, rep.EstP99Max, rep.EntryP99Max, rep.PeakRSSMB, rep.PeakEngine, rep.FinalRSSMB, rep.FinalEngine)
	if w := rep.AfterWarmup; w.Estimates > 0 {
		fmt.Fprintf(out, "after the warm-up, taken whole: ack p99 %.1f ms (%d acks); estimate p99 %.1f ms (%d estimates; cold %.1f, warm %.1f)\n",
			w.AckP99, w.Acks, w.EstimateP99, w.Estimates, w.ColdP99, w.WarmP99)
	}
	fmt.Fprintf(out, "live campaign %s: %d persons sent to\n", rep.Campaign, rep.Sends)
	fmt.Fprintf(out, "engine memory at the end (MB): %s; %d active parts\n", formatMB(rep.EngineMemory), rep.ActiveParts)
	if rep.EngineMemoryErr != "" {
		fmt.Fprintf(out, "  (not all read: %s)\n", rep.EngineMemoryErr)
	}
	printSoak(out, rep.Soak)
	if uint64(rep.Acked) != rep.Stored {
		return fmt.Errorf("load: %d events acknowledged but %d stored", rep.Acked, rep.Stored)
	}
	return nil
}

// loadBatch is a Segment batch of n events of client c: Douyin views and
// completions, searches and add-to-carts of 200k users, so that segments
// have members to count and persons enter the campaign's segment.
func loadBatch(rnd *rand.Rand, c, b, n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"batch":[`)
	topics := []string{"控糖", "花生油", "低GI大米", "减脂", "宝宝辅食"}
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		user := rnd.IntN(200_000)
		var ev, props string
		switch r := rnd.IntN(10); {
		case r < 4:
			ev, props = "video_play", fmt.Sprintf(`{"topic":%q}`, topics[rnd.IntN(len(topics))])
		case r < 7:
			ev, props = "video_complete", fmt.Sprintf(`{"topic":%q,"completion_ratio":1}`, topics[rnd.IntN(len(topics))])
		case r < 9:
			ev, props = "search", fmt.Sprintf(`{"keyword":%q}`, topics[rnd.IntN(len(topics))])
		default:
			ev, props = "add_to_cart", `{"sku":"OIL-5L"}`
		}
		fmt.Fprintf(&sb, `{"type":"track","event":%q,"messageId":"load-%d-%d-%d","anonymousId":"dev-%d","properties":%s,"context":{"externalIds":[{"type":"douyin_openid","id":"dy-%d"},{"type":"wecom_external_userid","id":"wmload%d"}]}}`,
			ev, c, b, i, user, props, user, user)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// startLoadCampaign creates the live campaign through the API and returns
// its id and its segment's, or "none: <why>" when the campaigns API cannot run one (the
// hook for when it can).
func startLoadCampaign(call func(method, path string, body any, out any) (int, error)) (campaign, segment string) {
	var seg, offer, camp struct{ ID string }
	if st, err := call("POST", "/api/v1/segments", map[string]any{"name": "load: oil buyers", "rule": loadSegmentRule}, &seg); err != nil || st != 201 {
		return fmt.Sprintf("none: segment %d %v", st, err), ""
	}
	if st, err := call("POST", "/api/v1/offers", map[string]any{"name": "load: 5L oil", "skus": []string{"OIL-5L"}}, &offer); err != nil || st != 200 {
		return fmt.Sprintf("none: offer %d %v", st, err), ""
	}
	body := map[string]any{"name": "load: oil entry", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox",
		"trigger": "segment_entry", "template": "{{name}}您好，{{offer}}", "holdout_percent": 10, "cap_per_week": 2}
	if st, err := call("POST", "/api/v1/campaigns", body, &camp); err != nil || st != 200 {
		return fmt.Sprintf("none: campaign %d %v", st, err), ""
	}
	if st, err := call("POST", "/api/v1/campaigns/"+camp.ID+"/launch", nil, nil); err != nil || st != 200 {
		return fmt.Sprintf("none: launch %d %v", st, err), ""
	}
	return camp.ID, seg.ID
}

// startContentionProfile records, with --profile, where the load run's
// goroutines wait: the mutex profile (a fifth of contended locks, by the
// time others waited for them) and the block profile (channel, select and
// lock waits of a millisecond or more, sampled in proportion below). The
// returned function writes mutex.pb.gz and block.pb.gz into dir and stops
// recording. With dir empty it does nothing.
func startContentionProfile(dir string) func() error {
	if dir == "" {
		return func() error { return nil }
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	return func() error {
		defer runtime.SetMutexProfileFraction(0)
		defer runtime.SetBlockProfileRate(0)
		var errs []error
		for _, name := range []string{"mutex", "block"} {
			f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, pprof.Lookup(name).WriteTo(f, 0), f.Close())
		}
		return errors.Join(errs...)
	}
}
