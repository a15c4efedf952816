package journeys

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchPersons is how many persons BenchmarkEnterAMillion enters
// (CDP_BENCH_JOURNEY_PERSONS, default 1,000,000).
func benchPersons() int {
	n, _ := strconv.Atoi(os.Getenv("CDP_BENCH_JOURNEY_PERSONS"))
	return cmp.Or(max(n, 0), 1_000_000)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkEnterAMillion enters a million persons into a journey at once
// (a segment's entries) and times the round that records each run's entry
// and its wait durably (4 rows a person: entry and wait in journey_steps
// and journey_runs); it reports the time to schedule, runs per second and
// the executor's memory per waiting run. Run it with -benchtime=1x.
func BenchmarkEnterAMillion(b *testing.B) {
	n := benchPersons()
	f := newFixture(b, n)
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "3d"}}, exit("out"))
	d.Entry.IncludeCurrent = false
	j := f.launch(d)
	f.round()
	persons := make([]uint32, n)
	for i := range persons {
		persons[i] = uint32(i + 1)
	}
	before := heapInUse()
	b.ResetTimer()
	for range b.N {
		f.svc.SegmentChanged(segmentChange(f.seg, persons...))
		began := time.Now()
		f.round()
		took := time.Since(began)
		b.ReportMetric(took.Seconds(), "s/schedule")
		b.ReportMetric(float64(n)/took.Seconds(), "runs/s")
	}
	b.StopTimer()
	persons = nil
	after := heapInUse()
	if got := len(f.svc.live[j.ID].runs); got != n {
		b.Fatalf("%d runs in memory, want %d", got, n)
	}
	b.ReportMetric(float64(after-before)/float64(n), "B/waiting-run")
	runtime.KeepAlive(f.svc)
}

// BenchmarkWakeLatency keeps 10,000 runs waiting for a search event under
// the real loop (Run) and, one person at a time, records a matching search
// and tells the executor (Touched, as the pipeline does after the commit):
// it reports the p50 and p99 time from Touched to the run's move down
// "happened" being recorded in ClickHouse, and the steps per second of a
// wait's end for all 10,000 at once.
func BenchmarkWakeLatency(b *testing.B) {
	const n = 10_000
	f := newFixture(b, n)
	f.svc.Now = nil // the real clock: Run waits on real timers
	f.camps.Now = nil
	d := f.segmentJourney(Node{ID: "look", Type: NodeWaitFor, WaitFor: &WaitFor{Event: &EventFilter{Name: "search"}, Timeout: "1h", Happened: "hit", TimedOut: "out"}},
		exit("hit"), exit("out"))
	j := f.launch(d)
	var mu sync.Mutex
	woke := map[uint32]chan struct{}{}
	f.svc.moved = func(moves []move) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range moves {
			if ch := woke[m.person]; ch != nil && m.outcome == "happened" {
				close(ch)
				delete(woke, m.person)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.svc.Run(ctx, RunOptions{}) })
	defer func() { cancel(); wg.Wait() }()
	for f.runs(j, stateWaiting, "look") < n {
		time.Sleep(50 * time.Millisecond) // the launch's round is under way
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		p := uint32(i%n + 1)
		ch := make(chan struct{})
		mu.Lock()
		woke[p] = ch
		mu.Unlock()
		now := time.Now().UTC()
		f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties",
			[][]any{{fmt.Sprint("w", i), "track", "search", now, now, "douyin", p, "{}"}})
		began := time.Now()
		f.svc.Touched([]uint32{p}, []string{"events"})
		<-ch
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
}
