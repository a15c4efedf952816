package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxRecordBytes is the largest record Append accepts.
const MaxRecordBytes = 16 << 20

// MaxAppendBytes bounds what one Append writes: its records' payloads plus
// 8 bytes of framing each. It admits one record of MaxRecordBytes; the bound
// keeps every write, and so what a crash can tear, bounded (see
// maxTornBytes).
const MaxAppendBytes = MaxRecordBytes + frameHeaderSize

const (
	// maxBatchBytes caps the records the writer gathers into one write
	// (a larger single Append is written alone). 1 MiB holds ~3,400
	// 300-byte records, far more than arrive during one fdatasync.
	maxBatchBytes = 1 << 20
	// maxUnsyncedBytes bounds the bytes written but not yet known durable:
	// the writer waits for the syncer above it. Four full batches keep
	// the syncer busy without letting a slow disk queue up gigabytes.
	maxUnsyncedBytes = 4 << 20
	// maxTornBytes is the longest tail a crash can leave torn: the writer
	// starts a write only with at most maxUnsyncedBytes unsynced and
	// writes at most MaxAppendBytes at once, and a log file is synced
	// before the next one receives a byte. Open truncates a bad frame in
	// the last log file this close to its end; one further back lies in
	// data that was synced and is reported as corruption.
	maxTornBytes = maxUnsyncedBytes + MaxAppendBytes
	// syncers is the number of fdatasync calls kept in flight. Measured
	// with BenchmarkAppend/appenders=64 on ext4 on this project's 2-core VM
	// disk, one gives ~140k records/s at p99 ~1 ms; two or four concurrent
	// fdatasyncs of the same file gave 50k-120k records/s at p99 3-10 ms,
	// each forcing its own journal commit and cache flush. One syncer
	// still overlaps the next write with the running sync.
	syncers = 1
	// maxPlans bounds the planned ranges, which every Plan rewrites.
	maxPlans = 4096
)

// Sentinel errors. Functions wrap them with %w and add the detail, so callers
// match with errors.Is.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrFull is returned by Append when its records would take the bytes
	// not yet committed above Options.MaxBytes. Nothing was appended; retry
	// after Commit or shed the load.
	ErrFull = errors.New("spool: full")
	// ErrRecordSize is returned by Append for an empty record, a record
	// above MaxRecordBytes or records above MaxAppendBytes in one call.
	ErrRecordSize = errors.New("spool: record size out of bounds")
	// ErrRange is returned by Plan and Commit for a range of sequence
	// numbers they cannot accept (beyond the last durable record, out of
	// order, splitting a planned batch).
	ErrRange = errors.New("spool: sequence range not acceptable")
	// ErrCorrupt reports data on disk that fails its checks where a crash
	// cannot explain it: a bad record in a log file other than the last or
	// far from the end of the last, missing records, an invalid checkpoint.
	ErrCorrupt = errors.New("spool: corrupt")
	// ErrFailed is returned by Append after an I/O error the spool cannot
	// undo (a failed fdatasync, a failed truncation after a failed write):
	// what is on disk is no longer known. Close and Open again, which
	// recovers from what the disk holds.
	ErrFailed = errors.New("spool: failed")
	// ErrLocked is returned by Open when another Spool, in this or another
	// process, has the directory open.
	ErrLocked = errors.New("spool: directory in use")
)

