package main

// The analysts' side of `cdp bench --load` (issue #17): estimates at a
// fixed rate, half of them rules seen before (warm: their leaves are
// cached) and half never seen (cold: a window no rule used yet), and the
// live campaign's latency from segment entry to the send recorded.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/granarycdp/cdp/segments"
)

// loadTopics are the content topics of the load's events.
var loadTopics = []string{"控糖", "花生油", "低GI大米", "减脂", "宝宝辅食"}

// coldRule is the n-th rule no analyst has run before in this run: its
// leaves have windows (in days) or topics no earlier rule of the run
// used, so the engine computes them from ClickHouse (for the first 1,820
// rules: 12 minutes at 2.5 cold rules a second). Rules vary in shape: one
// or two clauses over views, completions, searches and carts.
func coldRule(n int) string {
	days := 2 + n%coldWindows // 1 day is the campaign's and a warm rule's window
	topic := loadTopics[(n/coldWindows)%len(loadTopics)]
	switch n % coldShapes {
	case 0:
		return fmt.Sprintf(`did("video_complete", %d, {"topic": %q}) >= 1`, days, topic)
	case 1:
		return fmt.Sprintf(`did("video_play", %d, {"topic": %q}) >= 1 && did("search", %d, {"keyword": %q}) >= 1`, days, topic, days, topic)
	}
	return fmt.Sprintf(`did("add_to_cart", %d) >= 1 && did("video_complete", %d, {"topic": %q}) == 0 || did("search", %d) >= 2`, days, days, topic, days)
}

// coldShapes is the number of shapes of coldRule's rules (n % coldShapes):
// 0 an existence leaf over completions of a topic; 1 that over plays and
// one over searches of a keyword; 2 existence leaves over carts and
// completions and a count (>= 2) over searches. The load run reports cold
// estimates' p99 by shape.
const coldShapes = 3

// coldWindows are the windows cold rules cycle through: 2 to 365 days,
// the longest behaviour window a rule may read.
const coldWindows = 364

// estimators estimate at rate per second until runCtx ends, alternating
// warm (loadRules) and cold (coldRule) rules, with at most 8 in flight:
// when the platform falls behind the rate drops, which the interval's
// estimate count shows.
func (l *loadRun) estimators(runCtx context.Context, rate float64) {
	if rate <= 0 {
		return
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	slots := make(chan struct{}, 8)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-runCtx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		case <-runCtx.Done():
			return
		}
		shape := -1 // warm
		rule := loadRules[(i/2)%len(loadRules)]
		if i%2 == 1 {
			rule, shape = coldRule(i/2), (i/2)%coldShapes
		}
		wg.Go(func() {
			defer func() { <-slots }()
			l.estimate(runCtx, rule, shape)
		})
	}
}

// estimate runs one estimate of rule, a cold rule of shape shape
// (coldRule) or a warm one (shape -1), and records its latency.
func (l *loadRun) estimate(runCtx context.Context, rule string, shape int) {
	start := time.Now()
	status, err := l.apiCall("POST", "/api/v1/segments/estimate", map[string]string{"rule": rule}, nil)
	switch {
	case err != nil:
		var ne net.Error
		switch {
		case runCtx.Err() != nil:
		case errors.As(err, &ne) && ne.Timeout():
			l.sm.fail("estimate timeout") // the client's 30 s
		default:
			l.sm.fail("estimate transport")
		}
	case status == 200:
		l.sm.estimate(time.Since(start), shape)
	default:
		l.sm.fail("estimate " + strconv.Itoa(status))
	}
}

// entrySend is the live campaign's latency over the sends recorded in
// one interval: from the person's entry into the segment (the live
// segments' segment_changes row) and from the receipt of the event that
// made them enter (their second cart), to the send recorded as sent.
type entrySend struct {
	Sends    uint64  `json:"sends"`
	EntryP50 float64 `json:"entry_to_send_p50_ms"`
	EntryP99 float64 `json:"entry_to_send_p99_ms"`
	EventP99 float64 `json:"event_to_send_p99_ms"`
}

