package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/spool"
)

// dedupRig is a collector on a spool and a deduplication store in
// folders that outlive it, with a clock the test moves.
type dedupRig struct {
	t        *testing.T
	spoolDir string
	dedupDir string
	opts     DedupOptions
	now      time.Time
	sp       *spool.Spool
	col      *Collector
}

func newDedupRig(t *testing.T, opts DedupOptions) *dedupRig {
	r := &dedupRig{t: t, spoolDir: t.TempDir(), dedupDir: filepath.Join(t.TempDir(), "dedup"), opts: opts,
		now: time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)}
	r.open()
	t.Cleanup(func() {
		if r.col != nil {
			r.close()
		}
	})
	return r
}

func (r *dedupRig) open() {
	r.t.Helper()
	sopts := spool.DefaultOptions()
	sopts.Dir = r.spoolDir
	sp, err := spool.Open(sopts)
	if err != nil {
		r.t.Fatal(err)
	}
	opts := r.opts
	opts.Dir = r.dedupDir
	d, err := OpenDedup(opts)
	if err != nil {
		r.t.Fatal(err)
	}
	prot, err := identity.NewProtector([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.sp = sp
	r.col = NewCollector(Options{Spool: sp, Protector: prot, Dedup: d, Now: func() time.Time { return r.now }})
}

func (r *dedupRig) close() {
	r.t.Helper()
	if err := r.col.Close(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.sp.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.col = nil
}

func (r *dedupRig) send(body string) Result {
	r.t.Helper()
	res, err := r.col.TrackSpec(context.Background(), "app", "batch", []byte(body))
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// testBatch is a Segment batch of n tracks with messageIds prefix-0..n-1.
func testBatch(prefix string, n int) string {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"type":"track","messageId":"%s-%d","userId":"u%d","event":"search"}`, prefix, i, i%7)
	}
	return `{"batch":[` + strings.Join(msgs, ",") + `]}`
}

// A key is remembered for at least the window and forgotten after at most
// window*(1+1/dedupGenerations); the clock moves, nothing sleeps.
func TestDedupKeyOlderThanWindowIsAcceptedAgain(t *testing.T) {
	const window = 8 * time.Hour
	r := newDedupRig(t, DedupOptions{Window: window})
	body := testBatch("w", 10)
	if res := r.send(body); res.Accepted != 10 {
		t.Fatalf("first: %+v", res)
	}
	start := r.now
	for _, at := range []time.Duration{time.Minute, window / 2, window - time.Nanosecond} {
		r.now = start.Add(at)
		if res := r.send(body); res.Accepted != 0 || res.Duplicates != 10 {
			t.Fatalf("retry %s later, within the window: %+v, want 10 duplicates", at, res)
		}
	}
	r.now = start.Add(window + window/dedupGenerations)
	if res := r.send(body); res.Accepted != 10 {
		t.Fatalf("retry after the window: %+v, want 10 accepted again", res)
	}
	// Accepted again, it is remembered again.
	if res := r.send(body); res.Duplicates != 10 {
		t.Fatalf("retry of the re-accepted batch: %+v", res)
	}
	// The expired generations' keys are gone from disk, not only skipped.
	d := r.col.dedup
	if n := d.keysOnDisk(t, genPrefix(0), genPrefix(d.oldestLive(r.now))); n != 0 {
		t.Fatalf("%d expired keys still on disk", n)
	}
}

// keysOnDisk counts the store's keys in [from, to).
func (d *Dedup) keysOnDisk(t testing.TB, from, to []byte) int {
	it, err := d.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.SeekGE(from); ok && string(it.Key()) < string(to); ok = it.Next() {
		n++
	}
	return n
}

// A clean stop keeps the keys on disk: the retry after the restart is
// refused without any warm-up, and the filters are reloaded from their
// files, not rebuilt.
func TestDedupRetryAfterCleanRestartIsRefusedFromDisk(t *testing.T) {
	r := newDedupRig(t, DedupOptions{Window: 24 * time.Hour})
	body := testBatch("restart", 50)
	if res := r.send(body); res.Accepted != 50 {
		t.Fatalf("first: %+v", res)
	}
	r.now = r.now.Add(4 * time.Hour) // the first generation ends: its filter gets a file
	if res := r.send(testBatch("later", 5)); res.Accepted != 5 {
		t.Fatalf("later: %+v", res)
	}
	r.close()
	r.open()
	d := r.col.dedup
	if n := d.keysOnDisk(t, genPrefix(0), metaPrefix); n != 55 {
		t.Fatalf("%d keys on disk, want 55", n)
	}
	for _, g := range d.gens {
		if !g.trusted.Load() {
			t.Fatalf("generation %d's filter is rebuilt after a clean stop", g.idx)
		}
	}
	if res := r.send(body); res.Accepted != 0 || res.Duplicates != 50 {
		t.Fatalf("retry after restart: %+v, want 50 duplicates", res)
	}
	if res := r.send(testBatch("later", 5)); res.Duplicates != 5 {
		t.Fatalf("retry after restart: %+v, want 5 duplicates", res)
	}
	if fi, err := os.Stat(r.dedupDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store folder %v %v, want mode 0700", fi.Mode(), err)
	}
}

// Concurrent copies of one request store it once: the second finds the
// first's reservation pending in memory or its key on disk.
func TestDedupConcurrentCopiesAreStoredOnce(t *testing.T) {
	r := newDedupRig(t, DedupOptions{})
	body := testBatch("copy", 20)
	results := make(chan Result, 8)
	for range 8 {
		go func() {
			res, _ := r.col.TrackSpec(context.Background(), "app", "batch", []byte(body))
			results <- res
		}()
	}
	accepted := 0
	for range 8 {
		res := <-results
		accepted += res.Accepted
	}
	if accepted != 20 {
		t.Fatalf("%d accepted over 8 copies, want 20", accepted)
	}
	if got := r.sp.LastSeq(); got != 20 {
		t.Fatalf("%d records spooled, want 20", got)
	}
}

// A request whose records could not be spooled releases its keys: the
// retry is accepted.
func TestDedupReleasedKeysAreAcceptedAgain(t *testing.T) {
	r := newDedupRig(t, DedupOptions{})
	body := testBatch("busy", 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.col.TrackSpec(ctx, "app", "batch", []byte(body)); err == nil {
		// A spool append honours a cancelled context only when it has to
		// wait; if this one went through, the keys are rightly taken.
		t.Skip("the spool accepted the append despite the cancelled context")
	}
	if res := r.send(body); res.Accepted != 3 {
		t.Fatalf("after release: %+v, want 3 accepted", res)
	}
}

func TestBlockedBloomHasNoFalseNegativesAndRoundTrips(t *testing.T) {
	golden := uint64(0x9E3779B97F4A7C15) // spreads i over 64 bits
	f := newBlockedBloom(64<<10, bloomProbes(64<<10, 50_000))
	for i := range uint64(50_000) {
		f.add(i * golden)
	}
	fp := 0
	for i := range uint64(100_000) {
		if !f.has(i*golden) && i < 50_000 {
			t.Fatalf("key %d added and not found", i)
		}
		if i >= 50_000 && f.has(i*golden) {
			fp++
		}
	}
	// 10.5 bits per key: about 1%.
	if rate := float64(fp) / 50_000; rate > 0.03 {
		t.Fatalf("false-positive rate %.3f at 10.5 bits per key", rate)
	}
	g, err := unmarshalBloom(f.marshal(7), 7)
	if err != nil || g.k != f.k || len(g.words) != len(f.words) || !g.has(golden*3) {
		t.Fatalf("round trip: %v", err)
	}
	b := f.marshal(7)
	b[100] ^= 1
	if _, err := unmarshalBloom(b, 7); err == nil {
		t.Fatal("a corrupt file is accepted")
	}
	if _, err := unmarshalBloom(f.marshal(7), 8); err == nil {
		t.Fatal("another generation's file is accepted")
	}
}

// The window holds far more keys than its memory budget could hold in a
// map (1 M keys: ~40 MB as before; 1 MiB of filters here): the filters
// stay within the budget, the heap does not grow with the keys, and every
// answer is still right: keys within the window are refused, new keys and
// keys older than the window accepted.
func TestDedupMemoryIsBoundedByTheBudgetNotTheWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million keys")
	}
	const (
		budget = 1 << 20
		total  = 1_000_000
		span   = 36 * time.Hour // keys arrive over 1.5 windows
		window = 24 * time.Hour
	)
	d, err := OpenDedup(DedupOptions{Dir: t.TempDir(), Window: window, FilterBytes: budget, PlannedKeys: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.bind(func() uint64 { return 0 })
	start := time.Date(2026, 6, 18, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * (span / total)) }
	key := benchKey
	var heapAtQuarter uint64
	for i := 0; i < total; i += 1000 {
		r := d.request()
		for j := i; j < i+1000; j++ {
			if ok, err := r.reserve(key(j), at(j)); err != nil || !ok {
				t.Fatalf("new key %d: %v %v", j, ok, err)
			}
		}
		r.commit()
		if f := d.filterBytes(); f > budget {
			t.Fatalf("filters hold %d bytes, over the %d budget", f, budget)
		}
		if i == total/4 {
			heapAtQuarter = heapInUse()
		}
	}
	heapAtEnd := heapInUse()
	growth := int64(heapAtEnd) - int64(heapAtQuarter)
	st := d.Stats()
	t.Logf("%d keys: filters %d KiB in %d generations, Go heap %d → %d KiB (%+d KiB), Pebble memtables and cache %d KiB, disk %.1f MB, %d disk lookups",
		total, st.FilterBytes>>10, st.Generations, heapAtQuarter>>10, heapAtEnd>>10, growth>>10, st.PebbleBytes>>10, float64(st.DiskBytes)/1e6, st.DiskLookups)
	// A map would have grown by ~30 MB over the last 750,000 keys.
	if growth > 4<<20 {
		t.Fatalf("heap grew by %d KiB over the last %d keys", growth>>10, total*3/4)
	}
	now := at(total)
	r := d.request()
	for i := total - 1; i > total-20_000; i -= 7 { // within the window
		if ok, err := r.reserve(key(i), now); err != nil || ok {
			t.Fatalf("key %d, %s old, accepted again within the window (%v)", i, now.Sub(at(i)), err)
		}
	}
	for i := 0; i < total/4; i += 97 { // arrived 27 h to 36 h ago
		if ok, err := r.reserve(key(i), now); err != nil || !ok {
			t.Fatalf("key %d, %s old, refused after the window (%v)", i, now.Sub(at(i)), err)
		}
	}
	for i := total; i < total+5000; i++ {
		if ok, err := r.reserve(key(i), now); err != nil || !ok {
			t.Fatalf("new key %d refused (%v)", i, err)
		}
	}
	r.release()
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Requests racing for the same keys reserve each key once: the lookup runs
// outside the stripe's lock, and a copy that arrives while another request
// looks the key up waits for its answer instead of looking up too. Each
// request commits what it reserved, so a later copy finds it on disk.
func TestDedupRacingReservationsTakeEachKeyOnce(t *testing.T) {
	d, err := OpenDedup(DedupOptions{Dir: filepath.Join(t.TempDir(), "dedup")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const keys, racers = 3000, 6
	now := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	taken := make([]atomic.Int32, keys)
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			for start := 0; start < keys; start += 50 {
				r := d.request()
				for i := start; i < start+50; i++ {
					k := i // all in the same order: the most overlap
					ok, err := r.reserve(fmt.Sprintf("app:race-%d", k), now)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						taken[k].Add(1)
					}
				}
				r.commit()
			}
		})
	}
	wg.Wait()
	for k := range taken {
		if n := taken[k].Load(); n != 1 {
			t.Fatalf("key %d reserved %d times, want once", k, n)
		}
	}
}
