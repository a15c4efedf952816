package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// payload returns the deterministic content of record key: a readable
// prefix, then bytes drawn from a generator seeded by key, size bytes in all.
func payload(key uint64, size int) []byte {
	p := fmt.Appendf(make([]byte, 0, size), "record %d|", key)
	r := rand.New(rand.NewPCG(key, 0x5eed))
	for len(p) < size {
		p = append(p, byte(r.Uint32()))
	}
	return p[:max(size, 1)]
}

// sizeOf gives record key a size between 200 B and 2 KiB, the small end
// of what collectors send.
func sizeOf(key uint64) int { return 200 + int(key*7919%1800) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openT(t testing.TB, opts Options) *Spool {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return s
}

// testLogger logs to the test's output, shown with -v or on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func closeT(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// appendKeys appends the records of keys in Appends of up to per records and
// checks that they get the next sequence numbers.
func appendKeys(t testing.TB, s *Spool, keys []uint64, per int) {
	t.Helper()
	for len(keys) > 0 {
		n := min(per, len(keys))
		var recs [][]byte
		for _, k := range keys[:n] {
			recs = append(recs, payload(k, sizeOf(k)))
		}
		want := s.LastSeq() + 1
		first, last, err := s.Append(ctxT(t), recs...)
		if err != nil {
			t.Fatal(err)
		}
		if first != want || last != want+uint64(n)-1 {
			t.Fatalf("Append of %d records got %d..%d, want %d..%d", n, first, last, want, want+uint64(n)-1)
		}
		keys = keys[n:]
	}
}

func seqs(first, last uint64) []uint64 {
	var s []uint64
	for k := first; k <= last; k++ {
		s = append(s, k)
	}
	return s
}

// checkRecords reads every record from s.Committed()+1 to s.LastSeq() and
// checks that record seq holds payload(key(seq)).
func checkRecords(t testing.TB, s *Spool, key func(seq uint64) uint64) {
	t.Helper()
	from, last := s.Committed()+1, s.LastSeq()
	for from <= last {
		recs, err := s.Read(ctxT(t), from, 1+int(from%97), 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq != from {
				t.Fatalf("read record %d, want %d", r.Seq, from)
			}
			k := key(r.Seq)
			if want := payload(k, sizeOf(k)); !bytes.Equal(r.Data, want) {
				t.Fatalf("record %d holds %q..., want %q...", r.Seq, r.Data[:min(20, len(r.Data))], want[:20])
			}
			from++
		}
	}
}

func identity(seq uint64) uint64 { return seq }

func logFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+logFileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestAppendReadCommitReopenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, FileBytes: 16 << 10}
	s := openT(t, opts)
	appendKeys(t, s, seqs(1, 600), 5)
	if got := s.LastSeq(); got != 600 {
		t.Fatalf("LastSeq %d, want 600", got)
	}
	checkRecords(t, s, identity)
	before := logFiles(t, dir)
	if len(before) < 10 {
		t.Fatalf("%d log files for ~670 KiB in 16 KiB log files, want rolling", len(before))
	}
	if before[0] != logFileName(1) {
		t.Fatalf("first log file %s, want %s", before[0], logFileName(1))
	}

	if err := s.Commit(300); err != nil {
		t.Fatal(err)
	}
	after := logFiles(t, dir)
	if len(after) >= len(before) {
		t.Fatalf("Commit(300) left %d of %d log files", len(after), len(before))
	}
	// Every file left holds a record above 300: the one holding 301 starts
	// at or below it, the others above.
	if first, _ := parseLogFileName(after[0]); first > 301 {
		t.Fatalf("oldest remaining log file starts at %d, after record 301", first)
	}
	if first, _ := parseLogFileName(after[1]); first <= 301 {
		t.Fatalf("log file %s is wholly committed but was kept", after[0])
	}
	recs, err := s.Read(ctxT(t), 1, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Seq != 301 {
		t.Fatalf("Read from 1 after Commit(300) starts at %d, want 301", recs[0].Seq)
	}
	closeT(t, s)

	s = openT(t, opts)
	if s.Committed() != 300 || s.LastSeq() != 600 {
		t.Fatalf("reopened at committed %d last %d, want 300 and 600", s.Committed(), s.LastSeq())
	}
	checkRecords(t, s, identity)
	appendKeys(t, s, seqs(601, 700), 3)
	checkRecords(t, s, identity)
	closeT(t, s)

	s = openT(t, opts)
	if s.LastSeq() != 700 {
		t.Fatalf("LastSeq %d after reopen, want 700", s.LastSeq())
	}
	checkRecords(t, s, identity)
}