// measureEntrySend reads entrySend for the sends recorded in (from, to].
func (l *loadRun) measureEntrySend(ctx context.Context, from, to time.Time) (entrySend, error) {
	var out entrySend
	if l.segmentID == "" {
		return out, nil
	}
	db := l.sc.ch.db
	q := `SELECT count(), quantile(0.5)(entry_ms), quantile(0.99)(entry_ms), quantile(0.99)(event_ms) FROM (
	SELECT dateDiff('millisecond', e.entered, s.sent) AS entry_ms, dateDiff('millisecond', c.second_cart, s.sent) AS event_ms
	FROM (SELECT person_id, updated_at AS sent FROM ` + db.Table("campaign_sends") + ` FINAL
		WHERE campaign_id = ? AND group = 'treatment' AND state = 'sent' AND updated_at > ? AND updated_at <= ?) AS s
	INNER JOIN (SELECT person_id, min(ts) AS entered FROM ` + db.Table("segment_changes") + `
		WHERE segment_id = ? AND change = 'enter' GROUP BY person_id) AS e ON e.person_id = s.person_id
	INNER JOIN (SELECT person_id, arraySort(groupArray(received_at))[2] AS second_cart FROM ` + db.Table("events") + `
		WHERE event = 'add_to_cart' AND person_id IN (SELECT person_id FROM ` + db.Table("campaign_sends") + ` FINAL
			WHERE campaign_id = ? AND state = 'sent' AND updated_at > ? AND updated_at <= ?)
		GROUP BY person_id) AS c ON c.person_id = s.person_id)`
	var p50, p99, ev99 float64
	err := db.Conn.QueryRow(ctx, q, l.rep.Campaign, from, to, l.segmentID, l.rep.Campaign, from, to).Scan(&out.Sends, &p50, &p99, &ev99)
	if err != nil {
		return out, fmt.Errorf("load: entry to send latency: %w", err)
	}
	if out.Sends > 0 {
		out.EntryP50, out.EntryP99, out.EventP99 = p50, p99, ev99
	}
	return out, nil
}

// runSample is what may hold a request back besides its own work, over
// one interval: the Go scheduler's latency (a runnable goroutine waiting
// for a thread, i.e. CPU contention), garbage collection, the CPU the
// platform and the engine child used, and the segment engine's leaf
// cache (full computations, patches, and reads that waited for another
// caller's computation).
type runSample struct {
	SchedP99MS    float64 `json:"sched_latency_p99_ms"`
	SchedMaxMS    float64 `json:"sched_latency_max_ms"`
	GCCycles      uint64  `json:"gc_cycles"`
	GCPauseMaxMS  float64 `json:"gc_pause_max_ms"`
	PlatformCores float64 `json:"platform_cpu_cores"`
	EngineCores   float64 `json:"engine_cpu_cores"`
	LeafMisses    uint64  `json:"leaf_computations"`
	LeafPatches   uint64  `json:"leaf_patches"`
	LeafWaits     uint64  `json:"leaf_waits"`
	// SlotWaitMS and LeafQueryMS are the mean time the engine's
	// foreground leaf and patch queries waited for a query slot and then
	// took (segments.CacheStats).
	SlotWaitMS  float64 `json:"leaf_slot_wait_mean_ms"`
	LeafQueryMS float64 `json:"leaf_query_mean_ms"`
}

// runProbe reads runSamples; it is used by one goroutine.
type runProbe struct {
	rt        []metrics.Sample // scheduler latencies, GC pauses, GC cycles
	prev      [2][]uint64      // the two histograms' counts at the last sample
	cycles    uint64
	cpu       cpuTimes
	at        time.Time
	enginePID func() int
	leaves    func() segments.CacheStats
	lastLeaf  segments.CacheStats
}

