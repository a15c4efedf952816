package ingest

import (
	"bufio"
	"context"
	"fmt"
	"github.com/cockroachdb/pebble/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// ingestRun is one life of the platform's ingest: spool, deduplication
// store and collector in folders that outlive it, and the pipeline into
// ClickHouse, started as `cdp serve` starts them (Warm before requests).
type ingestRun struct {
	sp     *spool.Spool
	col    *Collector
	pipe   *Pipeline
	w      *store.Writer
	warmed int
	stop   context.CancelFunc
	done   chan error
}

func startIngestRun(t testing.TB, db *store.DB, spoolDir, dedupDir string) *ingestRun {
	t.Helper()
	return startIngestRunAt(t, db, spoolDir, dedupDir, nil)
}

// startIngestRunAt is startIngestRun with the collector's clock at *clock
// (time.Now when nil).
func startIngestRunAt(t testing.TB, db *store.DB, spoolDir, dedupDir string, clock *time.Time) *ingestRun {
	t.Helper()
	sp := openTestSpool(t, spoolDir)
	d, err := OpenDedup(DedupOptions{Dir: dedupDir})
	if err != nil {
		t.Fatal(err)
	}
	prot, err := identity.NewProtector([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	if clock != nil {
		now = func() time.Time { return *clock }
	}
	r := &ingestRun{sp: sp, col: NewCollector(Options{Spool: sp, Protector: prot, Dedup: d, Now: now}), done: make(chan error, 1)}
	if r.warmed, err = r.col.Warm(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	r.w = store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	r.pipe = NewPipeline(PipelineOptions{Spool: sp, Writer: r.w, SpoolID: "dedup-test", Linger: 5 * time.Millisecond, Logger: storetest.Logger()})
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.pipe.Run(ctx) }()
	return r
}

// drain waits until ClickHouse holds every spooled record.
func (r *ingestRun) drain(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.pipe.WaitCommitted(ctx, r.sp.LastSeq()); err != nil {
		t.Fatalf("records not committed: %v", err)
	}
}

func (r *ingestRun) close(t testing.TB) {
	t.Helper()
	r.stop()
	if err := <-r.done; err != nil {
		t.Errorf("pipeline: %v", err)
	}
	r.w.Close(context.Background())
	if err := r.col.Close(); err != nil {
		t.Error(err)
	}
	if err := r.sp.Close(); err != nil {
		t.Error(err)
	}
}

func (r *ingestRun) send(t testing.TB, body string) Result {
	t.Helper()
	res, err := r.col.TrackSpec(context.Background(), "app", "batch", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// assertStoredOnce checks that ClickHouse holds each messageId once, and
// at least want of them.
func assertStoredOnce(t *testing.T, db *store.DB, want int) {
	t.Helper()
	var ids, rows uint64
	err := db.Conn.QueryRow(context.Background(), "SELECT uniqExact(message_id), count() FROM "+db.Table("events")).Scan(&ids, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if ids != rows || ids < uint64(want) {
		t.Fatalf("%d rows of %d messageIds, want each once and at least %d", rows, ids, want)
	}
}

// After a clean stop the keys are on disk: the start adds none (no read
// of the window from ClickHouse) and the retry is refused.
func TestDedupRetriedBatchIsRefusedAfterRestart(t *testing.T) {
	db := storetest.Migrated(t)
	spoolDir, dedupDir := t.TempDir(), filepath.Join(t.TempDir(), "dedup")
	body := testBatch("restart", 50)
	r := startIngestRun(t, db, spoolDir, dedupDir)
	if res := r.send(t, body); res.Accepted != 50 {
		t.Fatalf("first: %+v", res)
	}
	r.drain(t)
	r.close(t)

	r = startIngestRun(t, db, spoolDir, dedupDir)
	defer r.close(t)
	if r.warmed != 0 {
		t.Fatalf("the start added %d keys; all were on disk", r.warmed)
	}
	if res := r.send(t, body); res.Accepted != 0 || res.Duplicates != 50 {
		t.Fatalf("retry after restart: %+v, want 50 duplicates", res)
	}
	r.drain(t)
	assertStoredOnce(t, db, 50)
}

// The SIGKILL test runs this test binary again as a child: a platform's
// ingest that sends batches of crashBatch events, printing "sending b"
// before and "acked b" after each, until the parent kills it. After
// batch crashFlushAt it flushes the store's memtable once (printing
// "flushed b"), as Pebble does when a memtable fills: without a WAL that
// is what puts keys and their watermark on disk, so the kill always
// finds some records covered by an on-disk watermark to check.
const (
	crashEnvSpool = "DEDUP_CRASH_CHILD_SPOOL"
	crashEnvDedup = "DEDUP_CRASH_CHILD_DEDUP"
	crashEnvDSN   = "DEDUP_CRASH_CHILD_DSN"
	crashBatch    = 25
	crashFlushAt  = 30
)

func TestDedupCrashChild(t *testing.T) {
	spoolDir := os.Getenv(crashEnvSpool)
	if spoolDir == "" {
		t.Skip("the child of TestDedupRetriedBatchIsRefusedAfterSIGKILL")
	}
	db, err := store.Open(os.Getenv(crashEnvDSN), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	r := startIngestRun(t, db, spoolDir, os.Getenv(crashEnvDedup))
	for b := 0; b < 100_000; b++ {
		fmt.Printf("sending %d\n", b)
		r.send(t, testBatch(fmt.Sprintf("k%d", b), crashBatch))
		fmt.Printf("acked %d\n", b)
		if b == crashFlushAt {
			if err := r.col.dedup.db.Flush(); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("flushed %d\n", b)
		}
	}
}

// A platform killed by SIGKILL while it acknowledges batches loses no
// reservation its acknowledgements promised: after the restart every
// acknowledged batch's retry is refused and ClickHouse holds each event
// once. The keys are on disk: every record at or below the store's
// watermark has its key there before Warm runs, and Warm adds only the
// few the kill cut.
func TestDedupRetriedBatchIsRefusedAfterSIGKILL(t *testing.T) {
	db := storetest.Migrated(t)
	spoolDir, dedupDir := t.TempDir(), filepath.Join(t.TempDir(), "dedup")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDedupCrashChild$")
	cmd.Env = append(os.Environ(), crashEnvSpool+"="+spoolDir, crashEnvDedup+"="+dedupDir, crashEnvDSN+"="+storetest.DSN(t, db.Database))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sent, acked, flushed := -1, -1, -1
	lines := bufio.NewScanner(out)
	for acked < 60 && lines.Scan() { // the flush after batch crashFlushAt came before
		var word string
		var n int
		fmt.Sscanf(lines.Text(), "%s %d", &word, &n)
		switch word {
		case "sending":
			sent = n
		case "acked":
			acked = n
		case "flushed":
			flushed = n
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if acked < 60 || flushed != crashFlushAt {
		t.Fatalf("the child acknowledged %d batches and flushed after batch %d before it ended", acked+1, flushed)
	}

	summary, _ := checkKeysBelowWatermark(t, db, spoolDir, dedupDir)
	r := startIngestRun(t, db, spoolDir, dedupDir)
	defer r.close(t)
	t.Logf("killed after %d batches acknowledged (%d sent), spool at %d, committed to ClickHouse up to %d; %s; Warm added %d keys",
		acked+1, sent+1, r.sp.LastSeq(), r.sp.Committed(), summary, r.warmed)
	for b := 0; b <= sent; b++ {
		res := r.send(t, testBatch(fmt.Sprintf("k%d", b), crashBatch))
		if b <= acked && res.Duplicates != crashBatch {
			t.Fatalf("retry of acknowledged batch %d: %+v, want %d duplicates", b, res, crashBatch)
		}
	}
	r.drain(t)
	assertStoredOnce(t, db, (acked+1)*crashBatch)
}

// checkKeysBelowWatermark checks, before any start, the store's promise:
// every record whose spool sequence is at most the watermark (in
// ClickHouse or still in the spool) has its key on disk. It returns the
// a summary and the number of keys on disk.
func checkKeysBelowWatermark(t *testing.T, db *store.DB, spoolDir, dedupDir string) (summary string, onDisk int) {
	t.Helper()
	d, err := OpenDedup(DedupOptions{Dir: dedupDir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, ok, err := d.watermark()
	if err != nil || !ok {
		t.Fatalf("no watermark after the kill: %v", err)
	}
	disk := map[string]bool{}
	it, err := d.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for valid := it.SeekGE(genPrefix(0)); valid && string(it.Key()) < string(metaPrefix); valid = it.Next() {
		disk[string(it.Key()[8:])] = true
	}
	it.Close()
	records := spooledKeys(t, spoolDir)
	rows, err := db.Conn.Query(context.Background(), "SELECT spool_seq, concat('e|', source, '|', message_id) FROM "+db.Table("events"))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var seq uint64
		var key string
		if err := rows.Scan(&seq, &key); err != nil {
			t.Fatal(err)
		}
		records[seq] = key
	}
	rows.Close()
	checked := 0
	for seq, key := range records {
		if seq <= w {
			checked++
			if !disk[key] {
				t.Fatalf("record %d (%s) is at or below the watermark %d and its key is not on disk", seq, key, w)
			}
		}
	}
	if checked == 0 {
		// The child flushed after batch crashFlushAt: its keys and the
		// watermark covering them are on disk.
		t.Fatalf("watermark %d covers no record, though the store was flushed before the kill", w)
	}
	return fmt.Sprintf("watermark %d: %d records at or below it, all with their key on disk (%d keys on disk)", w, checked, len(disk)), len(disk)
}

// spooledKeys reads the deduplication keys of the records waiting in the
// spool, by sequence.
func spooledKeys(t *testing.T, dir string) map[uint64]string {
	t.Helper()
	sp := openTestSpool(t, dir)
	defer sp.Close()
	keys := map[uint64]string{}
	for from := sp.Committed() + 1; from <= sp.LastSeq(); {
		recs, err := sp.Read(context.Background(), from, 10_000, 32<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, sr := range recs {
			r, err := decodeRecord(sr.Data)
			if err != nil {
				t.Fatal(err)
			}
			keys[sr.Seq] = dedupKey(r)
		}
		from = recs[len(recs)-1].Seq + 1
	}
	return keys
}

func openTestSpool(t testing.TB, dir string) *spool.Spool {
	t.Helper()
	opts := spool.DefaultOptions()
	opts.Dir = dir
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// The state a crash can leave when the pipeline was quick: records in
// ClickHouse (committed, gone from the spool's pending range) whose keys
// had not reached the disk, above the durable watermark. Warm takes those
// keys from the ClickHouse rows above the watermark, and only those.
func TestDedupWarmTakesKeysAboveTheWatermarkFromClickHouse(t *testing.T) {
	db := storetest.Migrated(t)
	spoolDir, dedupDir := t.TempDir(), filepath.Join(t.TempDir(), "dedup")
	r := startIngestRun(t, db, spoolDir, dedupDir)
	for b := range 4 {
		if res := r.send(t, testBatch(fmt.Sprintf("w%d", b), 25)); res.Accepted != 25 {
			t.Fatalf("batch %d: %+v", b, res)
		}
	}
	r.drain(t)
	r.close(t)

	// Cut the last two batches' keys and put the watermark below them.
	d, err := OpenDedup(DedupOptions{Dir: dedupDir})
	if err != nil {
		t.Fatal(err)
	}
	batch := d.db.NewBatch()
	for _, g := range d.gens {
		for b := 2; b < 4; b++ {
			for i := range 25 {
				batch.Delete(diskKey(g.idx, fmt.Sprintf("e|app|w%d-%d", b, i)), nil)
			}
		}
	}
	batch.Set(metaWatermark, seqBytes(50), nil)
	if err := batch.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()

	r = startIngestRun(t, db, spoolDir, dedupDir)
	defer r.close(t)
	if r.warmed != 50 {
		t.Fatalf("Warm added %d keys, want the 50 above the watermark", r.warmed)
	}
	for b := range 4 {
		if res := r.send(t, testBatch(fmt.Sprintf("w%d", b), 25)); res.Duplicates != 25 {
			t.Fatalf("retry of batch %d: %+v, want 25 duplicates", b, res)
		}
	}
}

// A store lost with its folder (or a first start with it) is refilled
// from every row ClickHouse received within the window, each key in the
// generation of its record's arrival: it expires a window after the record
// arrived, as it would have without the refill.
func TestDedupWarmRefillsALostStoreByArrival(t *testing.T) {
	db := storetest.Migrated(t)
	spoolDir, dedupDir := t.TempDir(), filepath.Join(t.TempDir(), "dedup")
	arrival := time.Now().Add(-20 * time.Hour).Truncate(time.Millisecond)
	clock := arrival
	r := startIngestRunAt(t, db, spoolDir, dedupDir, &clock)
	body := testBatch("arrival", 20)
	if res := r.send(t, body); res.Accepted != 20 {
		t.Fatalf("first: %+v", res)
	}
	r.drain(t)
	r.close(t)
	if err := os.RemoveAll(dedupDir); err != nil {
		t.Fatal(err)
	}
	clock = arrival.Add(20 * time.Hour)
	r = startIngestRunAt(t, db, spoolDir, dedupDir, &clock)
	if r.warmed != 20 {
		t.Fatalf("Warm added %d keys, want 20", r.warmed)
	}
	if res := r.send(t, body); res.Duplicates != 20 {
		t.Fatalf("retry 20 h after arrival: %+v, want 20 duplicates", res)
	}
	// The past generation Warm reopened got its filter file back.
	r.close(t)
	r = startIngestRunAt(t, db, spoolDir, dedupDir, &clock)
	for _, g := range r.col.dedup.gens {
		if !g.trusted.Load() {
			t.Fatalf("generation %d has no filter file after a clean stop", g.idx)
		}
	}
	if res := r.send(t, body); res.Duplicates != 20 {
		t.Fatalf("retry after a restart: %+v, want 20 duplicates", res)
	}
	clock = arrival.Add(24*time.Hour + 24*time.Hour/dedupGenerations)
	if res := r.send(t, body); res.Accepted != 20 {
		t.Fatalf("retry 27 h after arrival, 7 h after the refill: %+v, want 20 accepted", res)
	}
	r.close(t)
}