func TestSequenceContinuesAfterAllLogFilesTrimmed(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, FileBytes: 8 << 10}
	s := openT(t, opts)
	appendKeys(t, s, seqs(1, 100), 7)
	if err := s.Commit(100); err != nil {
		t.Fatal(err)
	}
	if files := logFiles(t, dir); len(files) != 0 {
		t.Fatalf("log files %v left after committing everything", files)
	}
	if s.PendingBytes() != 0 {
		t.Fatalf("PendingBytes %d with everything committed", s.PendingBytes())
	}
	appendKeys(t, s, seqs(101, 110), 1)
	if files := logFiles(t, dir); files[0] != logFileName(101) {
		t.Fatalf("log files %v, want the first to be %s", files, logFileName(101))
	}
	checkRecords(t, s, identity)
	if err := s.Commit(110); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)

	// Reopen with no log file at all: numbering goes on from the
	// checkpoint.
	s = openT(t, opts)
	if s.LastSeq() != 110 || s.Committed() != 110 {
		t.Fatalf("reopened empty spool at last %d committed %d, want 110, 110", s.LastSeq(), s.Committed())
	}
	appendKeys(t, s, seqs(111, 120), 4)
	closeT(t, s)
	s = openT(t, opts)
	checkRecords(t, s, identity)
	if s.LastSeq() != 120 {
		t.Fatalf("LastSeq %d, want 120", s.LastSeq())
	}
}

func TestReadWaitsForAppendAndStopsAtContext(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	appendKeys(t, s, seqs(1, 3), 3)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if recs, err := s.Read(ctx, 4, 10, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read past the end returned %d records, %v; want DeadlineExceeded", len(recs), err)
	}

	type result struct {
		recs []Record
		err  error
	}
	got := make(chan result)
	go func() {
		recs, err := s.Read(ctxT(t), 4, 10, 1<<20)
		got <- result{recs, err}
	}()
	appendKeys(t, s, seqs(4, 5), 2)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The reader may have woken for record 4 and 5 together or not; either
	// way it starts at 4.
	if len(r.recs) == 0 || r.recs[0].Seq != 4 || !bytes.Equal(r.recs[0].Data, payload(4, sizeOf(4))) {
		t.Fatalf("blocked Read returned %v", r.recs)
	}

	go func() {
		recs, err := s.Read(ctxT(t), 100, 10, 1<<20)
		got <- result{recs, err}
	}()
	closeT(t, s)
	if r := <-got; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Read blocked across Close returned %v, want ErrClosed", r.err)
	}
}

func TestReadHonoursLimits(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	appendKeys(t, s, seqs(1, 50), 50)
	recs, err := s.Read(ctxT(t), 10, 7, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 || recs[0].Seq != 10 || recs[6].Seq != 16 {
		t.Fatalf("Read(10, 7 records) returned %d records from %d", len(recs), recs[0].Seq)
	}
	// maxBytes admits records 10 and 11 but not 12.
	limit := sizeOf(10) + sizeOf(11) + sizeOf(12) - 1
	if recs, err = s.Read(ctxT(t), 10, 50, limit); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("Read with maxBytes %d returned %d records, want 2", limit, len(recs))
	}
	// A record larger than maxBytes still comes back, alone.
	if recs, err = s.Read(ctxT(t), 10, 50, 1); err != nil || len(recs) != 1 {
		t.Fatalf("Read with maxBytes 1 returned %d records, %v; want 1", len(recs), err)
	}
	if _, err := s.Read(ctxT(t), 1, 0, 1); err == nil {
		t.Fatal("Read with maxRecords 0 succeeded")
	}
}