func newRunProbe(enginePID func() int, leaves func() segments.CacheStats) *runProbe {
	p := &runProbe{enginePID: enginePID, leaves: leaves, rt: []metrics.Sample{
		{Name: "/sched/latencies:seconds"}, {Name: "/gc/pauses:seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}}
	p.sample()
	return p
}

// sample returns the figures since the last call.
func (p *runProbe) sample() runSample {
	var s runSample
	metrics.Read(p.rt)
	now, cpu := time.Now(), readCPU(p.enginePID())
	for i := range 2 {
		h := p.rt[i].Value.Float64Histogram()
		diff := slices.Clone(h.Counts)
		if p.prev[i] != nil {
			for j := range diff {
				diff[j] -= p.prev[i][j]
			}
		}
		p99, top := histQuantile(h.Buckets, diff, .99)
		if i == 0 {
			s.SchedP99MS, s.SchedMaxMS = p99*1000, top*1000
		} else {
			s.GCPauseMaxMS = top * 1000
		}
		p.prev[i] = slices.Clone(h.Counts)
	}
	cycles := p.rt[2].Value.Uint64()
	s.GCCycles, p.cycles = cycles-p.cycles, cycles
	if !p.at.IsZero() {
		d := cpu.sub(p.cpu)
		el := now.Sub(p.at).Seconds()
		s.PlatformCores, s.EngineCores = d.platform.Seconds()/el, d.engine.Seconds()/el
	}
	p.cpu, p.at = cpu, now
	if p.leaves != nil {
		st := p.leaves()
		s.LeafMisses, s.LeafPatches, s.LeafWaits = st.Misses-p.lastLeaf.Misses, st.Refreshes-p.lastLeaf.Refreshes, st.Waits-p.lastLeaf.Waits
		if n := st.Queries - p.lastLeaf.Queries; n > 0 {
			s.SlotWaitMS = float64(st.SlotWait-p.lastLeaf.SlotWait) / float64(n) / 1e6
			s.LeafQueryMS = float64(st.QueryTime-p.lastLeaf.QueryTime) / float64(n) / 1e6
		}
		p.lastLeaf = st
	}
	return s
}

// histQuantile returns the upper bound of the bucket holding quantile q
// of counts, and of the highest bucket counted (a lower bound where the
// upper one is infinite); zeros for no counts.
func histQuantile(buckets []float64, counts []uint64, q float64) (quant, top float64) {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, 0
	}
	bound := func(i int) float64 {
		if math.IsInf(buckets[i+1], 1) {
			return buckets[i]
		}
		return buckets[i+1]
	}
	var cum uint64
	quant = -1
	for i, c := range counts {
		cum += c
		if quant < 0 && float64(cum) >= q*float64(total) {
			quant = bound(i)
		}
		if c > 0 {
			top = bound(i)
		}
	}
	return quant, top
}

// runPercentiles are p99s over every sample of a stretch of the run.
type runPercentiles struct {
	Acks         int     `json:"acks"`
	AckP99       float64 `json:"ack_p99_ms"`
	Estimates    int     `json:"estimates"`
	EstimateP99  float64 `json:"estimate_p99_ms"`
	ColdP99      float64 `json:"cold_p99_ms"`
	WarmP99      float64 `json:"warm_p99_ms"`
	acks, ests   []time.Duration
	cold, warmed []time.Duration
}

// add takes an interval's samples.
func (r *runPercentiles) add(acks, cold, warm []time.Duration) {
	r.acks = append(r.acks, acks...)
	r.cold = append(r.cold, cold...)
	r.warmed = append(r.warmed, warm...)
	r.ests = append(append(r.ests, cold...), warm...)
}

// summarize sets the counts and p99s of the samples added, at the end of
// the run.
func (r *runPercentiles) summarize() {
	r.Acks, r.Estimates = len(r.acks), len(r.ests)
	r.AckP99, r.EstimateP99 = percentile(r.acks, .99), percentile(r.ests, .99)
	r.ColdP99, r.WarmP99 = percentile(r.cold, .99), percentile(r.warmed, .99)
}
