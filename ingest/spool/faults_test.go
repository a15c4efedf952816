package spool

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// faultyHooks fails the next write after arm (writing half of it first, as a
// disk that fills up mid-write does) or every sync after armSync.
type faultyHooks struct {
	failWrite atomic.Bool
	failSync  atomic.Bool
}

func (h *faultyHooks) hooks() hooks {
	d := defaultHooks()
	return hooks{
		writeAt: func(f *os.File, p []byte, off int64) (int, error) {
			if h.failWrite.CompareAndSwap(true, false) {
				n, err := d.writeAt(f, p[:len(p)/2], off)
				if err != nil {
					return n, err
				}
				return n, &os.PathError{Op: "write", Path: f.Name(), Err: unix.ENOSPC}
			}
			return d.writeAt(f, p, off)
		},
		sync: func(f *os.File) error {
			if h.failSync.Load() {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: unix.EIO}
			}
			return d.sync(f)
		},
	}
}

func openFaulty(t *testing.T, opts Options) (*Spool, *faultyHooks) {
	t.Helper()
	h := &faultyHooks{}
	opts.Logger = testLogger(t)
	s, err := open(opts, h.hooks())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h
}

func TestDiskFullMidWriteIsTruncatedAndSpoolStaysUsable(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s, h := openFaulty(t, opts)
	appendKeys(t, s, seqs(1, 10), 3)
	path := filepath.Join(opts.Dir, logFileName(1))
	size := fileSize(t, path)
	pending := s.PendingBytes()

	h.failWrite.Store(true)
	_, _, err := s.Append(ctxT(t), payload(11, 5000), payload(12, 5000))
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	if errors.Is(err, ErrFailed) {
		t.Fatalf("ENOSPC failed the spool: %v", err)
	}
	if got := fileSize(t, path); got != size {
		t.Fatalf("log file is %d bytes after the failed write, want %d: the partial write must go", got, size)
	}
	if s.LastSeq() != 10 || s.PendingBytes() != pending {
		t.Fatalf("failed Append left LastSeq %d PendingBytes %d, want 10 and %d", s.LastSeq(), s.PendingBytes(), pending)
	}
	// Numbering goes on without a hole, and the records land after the
	// last whole frame.
	appendKeys(t, s, seqs(11, 20), 2)
	checkRecords(t, s, identity)
	closeT(t, s)
	s = openT(t, opts)
	checkRecords(t, s, identity)
	if s.LastSeq() != 20 {
		t.Fatalf("LastSeq %d after reopen, want 20", s.LastSeq())
	}
}

func TestSyncErrorFailsSpoolAndReopenRecovers(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s, h := openFaulty(t, opts)
	appendKeys(t, s, seqs(1, 10), 1)
	h.failSync.Store(true)
	if _, _, err := s.Append(ctxT(t), payload(11, sizeOf(11))); !errors.Is(err, ErrFailed) || !errors.Is(err, unix.EIO) {
		t.Fatalf("Append whose sync fails: %v, want ErrFailed wrapping EIO", err)
	}
	h.failSync.Store(false)
	if _, _, err := s.Append(ctxT(t), payload(11, sizeOf(11))); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append on a failed spool: %v, want ErrFailed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Record 11 may or may not have reached the disk; the acknowledged
	// ones did.
	s = openT(t, opts)
	if s.LastSeq() < 10 {
		t.Fatalf("LastSeq %d after reopen, want at least 10", s.LastSeq())
	}
	checkRecords(t, s, func(seq uint64) uint64 { return seq })
}

// TestRealDiskFull fills a small tmpfs: ENOSPC comes from the kernel, and
// committing frees a log file so appends resume. Needs CAP_SYS_ADMIN.
func TestRealDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("spooltest", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): ENOSPC is covered by injection only", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	opts := Options{Dir: filepath.Join(dir, "spool"), FileBytes: 64 << 10}
	s := openT(t, opts)
	var (
		last uint64
		err  error
	)
	for key := uint64(1); ; key++ {
		var first uint64
		if first, _, err = s.Append(ctxT(t), payload(key, 1000)); err != nil {
			break
		}
		if first != key {
			t.Fatalf("Append got %d, want %d", first, key)
		}
		last = first
	}
	if !errors.Is(err, unix.ENOSPC) || errors.Is(err, ErrFailed) {
		t.Fatalf("Append on a full tmpfs: %v, want ENOSPC without failing the spool", err)
	}
	t.Logf("full after %d records: %v", last, err)
	if err := s.Commit(last / 2); err != nil {
		t.Fatal(err)
	}
	if !s.reserved {
		t.Errorf("Commit did not make the reserve again after freeing log files")
	}
	for i := range uint64(10) {
		key := last + 1 + i
		if first, _, err := s.Append(ctxT(t), payload(key, 1000)); err != nil || first != key {
			t.Fatalf("Append after Commit freed space: %d, %v; want %d", first, err, key)
		}
	}
	closeT(t, s)
	s = openT(t, opts)
	if s.LastSeq() != last+10 {
		t.Fatalf("LastSeq %d after reopen, want %d", s.LastSeq(), last+10)
	}
	from := s.Committed() + 1
	recs, err := s.Read(ctxT(t), from, int(last+10-from+1), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if string(r.Data) != string(payload(r.Seq, 1000)) {
			t.Fatalf("record %d corrupted", r.Seq)
		}
	}
}

// TestAppendAndReadWaitForTheSyncThatCoversTheRecords: an Append returns, and
// Read returns a record, only after an fdatasync that started once the
// record was written. The sync hook notes the file size when each sync
// starts; the records have a fixed size, so record n ends at n*frame.
func TestAppendAndReadWaitForTheSyncThatCoversTheRecords(t *testing.T) {
	const (
		appenders, perAppender = 16, 200
		size                   = 300
		frame                  = frameHeaderSize + size
	)
	var synced atomic.Int64 // file size covered by a finished sync
	d := defaultHooks()
	h := hooks{
		writeAt: d.writeAt,
		sync: func(f *os.File) error {
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if err := d.sync(f); err != nil {
				return err
			}
			for {
				old := synced.Load()
				if st.Size() <= old || synced.CompareAndSwap(old, st.Size()) {
					return nil
				}
			}
		},
	}
	s, err := open(Options{Dir: t.TempDir(), Logger: testLogger(t)}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var wg sync.WaitGroup
	rec := make([]byte, size)
	for range appenders {
		wg.Go(func() {
			for range perAppender {
				_, last, err := s.Append(ctxT(t), rec)
				if err != nil {
					t.Error(err)
					return
				}
				if covered := synced.Load(); covered < int64(last)*frame {
					t.Errorf("Append of record %d returned with %d bytes synced, before its end at %d", last, covered, int64(last)*frame)
					return
				}
			}
		})
	}
	for next := uint64(1); next <= appenders*perAppender; {
		recs, err := s.Read(ctxT(t), next, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1].Seq
		if covered := synced.Load(); covered < int64(last)*frame {
			t.Fatalf("Read returned record %d with %d bytes synced, before its end at %d", last, covered, int64(last)*frame)
		}
		next = last + 1
	}
	wg.Wait()
}