// TestConsumerReadsActiveLogFileWhileAppending runs appenders and a consumer
// that reads, plans and commits concurrently, as in production.
func TestConsumerReadsActiveLogFileWhileAppending(t *testing.T) {
	const appenders, perAppender = 8, 300
	s := openT(t, Options{Dir: t.TempDir(), FileBytes: 64 << 10})
	var (
		mu   sync.Mutex
		keys = map[uint64]uint64{} // seq -> key
		wg   sync.WaitGroup
	)
	for a := range appenders {
		wg.Go(func() {
			for i := range perAppender {
				k := uint64(a*perAppender + i + 1)
				first, last, err := s.Append(ctxT(t), payload(k, sizeOf(k)))
				if err != nil || first != last {
					t.Errorf("Append: %d..%d, %v", first, last, err)
					return
				}
				mu.Lock()
				keys[first] = k
				mu.Unlock()
			}
		})
	}
	total := uint64(appenders * perAppender)
	next := uint64(1)
	seen := map[uint64]bool{}
	for next <= total {
		recs, err := s.Read(ctxT(t), next, 100, 32<<10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq != next {
				t.Fatalf("read %d, want %d", r.Seq, next)
			}
			var k uint64
			if _, err := fmt.Sscanf(string(r.Data), "record %d|", &k); err != nil || seen[k] {
				t.Fatalf("record %d: key %d (seen before: %v), %v", r.Seq, k, seen[k], err)
			}
			seen[k] = true
			if !bytes.Equal(r.Data, payload(k, sizeOf(k))) {
				t.Fatalf("record %d does not hold key %d's payload", r.Seq, k)
			}
			next++
		}
		last := recs[len(recs)-1].Seq
		if err := s.Plan(recs[0].Seq, last); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(last); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for seq, k := range keys {
		if !seen[k] {
			t.Fatalf("key %d appended as %d never read", k, seq)
		}
	}
	if s.PendingBytes() != 0 || len(s.Plans()) != 0 {
		t.Fatalf("PendingBytes %d, plans %v after committing everything", s.PendingBytes(), s.Plans())
	}
}

// appendTail appends raw bytes to the newest log file in dir.
func appendTail(t testing.TB, dir string, tail []byte) (path string, sizeBefore int64) {
	t.Helper()
	files := logFiles(t, dir)
	path = filepath.Join(dir, files[len(files)-1])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, st.Size()
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestTornTailIsTruncated(t *testing.T) {
	next := payload(11, sizeOf(11))
	whole := appendFrame(nil, next, checksum(next))
	badCRC := slices.Clone(whole)
	badCRC[len(badCRC)-1] ^= 1
	garbage := make([]byte, 5000)
	rand.NewChaCha8([32]byte{1}).Read(garbage)
	for name, tail := range map[string][]byte{
		"partial header":             whole[:3],
		"header only":                whole[:frameHeaderSize],
		"partial payload":            whole[:len(whole)-1],
		"whole frame, bad checksum":  badCRC,
		"zeros of unwritten blocks":  make([]byte, 8192),
		"random garbage":             garbage,
		"length above the maximum":   {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
		"bad frame then a whole one": append(slices.Clone(badCRC), whole...),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, FileBytes: 4 << 10}
			s := openT(t, opts)
			appendKeys(t, s, seqs(1, 10), 2)
			closeT(t, s)
			path, size := appendTail(t, dir, tail)

			s = openT(t, opts)
			if s.LastSeq() != 10 {
				t.Fatalf("LastSeq %d after recovering, want 10", s.LastSeq())
			}
			if got := fileSize(t, path); got != size {
				t.Fatalf("last log file is %d bytes after recovery, want %d (torn tail removed)", got, size)
			}
			checkRecords(t, s, identity)
			appendKeys(t, s, seqs(11, 15), 2)
			closeT(t, s)

			s = openT(t, opts)
			checkRecords(t, s, identity)
			if s.LastSeq() != 15 {
				t.Fatalf("LastSeq %d, want 15", s.LastSeq())
			}
		})
	}
}

