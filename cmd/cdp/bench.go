package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// benchLine is one figure of `cdp bench` and its side-by-side reference
// from the same run.
type benchLine struct {
	Area      string  `json:"area"`
	Measure   string  `json:"measure"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Reference string  `json:"reference,omitempty"`
	RefValue  float64 `json:"reference_value,omitempty"`
}

// householdsPerPerson is the generator's ratio (92,376 persons in 50,000
// households).
const personsPerHousehold = 1.85

func benchCommand(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	if cfg.Load {
		return loadCommand(ctx, cfg, logger, out)
	}
	var lines []benchLine
	add := func(l benchLine) {
		lines = append(lines, l)
		if !cfg.BenchJSON {
			fmt.Fprintf(os.Stderr, "  %s: %s %.4g %s\n", l.Area, l.Measure, l.Value, l.Unit)
		}
	}
	households := int(float64(cfg.BenchPersons) / personsPerHousehold)
	if err := benchIdentity(ctx, households, uint64(cfg.DemoSeed), add); err != nil {
		return err
	}
	if !cfg.BenchIdentityOnly {
		if err := benchIngest(ctx, cfg, logger, add); err != nil {
			return err
		}
		benchPlanning(cfg.BenchPersons, add)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	add(benchLine{Area: "memory", Measure: "platform heap in use at the end", Value: float64(m.HeapInuse) / (1 << 20), Unit: "MB"})
	runtime.GC()
	runtime.ReadMemStats(&m)
	add(benchLine{Area: "memory", Measure: "platform heap live at the end (after a GC)", Value: float64(m.HeapAlloc) / (1 << 20), Unit: "MB"})
	add(benchLine{Area: "memory", Measure: "platform peak resident memory (VmHWM)", Value: procStatusMB(os.Getpid(), "VmHWM:"), Unit: "MB"})
	if cfg.BenchJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"persons": cfg.BenchPersons, "households": households, "lines": lines})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "AREA\tMEASURE\tVALUE\tREFERENCE (same run)\n")
	for _, l := range lines {
		ref := ""
		if l.Reference != "" {
			ref = fmt.Sprintf("%s: %s", l.Reference, human(l.RefValue))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", l.Area, l.Measure, human(l.Value), l.Unit, ref)
	}
	return tw.Flush()
}

// procStatusMB reads one kB figure of /proc/<pid>/status (VmRSS:, VmHWM:)
// in MB; 0 where there is none.
func procStatusMB(pid int, field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// benchIdentity resolves the whole generated stream in memory. It returns
// ctx's error as soon as ctx is done (SIGINT, SIGTERM): the resolution
// itself cannot be stopped, but it holds nothing outside the process
// (at 10M persons it takes most of an hour).
func benchIdentity(ctx context.Context, households int, seed uint64, add func(benchLine)) error {
	g := gen.New(gen.Config{Seed: seed, Households: households, End: demoEnd})
	prot, _ := identity.NewProtector(bytes.Repeat([]byte{3}, 32))
	// Decoding the items' JSON is the generator's cost, not the graph's:
	// time it alone and take it off.
	start := time.Now()
	items := 0
	if err := g.Each(func(it gen.Item) error { items += len(it.Identifiers()); return ctx.Err() }); err != nil {
		return err
	}
	decode := time.Since(start)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start = time.Now()
	var res gen.Resolution
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = g.Resolve(identity.DefaultRules(), prot)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("bench: identity stopped: %w", ctx.Err())
	}
	if err != nil {
		return err
	}
	took := time.Since(start) // includes scoring against the truth
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	add(benchLine{Area: "identity", Measure: fmt.Sprintf("records resolved in memory (%d records)", res.Records),
		Value: float64(res.Records) / max(took-decode, time.Millisecond).Seconds(), Unit: "records/s", Reference: "goal", RefValue: 500_000})
	add(benchLine{Area: "identity", Measure: "pairwise precision against the generator's truth", Value: res.Score.Precision, Unit: ""})
	add(benchLine{Area: "identity", Measure: "pairwise recall against the generator's truth", Value: res.Score.Recall, Unit: ""})
	graph := float64(after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc))
	add(benchLine{Area: "identity", Measure: fmt.Sprintf("graph memory (%d identifiers, %d persons)", res.Graph.Identifiers(), res.Graph.Persons()),
		Value: graph / float64(max(res.Graph.Identifiers(), 1)), Unit: "bytes/identifier", Reference: "goal", RefValue: 100})
	add(benchLine{Area: "identity", Measure: "graph memory per person", Value: graph / float64(max(res.Graph.Persons(), 1)), Unit: "bytes/person"})
	add(benchLine{Area: "identity", Measure: "graph memory", Value: graph / (1 << 20), Unit: "MB"})
	add(benchLine{Area: "memory", Measure: "platform resident memory with the graph", Value: procStatusMB(os.Getpid(), "VmRSS:"), Unit: "MB"})
	runtime.KeepAlive(res.Graph)
	return nil
}

// benchIngest runs the platform on a fresh embedded engine, loads a
// sample through the HTTP ingest API and waits until ClickHouse has it;
// then inserts the same number of event rows raw.
// scratch is a platform on a fresh embedded engine in a temporary folder,
// for the benchmarks and the load run; quiet logs nothing.
type scratch struct {
	cfg     config
	reg     *prometheus.Registry
	quiet   *slog.Logger
	ch      *clickhouse
	creds   *api.Credentials
	in      *ingestParts
	cleanup []func()
}

func newScratch(ctx context.Context, cfg config, prefix string) (*scratch, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	sc := &scratch{cfg: cfg, reg: prometheus.NewRegistry(), quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	sc.cleanup = append(sc.cleanup, func() { os.RemoveAll(dir) })
	sc.cfg.DataDir, sc.cfg.EngineTCPPort, sc.cfg.EngineHTTPPort = dir, 0, 0
	metrics := store.NewMetrics(sc.reg)
	if sc.ch, err = openClickHouse(ctx, sc.cfg, sc.quiet, metrics); err != nil {
		sc.Close()
		return nil, err
	}
	sc.cleanup = append(sc.cleanup, func() { sc.ch.Close() })
	if _, err := applyMigrations(ctx, sc.ch.db, sc.quiet); err != nil {
		sc.Close()
		return nil, err
	}
	if sc.creds, err = api.NewCredentials(ctx, sc.ch.db); err != nil {
		sc.Close()
		return nil, err
	}
	if sc.in, err = startIngest(ctx, sc.cfg, sc.ch.db, metrics, sc.quiet, nil); err != nil {
		sc.Close()
		return nil, err
	}
	sc.cleanup = append(sc.cleanup, func() { sc.in.Close() })
	return sc, nil
}

// Close stops what newScratch started, in reverse order.
func (sc *scratch) Close() {
	for i := len(sc.cleanup) - 1; i >= 0; i-- {
		sc.cleanup[i]()
	}
}

func benchIngest(ctx context.Context, cfg config, logger *slog.Logger, add func(benchLine)) error {
	sc, err := newScratch(ctx, cfg, "cdp-bench-")
	if err != nil {
		return err
	}
	defer sc.Close()
	ch := sc.ch
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	target, w, err := benchIngestServer(sctx, sc)
	if err != nil {
		return err
	}
	households := int(float64(cfg.BenchIngestRecords) / 38) // ~38 records per household
	g := gen.New(gen.Config{Seed: uint64(cfg.DemoSeed), Households: max(households, 1), End: demoEnd, CorpID: w.CorpID})
	total, events, err := countItems(g)
	if err != nil {
		return err
	}
	logger.Info("bench: loading through the ingest API", "records", total)
	prof, err := startProfile(cfg.BenchProfile)
	if err != nil {
		return err
	}
	defer prof.stop()
	enginePID := 0
	if ch.engine != nil {
		enginePID = ch.engine.PID()
	}
	cpuStart := readCPU(enginePID)
	mergesStart := engineMergeEvents(ctx, ch.db)
	start := time.Now()
	sent, err := g.Load(ctx, target, total, nil)
	if err != nil {
		return err
	}
	acked := time.Since(start)
	if err := waitForRows(ctx, ch.db, "events", events); err != nil {
		return err
	}
	stored := time.Since(start)
	cpu := readCPU(enginePID).sub(cpuStart)
	merges := engineMergeEvents(ctx, ch.db)
	for k, v := range mergesStart {
		merges[k] -= v
	}
	if err := prof.stop(); err != nil {
		return err
	}
	rawRate, err := rawEventInsert(ctx, ch.db, events)
	if err != nil {
		return err
	}
	add(benchLine{Area: "ingest", Measure: fmt.Sprintf("records HTTP -> spool -> ClickHouse, all channels (%d records)", sent),
		Value: float64(sent) / stored.Seconds(), Unit: "records/s", Reference: "raw clickhouse-go insert of event rows", RefValue: rawRate})
	add(benchLine{Area: "ingest", Measure: "records acknowledged (durable in the spool)", Value: float64(sent) / acked.Seconds(), Unit: "records/s"})
	addIngestCosts(add, sc, cpu, sent, enginePID != 0)
	addMerges(add, sc, merges, sent)
	if err := benchSegments(ctx, ch.db, sc.in.segments, add); err != nil {
		return err
	}
	if e := ch.engine; e != nil {
		add(benchLine{Area: "memory", Measure: "embedded engine resident memory", Value: e.ResidentMB(), Unit: "MB"})
	}
	// What the engine's own allocator accounts for (caches, parts being
	// merged, query state), as opposed to its resident pages.
	var tracked int64
	if err := ch.db.Conn.QueryRow(ctx, "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'").Scan(&tracked); err == nil {
		add(benchLine{Area: "memory", Measure: "embedded engine MemoryTracking (system.metrics)", Value: float64(tracked) / (1 << 20), Unit: "MB"})
	}
	return nil
}

// benchIngestServer serves the scratch platform's API on a free local port
// until ctx ends, with a new server write key, and returns the generator's
// target for it and the demo's WeCom settings.
func benchIngestServer(ctx context.Context, sc *scratch) (gen.Target, *ingest.WeCom, error) {
	key := api.NewSecret("cdp_wk_")
	if err := sc.creds.PutWriteKey(ctx, api.Principal{ID: "wk_bench", Name: "bench", Source: "bench", Scope: api.ScopeServer}, key, "bench"); err != nil {
		return gen.Target{}, nil, err
	}
	w, err := demoWeCom(sc.cfg)
	if err != nil {
		return gen.Target{}, nil, err
	}
	srv := api.New(api.Options{DB: sc.ch.db, Credentials: sc.creds, Collector: sc.in.collector, WeCom: w, Identity: sc.in.identity, Logger: sc.quiet})
	addrc := make(chan net.Addr, 1)
	go srv.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a })
	base := "http://" + (<-addrc).String()
	return gen.Target{BaseURL: base, WriteKey: key, WeCom: w.Crypto, AgentID: "1000002", Workers: 8}, w, nil
}

// countItems counts the generator's records, and the events among them.
func countItems(g *gen.Generator) (total int64, events int, err error) {
	err = g.Each(func(it gen.Item) error {
		total++
		if it.Kind == gen.KindEvent {
			events++
		}
		return nil
	})
	return total, events, err
}

// waitForRows waits until table holds at least n rows.
func waitForRows(ctx context.Context, db *store.DB, table string, n int) error {
	for {
		var got uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table(table)).Scan(&got); err != nil {
			return err
		}
		if int(got) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// addIngestCosts adds the CPU a record took in the platform and the engine,
// and the pipeline's batches. CPU per record is the figure a shared machine
// does not distort much: the rates fall with other processes' load, the CPU
// a record takes hardly. The platform's includes the generator's client.
func addIngestCosts(add func(benchLine), sc *scratch, cpu cpuTimes, sent int64, engine bool) {
	perRecord := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(max(sent, 1)) }
	add(benchLine{Area: "ingest", Measure: "platform CPU per record (HTTP client, server, spool, pipeline)", Value: perRecord(cpu.platform), Unit: "µs"})
	if engine {
		add(benchLine{Area: "ingest", Measure: "embedded engine CPU per record", Value: perRecord(cpu.engine), Unit: "µs"})
	}
	if n, rows := writerBatches(sc.reg, "events"); n > 0 {
		add(benchLine{Area: "ingest", Measure: fmt.Sprintf("pipeline batches (inserts into events, %d rows)", int(rows)), Value: n, Unit: "batches"})
	}
	// What the engine reported spending on each table's inserts, largest
	// first: where its CPU per record goes.
	byTable := metricByTable(sc.reg, "cdp_writer_engine_cpu_seconds_total")
	tables := slices.SortedFunc(maps.Keys(byTable), func(a, b string) int { return cmp.Compare(byTable[b], byTable[a]) })
	for _, t := range tables {
		add(benchLine{Area: "ingest", Measure: "engine CPU per record on inserts into " + t + " (as the engine reports it)", Value: perRecord(time.Duration(byTable[t] * float64(time.Second))), Unit: "µs"})
	}
}

// engineMergeEvents reads the engine's counters of background merges
// (system.events): how many it ran, the rows they read and the time they
// took; a counter the engine lacks is left out.
func engineMergeEvents(ctx context.Context, db *store.DB) map[string]float64 {
	out, _ := engineCounters(ctx, db, "SELECT event, toFloat64(value) FROM system.events WHERE event IN ('Merge', 'MergedRows', 'MergeTotalMilliseconds')")
	return out
}

// addMerges adds the parts the inserts wrote and the background merges
// the engine ran over the ingest window (merges is the change of
// engineMergeEvents).
func addMerges(add func(benchLine), sc *scratch, merges map[string]float64, sent int64) {
	parts := metricByTable(sc.reg, "cdp_writer_parts_total")
	var all float64
	for _, n := range parts {
		all += n
	}
	if batches, _ := writerBatches(sc.reg, "events"); batches > 0 {
		add(benchLine{Area: "ingest", Measure: fmt.Sprintf("parts the inserts wrote (all tables: %d; events, demand view included)", int(all)),
			Value: parts["events"] / batches, Unit: "parts/batch"})
	}
	if n, ok := merges["Merge"]; ok {
		add(benchLine{Area: "ingest", Measure: fmt.Sprintf("engine's background merges during the run (%d merges, %.1f rows merged per record; their wall time)", int(n), merges["MergedRows"]/float64(max(sent, 1))),
			Value: merges["MergeTotalMilliseconds"] * 1000 / float64(max(sent, 1)), Unit: "µs/record"})
	}
}

// metricByTable returns a counter's values per table label.
func metricByTable(reg *prometheus.Registry, name string) map[string]float64 {
	out := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// writerBatches returns the batches and rows the writer inserted into table
// (cdp_writer_batches_total and cdp_writer_rows_total).
func writerBatches(reg *prometheus.Registry, table string) (batches, rows float64) {
	return metricByTable(reg, "cdp_writer_batches_total")[table], metricByTable(reg, "cdp_writer_rows_total")[table]
}

// benchRule and benchSQL are one audience in the segment language and as
// the single SQL query a SQL-cohort system would run.
const benchRule = `did("video_complete", 30, {"topic": "控糖"}) >= 2 && bought("低GI大米", 365) >= 1 && !chat("退订", 90)`

func benchSQL(db *store.DB) string {
	canonical := schema.Canonical(db.Table("persons"), "")
	return `SELECT count() FROM (
	SELECT p.canonical AS c FROM ` + db.Table("events") + ` AS e
	INNER JOIN ` + canonical + ` AS p ON p.person_id = e.person_id
	WHERE e.event = 'video_complete' AND e.topic = '控糖' AND e.ts >= now() - INTERVAL 30 DAY
	GROUP BY c HAVING count() >= 2
) WHERE c IN (
	SELECT p.canonical FROM (SELECT * FROM ` + db.Table("order_lines") + ` FINAL WHERE category = '低GI大米' AND ordered_at >= now() - INTERVAL 365 DAY) AS l
	INNER JOIN (SELECT channel, order_id, person_id FROM ` + db.Table("orders") + ` FINAL WHERE ` + schema.ValidOrder + `) AS o
		ON o.channel = l.channel AND o.order_id = l.order_id
	INNER JOIN ` + canonical + ` AS p ON p.person_id = o.person_id
) AND c NOT IN (
	SELECT p.canonical FROM ` + db.Table("wecom_messages_visible") + ` AS m
	INNER JOIN ` + canonical + ` AS p ON p.person_id = m.person_id
	WHERE positionUTF8(m.content, '退订') > 0 AND m.msgtime >= now() - INTERVAL 90 DAY AND m.from = m.external_userid
)`
}

// benchSegments times a three-clause rule cold (new rule), warm (cached)
// and as one SQL query, on the data the ingest bench loaded.
func benchSegments(ctx context.Context, db *store.DB, segs *segments.Store, add func(benchLine)) error {
	e := segs.Engine()
	start := time.Now()
	cold, err := e.Estimate(ctx, benchRule, 0)
	if err != nil {
		return err
	}
	coldTook := time.Since(start)
	start = time.Now()
	const warmRuns = 20
	for range warmRuns {
		if _, err := e.Estimate(ctx, benchRule, 0); err != nil {
			return err
		}
	}
	warm := time.Since(start) / warmRuns
	start = time.Now()
	var n uint64
	if err := db.Conn.QueryRow(ctx, benchSQL(db)).Scan(&n); err != nil {
		return fmt.Errorf("bench: segment as one SQL query: %w", err)
	}
	sqlTook := time.Since(start)
	ref := fmt.Sprintf("one SQL query (%d members)", n)
	add(benchLine{Area: "segments", Measure: fmt.Sprintf("rule estimate, warm (%d members of %d)", cold.Count, cold.Universe),
		Value: float64(warm.Microseconds()) / 1000, Unit: "ms", Reference: ref, RefValue: float64(sqlTook.Microseconds()) / 1000})
	add(benchLine{Area: "segments", Measure: "rule estimate, cold (new rule)", Value: float64(coldTook.Microseconds()) / 1000, Unit: "ms",
		Reference: ref, RefValue: float64(sqlTook.Microseconds()) / 1000})
	return nil
}

// benchPlanning times planning a campaign for every generated person.
func benchPlanning(persons int, add func(benchLine)) {
	members := roaring.New()
	members.AddRange(1, uint64(persons)+1)
	opted, consented := roaring.New(), roaring.New()
	for p := uint32(1); p <= uint32(persons); p += 50 {
		opted.Add(p)
	}
	consented.AddRange(1, uint64(persons)+1)
	a := campaigns.Audience{Members: members, OptedOut: opted, Consented: consented, AtCap: roaring.New(),
		Addresses: func(p uint32) (campaigns.Address, bool) {
			return campaigns.Address{To: "wm", Sender: "staff"}, p%10 != 0
		}}
	start := time.Now()
	plan := campaigns.MakePlan(a, campaigns.PlanOptions{CampaignID: "bench", HoldoutPercent: 10, Sensitive: true, Now: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)})
	add(benchLine{Area: "campaigns", Measure: fmt.Sprintf("plan for %d recipients (%d treatment)", persons, plan.Counts[campaigns.GroupTreatment]),
		Value: time.Since(start).Seconds(), Unit: "s", Reference: "goal", RefValue: 10})
}

// rawEventInsert inserts n event-shaped rows into a scratch table with one
// PrepareBatch and returns rows/s: the physical limit the pipeline is
// compared with.
func rawEventInsert(ctx context.Context, db *store.DB, n int) (float64, error) {
	scratch := db.Table("bench_raw_events")
	// The events table's own definition: on a sharded cluster the node's
	// local table, since a copy of the Distributed front would be a second
	// front over the same local tables and put the raw rows in the events.
	if err := db.Conn.Exec(ctx, "CREATE TABLE "+scratch+" AS "+db.Local("events")); err != nil {
		return 0, fmt.Errorf("bench: create raw events table: %w", err)
	}
	defer db.Conn.Exec(context.Background(), "DROP TABLE "+scratch)
	ts := demoEnd.UTC()
	start := time.Now()
	batch, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+scratch+" (id_types, id_values, message_id, type, event, ts, received_at, source, person_id, user_id, anonymous_id, properties, traits, context, spool_seq)")
	if err != nil {
		return 0, fmt.Errorf("bench: insert raw events: %w", err)
	}
	for i := range n {
		id := strconv.Itoa(i)
		err := batch.Append([]string{"anonymous_id", "douyin_openid"}, []string{"dev-" + id, "dy_" + id}, "raw-"+id, "track", "video_complete", ts, ts, "bench",
			uint32(i), "", "dev-"+id, `{"topic":"控糖","completion_ratio":0.93,"video_id":"v1"}`, "", `{"externalIds":[{"id":"dy_1","type":"douyin_openid"}]}`, uint64(i))
		if err != nil {
			return 0, err
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("bench: insert raw events: %w", err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
