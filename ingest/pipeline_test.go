package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// gateResolver is the identity graph behind a gate: Resolve waits until
// the gate opens.
type gateResolver struct {
	open  chan struct{}
	mu    sync.Mutex
	graph *identity.Graph
}

func (g *gateResolver) Resolve(ref string, ids []identity.Identifier, at time.Time, ch *identity.Changes) uint32 {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.graph.Resolve(ref, ids, at, ch)
}

// stuckAtBuild is the batches planned when the resolve-and-build stage is
// stuck on its batch: one in each of the first three stages and
// pipelineDepth in each of the two channels between them.
const stuckAtBuild = 3 + 2*pipelineDepth

// stoppedIngestRun is an ingest run whose pipeline is stopped, for a test
// that runs its own pipeline over the run's spool and collector.
func stoppedIngestRun(t *testing.T, db *store.DB) *ingestRun {
	r := startIngestRun(t, db, t.TempDir(), "")
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.w.Close(context.Background())
		r.col.Close()
		r.sp.Close()
	})
	return r
}

// While identity resolution is stuck, the stages before it stop once the
// channels are full (back-pressure: stuckAtBuild batches planned, however
// much the spool holds), nothing is inserted, and once it resumes every
// record is stored once and the spool drains.
func TestPipelineHoldsABoundedNumberOfBatches(t *testing.T) {
	db := storetest.Migrated(t)
	r := stoppedIngestRun(t, db)
	const batches = 12
	for b := range batches {
		if res := r.send(t, testBatch(fmt.Sprintf("bound%d", b), 10)); res.Accepted != 10 {
			t.Fatalf("batch %d: %+v", b, res)
		}
	}
	gate := &gateResolver{open: make(chan struct{}), graph: identity.NewGraph(identity.DefaultRules())}
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	defer w.Close(context.Background())
	p := NewPipeline(PipelineOptions{Spool: r.sp, Writer: w, SpoolID: "bound", BatchRecords: 10, Linger: time.Millisecond, Resolver: gate})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(gate.open) }) }
	defer func() { openGate(); stop(); <-done }() // a failure below must not leave Run stuck

	// Wait for the stages to fill, then watch that they stay filled.
	deadline := time.Now().Add(time.Minute)
	for len(r.sp.Plans()) < stuckAtBuild && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range 200 {
		if n := len(r.sp.Plans()); n != stuckAtBuild {
			t.Fatalf("%d batches planned while resolution is stuck, want %d (of %d waiting in the spool)", n, stuckAtBuild, batches)
		}
		time.Sleep(time.Millisecond)
	}
	if c := r.sp.Committed(); c != 0 {
		t.Fatalf("committed up to %d before the first batch was resolved", c)
	}
	openGate()
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.WaitCommitted(wctx, r.sp.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.sp.Plans()); n != 0 {
		t.Fatalf("%d plans left after the spool drained", n)
	}
	assertStoredOnce(t, db, batches*10)
}

// A batch stays open past Linger while two batches are ahead in the stages
// (the insert stage is behind): records that arrive meanwhile join it
// instead of following as batches of their own. With nothing or one batch
// ahead, a batch is handed on when Linger has passed, as before. The
// linger's clock is moved by the test.
func TestPipelineGrowsABatchWhileTwoAreAhead(t *testing.T) {
	db := storetest.Migrated(t)
	r := stoppedIngestRun(t, db)
	gate := &gateResolver{open: make(chan struct{}), graph: identity.NewGraph(identity.DefaultRules())}
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	defer w.Close(context.Background())
	var mu sync.Mutex
	var committed []uint64
	p := NewPipeline(PipelineOptions{Spool: r.sp, Writer: w, SpoolID: "grow", Linger: time.Minute, MaxLinger: time.Hour, Resolver: gate,
		AfterCommit: func(Committed) {
			mu.Lock()
			committed = append(committed, r.sp.Committed())
			mu.Unlock()
		}})
	fire := make(chan time.Time)
	p.after = func(time.Duration) <-chan time.Time { return fire }
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(gate.open) }) }
	defer func() { openGate(); stop(); <-done }()

	waitPlans := func(want int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for len(r.sp.Plans()) < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := len(r.sp.Plans()); n != want {
			t.Fatalf("%d batches planned, want %d", n, want)
		}
	}
	send := func(name string) {
		t.Helper()
		if res := r.send(t, testBatch(name, 10)); res.Accepted != 10 {
			t.Fatalf("%s: %+v", name, res)
		}
	}
	// Nothing ahead, then one: each batch goes on when Linger has passed.
	send("a")
	fire <- time.Time{}
	waitPlans(1)
	send("b")
	fire <- time.Time{}
	waitPlans(2)
	// Two ahead (a stuck in resolution, b queued): c stays open.
	send("c1")
	fire <- time.Time{} // received by c's gather, which holds c1
	send("c2")
	send("c3")
	for range 200 {
		if n := len(r.sp.Plans()); n != 2 {
			t.Fatalf("%d batches planned while two were ahead, want 2: the third was handed on after Linger", n)
		}
		time.Sleep(time.Millisecond)
	}
	openGate()
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.WaitCommitted(wctx, r.sp.LastSeq()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var sizes []uint64
	prev := uint64(0)
	for _, c := range committed {
		sizes, prev = append(sizes, c-prev), c
	}
	if fmt.Sprint(sizes) != "[10 10 30]" {
		t.Fatalf("batches of %v records, want [10 10 30]", sizes)
	}
	assertStoredOnce(t, db, 50)
}