// TestCorruptionWhereNoCrashCanCauseItFailsOpen: bad bytes in synced data are
// reported, never truncated away with the acknowledged records after them.
func TestCorruptionWhereNoCrashCanCauseItFailsOpen(t *testing.T) {
	setup := func(t *testing.T, fileBytes int64, n uint64) (Options, []string) {
		opts := Options{Dir: t.TempDir(), FileBytes: fileBytes}
		s := openT(t, opts)
		appendKeys(t, s, seqs(1, n), 1)
		closeT(t, s)
		return opts, logFiles(t, opts.Dir)
	}
	flip := func(t *testing.T, path string, off int64) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := []byte{0}
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{b[0] ^ 0x40}, off); err != nil {
			t.Fatal(err)
		}
	}
	wantCorrupt := func(t *testing.T, opts Options, mention string) {
		t.Helper()
		s, err := Open(opts)
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), mention) {
			t.Fatalf("Open: %v; want ErrCorrupt mentioning %q", err, mention)
		}
		t.Log(err)
	}

	t.Run("payload byte in a sealed log file", func(t *testing.T) {
		opts, files := setup(t, 4<<10, 40)
		flip(t, filepath.Join(opts.Dir, files[0]), frameHeaderSize+100)
		wantCorrupt(t, opts, files[0])
	})
	t.Run("length of a record in a sealed log file", func(t *testing.T) {
		opts, files := setup(t, 4<<10, 40)
		first, _ := parseLogFileName(files[1])
		second := int64(frameHeaderSize + sizeOf(first))
		flip(t, filepath.Join(opts.Dir, files[1]), second+3) // the length's top byte
		wantCorrupt(t, opts, "length")
	})
	t.Run("sealed log file cut short", func(t *testing.T) {
		opts, files := setup(t, 4<<10, 40)
		path := filepath.Join(opts.Dir, files[1])
		if err := os.Truncate(path, fileSize(t, path)-1); err != nil {
			t.Fatal(err)
		}
		wantCorrupt(t, opts, files[1])
	})
	t.Run("missing log file", func(t *testing.T) {
		opts, files := setup(t, 4<<10, 40)
		if err := os.Remove(filepath.Join(opts.Dir, files[2])); err != nil {
			t.Fatal(err)
		}
		wantCorrupt(t, opts, "missing")
	})
	t.Run("last log file far from its end", func(t *testing.T) {
		// More than maxTornBytes of acknowledged records follow the bad
		// byte: they were synced, so this is no torn write.
		opts := Options{Dir: t.TempDir()}
		s := openT(t, opts)
		big := make([]byte, 1<<20)
		for range maxTornBytes/len(big) + 2 {
			if _, _, err := s.Append(ctxT(t), big); err != nil {
				t.Fatal(err)
			}
		}
		closeT(t, s)
		files := logFiles(t, opts.Dir)
		if len(files) != 1 {
			t.Fatalf("want one log file, have %v", files)
		}
		flip(t, filepath.Join(opts.Dir, files[0]), 100)
		wantCorrupt(t, opts, "more than a crash can leave")
	})
	t.Run("checkpoint", func(t *testing.T) {
		opts, _ := setup(t, 4<<10, 10)
		s := openT(t, opts)
		if err := s.Commit(3); err != nil {
			t.Fatal(err)
		}
		closeT(t, s)
		flip(t, filepath.Join(opts.Dir, checkpointName), 9)
		wantCorrupt(t, opts, checkpointName)
	})
}

func TestFullUntilCommitFreesSpace(t *testing.T) {
	const size = 300
	frame := int64(frameHeaderSize + size)
	dir := t.TempDir()
	opts := Options{Dir: dir, FileBytes: 10 * frame, MaxBytes: 25 * frame}
	s := openT(t, opts)
	rec := bytes.Repeat([]byte("x"), size)
	for i := range 25 {
		if _, _, err := s.Append(ctxT(t), rec); err != nil {
			t.Fatalf("Append %d of 25 that fit: %v", i+1, err)
		}
	}
	if got := s.PendingBytes(); got != 25*frame {
		t.Fatalf("PendingBytes %d, want %d", got, 25*frame)
	}
	if _, _, err := s.Append(ctxT(t), rec); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes: %v, want ErrFull", err)
	}
	if s.LastSeq() != 25 {
		t.Fatalf("a refused Append moved LastSeq to %d", s.LastSeq())
	}
	if err := s.Commit(12); err != nil {
		t.Fatal(err)
	}
	if got := s.PendingBytes(); got != 13*frame {
		t.Fatalf("PendingBytes %d after committing 12 of 25, want %d", got, 13*frame)
	}
	for i := range 12 {
		if first, _, err := s.Append(ctxT(t), rec); err != nil || first != uint64(26+i) {
			t.Fatalf("Append after Commit got %d, %v; want %d", first, err, 26+i)
		}
	}
	if _, _, err := s.Append(ctxT(t), rec); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes again: %v, want ErrFull", err)
	}
	closeT(t, s)

	s = openT(t, opts)
	if got := s.PendingBytes(); got != 25*frame {
		t.Fatalf("PendingBytes %d after reopen, want %d", got, 25*frame)
	}
	if _, _, err := s.Append(ctxT(t), rec); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes after reopen: %v, want ErrFull", err)
	}
}