// Options configure a Spool.
type Options struct {
	// Dir holds the spool's files; Open creates it. Required.
	Dir string
	// FileBytes is the size past which appends go to a new log
	// file. Space is freed a whole log file at a time once all its records
	// are committed.
	FileBytes int64
	// MaxBytes bounds the bytes (records plus 8 bytes each) not yet
	// committed: Append returns ErrFull beyond it. Disk use stays below
	// MaxBytes plus one log file.
	MaxBytes int64
	// Logger receives recovery and failure reports; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options the platform uses, without Dir.
func DefaultOptions() Options {
	return Options{
		// 64 MiB is ~210k records of 300 bytes: a few seconds of peak
		// load per file, and 16 files for the default MaxBytes.
		FileBytes: 64 << 20,
		// 1 GiB is ~3.5M records of 300 bytes: at 30k records/s, half a
		// minute of ClickHouse being unreachable before collectors shed.
		MaxBytes: 1 << 30,
	}
}

// Record is a record read back from the spool.
type Record struct {
	Seq  uint64
	Data []byte
}

// Range is the records First..Last, both included.
type Range struct{ First, Last uint64 }

// Spool is a durable local log of records. Appenders add records, which are
// numbered 1, 2, 3, ... in the order they are written; a single consumer
// reads them in order, plans batches, stores them downstream and commits,
// after which their space is freed. All methods are safe for concurrent use.
//
// Sequence numbers are dense and never reused, across restarts and after
// every record was committed and its file removed.
type Spool struct {
	opts   Options
	logger *slog.Logger
	hooks  hooks
	lock   *os.File // holds the flock on Dir

	// ckMu serializes checkpoint writes (Plan, Commit). Lock order:
	// ckMu, then wmu, then mu.
	ckMu sync.Mutex
	// reserved reports that the reserve file holds space for a checkpoint
	// write on a full disk. Guarded by ckMu.
	reserved bool
	// wmu is held while the active log file is written, rolled over or
	// truncated, and by Commit while it removes log files, so a removed
	// log file is never written to.
	wmu sync.Mutex

	mu sync.Mutex
	// writeCond wakes the writer: a batch was joined, syncs caught up, or
	// the spool is closing. syncCond wakes the syncers: data was written,
	// or the writer is done.
	writeCond, syncCond sync.Cond
	// files are the log files in order; the last is the one being appended
	// to. Empty when every record was committed and Commit removed the
	// files; the next write creates one.
	files []*logFile
	// open is the batch Append adds records to; taken is closed (and
	// replaced) when the writer takes it, waking appenders that found it
	// full.
	open  *batch
	taken chan struct{}
	// spare is the buffer of the batch the writer wrote last, for the
	// next open batch (held by the writer goroutine between swaps).
	spare []byte
	// inflight are the batches written but not yet known durable, in order;
	// unsynced is their size.
	inflight []*batch
	unsynced int64
	// writtenSeq is the last record written; syncedSeq the last a sync has
	// been started for; durableSeq the last known durable. durableSeq <=
	// syncedSeq <= writtenSeq.
	writtenSeq, syncedSeq, durableSeq uint64
	// durable is closed (and replaced) when durableSeq advances.
	durable chan struct{}
	// endPos is the byte position after the last frame written;
	// committedPos that of record committed+1. Positions run on across
	// log files (see logFile.base).
	endPos, committedPos int64
	// pending is what MaxBytes bounds: bytes of records above committed,
	// written or waiting in a batch.
	pending   int64
	committed uint64
	plans     []Range
	hint      readHint
	// failed is set by an I/O error that leaves the file's contents unknown.
	failed error
	// closing is set by Close; closed is closed with it, waking blocked
	// Appends and Reads.
	closing    bool
	closed     chan struct{}
	writerDone bool
	writer     sync.WaitGroup
	syncing    sync.WaitGroup
}

// hooks lets tests inject I/O failures.
type hooks struct {
	writeAt func(f *os.File, p []byte, off int64) (int, error)
	sync    func(f *os.File) error
}

func defaultHooks() hooks {
	return hooks{
		writeAt: func(f *os.File, p []byte, off int64) (int, error) { return f.WriteAt(p, off) },
		sync:    fdatasync,
	}
}

const (
	lockName       = "LOCK"
	checkpointName = "checkpoint"
	checkpointTemp = "checkpoint.tmp"
	reserveName    = "reserve"
)

// The spool holds records as they arrived (names, addresses, order lines):
// only the platform's user may read them.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// tighten makes dir dirMode and the files in it fileMode. Versions before
// issue #14 made them 0755 and 0644; Open tightens such a spool.
func tighten(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	paths := []string{dir}
	for _, e := range entries {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	tightened := 0
	for i, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		want := os.FileMode(fileMode)
		if i == 0 {
			want = dirMode
		}
		if st.Mode().Perm() == want {
			continue
		}
		if err := os.Chmod(path, want); err != nil {
			return err
		}
		tightened++
	}
	if tightened > 0 {
		logger.Warn("spool: made the spool readable by the platform's user only (0700 folder, 0600 files)", "dir", dir, "changed", tightened)
	}
	return nil
}

// Open opens the spool in opts.Dir, creating the directory if needed, and
// recovers its state: log files wholly committed are removed; a torn or
// corrupt tail of the last log file (what a crash during a write leaves) is
// truncated; a bad record anywhere else, or missing records, make Open fail
// with an error wrapping ErrCorrupt rather than lose acknowledged data.
// Zero FileBytes and MaxBytes take their defaults.
func Open(opts Options) (*Spool, error) {
	return open(opts, defaultHooks())
}

func open(opts Options, h hooks) (*Spool, error) {
	def := DefaultOptions()
	if opts.FileBytes == 0 {
		opts.FileBytes = def.FileBytes
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = def.MaxBytes
	}
	switch {
	case opts.Dir == "":
		return nil, errors.New("spool: Options.Dir is empty")
	case opts.FileBytes < 0 || opts.MaxBytes < 0:
		return nil, fmt.Errorf("spool: negative FileBytes %d or MaxBytes %d", opts.FileBytes, opts.MaxBytes)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := tighten(opts.Dir, logger); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// The directory's own entry must be durable before records in it are
	// acknowledged.
	if err := syncDir(filepath.Dir(filepath.Clean(opts.Dir))); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		opts:    opts,
		logger:  logger.With("spool", opts.Dir),
		hooks:   h,
		lock:    lock,
		taken:   make(chan struct{}),
		durable: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	s.writeCond.L = &s.mu
	s.syncCond.L = &s.mu
	s.open = &batch{done: make(chan struct{})}
	if err := s.recover(); err != nil {
		var errs []error
		for _, lf := range s.files {
			errs = append(errs, lf.f.Close())
		}
		return nil, errors.Join(append([]error{err}, append(errs, lock.Close())...)...)
	}
	s.reserve()
	s.writer.Add(1)
	go s.writeLoop()
	s.syncing.Add(syncers)
	for range syncers {
		go s.syncLoop()
	}
	return s, nil
}

// lockDir takes an exclusive flock on dir/LOCK, released when the returned
// file is closed or the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	return f, nil
}

// Close waits for the records already handed to Append to be written and
// synced (their Appends return normally), then closes the files. Appends and
// Reads that are blocked, and every later call, return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closing = true
	close(s.closed)
	s.writeCond.Broadcast()
	s.mu.Unlock()

	s.writer.Wait()
	s.mu.Lock()
	s.writerDone = true
	s.syncCond.Broadcast()
	s.mu.Unlock()
	s.syncing.Wait()

	// Plan and Commit check closing under mu; one that got past the check
	// finishes before the files go.
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, lf := range s.files {
		lf.removed = true
		errs = append(errs, lf.release())
	}
	s.files = nil
	s.hint = readHint{}
	errs = append(errs, s.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// Committed returns the sequence number up to which records are committed, 0
// before the first Commit.
func (s *Spool) Committed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// LastSeq returns the sequence number of the newest durable record, 0 for a
// spool that never held one. After Append returns last, LastSeq() >= last.
func (s *Spool) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durableSeq
}

// PendingBytes returns the bytes of records not yet committed, counting 8
// bytes of framing per record and the records of Appends in progress: the
// quantity Options.MaxBytes bounds.
func (s *Spool) PendingBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Plans returns the planned ranges above the committed point in order: those
// recovered by Open followed by those planned since.
func (s *Spool) Plans() []Range {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.plans)
}