func TestPlansSurviveReopenAndCommitDropsThem(t *testing.T) {
	opts := Options{Dir: t.TempDir(), FileBytes: 4 << 10}
	s := openT(t, opts)
	appendKeys(t, s, seqs(1, 30), 4)
	for _, r := range []Range{{1, 10}, {11, 20}} {
		if err := s.Plan(r.First, r.Last); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		first, last uint64
	}{
		{"gap after the last plan", 22, 25},
		{"overlap", 15, 25},
		{"beyond the last durable record", 21, 31},
		{"reversed", 21, 20},
	} {
		if err := s.Plan(tc.first, tc.last); !errors.Is(err, ErrRange) {
			t.Errorf("Plan(%d, %d), %s: %v, want ErrRange", tc.first, tc.last, tc.name, err)
		}
	}
	if err := s.Plan(11, 20); err != nil {
		t.Fatalf("planning an existing plan again: %v", err)
	}
	closeT(t, s)

	s = openT(t, opts)
	if got, want := s.Plans(), []Range{{1, 10}, {11, 20}}; !slices.Equal(got, want) {
		t.Fatalf("Plans after reopen %v, want %v", got, want)
	}
	if err := s.Commit(15); !errors.Is(err, ErrRange) {
		t.Fatalf("Commit splitting a plan: %v, want ErrRange", err)
	}
	if err := s.Commit(31); !errors.Is(err, ErrRange) {
		t.Fatalf("Commit beyond the last record: %v, want ErrRange", err)
	}
	if err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Plans(), []Range{{11, 20}}; !slices.Equal(got, want) {
		t.Fatalf("Plans after Commit(10) %v, want %v", got, want)
	}
	if err := s.Commit(5); err != nil {
		t.Fatalf("Commit below the committed point: %v, want nothing done", err)
	}
	if err := s.Plan(21, 30); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)

	s = openT(t, opts)
	if got, want := s.Plans(), []Range{{11, 20}, {21, 30}}; !slices.Equal(got, want) {
		t.Fatalf("Plans after reopen %v, want %v", got, want)
	}
	if s.Committed() != 10 {
		t.Fatalf("Committed %d after reopen, want 10", s.Committed())
	}
	if err := s.Commit(30); err != nil {
		t.Fatal(err)
	}
	if got := s.Plans(); len(got) != 0 {
		t.Fatalf("Plans %v after committing them all", got)
	}
	closeT(t, s)
	s = openT(t, opts)
	if got := s.Plans(); len(got) != 0 || s.Committed() != 30 {
		t.Fatalf("after reopen: plans %v committed %d, want none and 30", got, s.Committed())
	}
}

func TestAppendRefusesBadSizesAndAfterClose(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	for name, recs := range map[string][][]byte{
		"empty record":           {[]byte("ok"), {}},
		"record above the max":   {make([]byte, MaxRecordBytes+1)},
		"too much in one call":   {make([]byte, MaxRecordBytes), []byte("x")},
		"many small above bound": slices.Repeat([][]byte{make([]byte, 1<<20)}, 17),
	} {
		if _, _, err := s.Append(ctxT(t), recs...); !errors.Is(err, ErrRecordSize) {
			t.Errorf("%s: %v, want ErrRecordSize", name, err)
		}
	}
	if first, last, err := s.Append(ctxT(t), make([]byte, MaxRecordBytes)); err != nil || first != 1 || last != 1 {
		t.Fatalf("Append of a MaxRecordBytes record: %d..%d, %v", first, last, err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of an open spool: %v, want ErrLocked", err)
	}
	closeT(t, s)
	if _, _, err := s.Append(ctxT(t), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if err := s.Commit(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}
