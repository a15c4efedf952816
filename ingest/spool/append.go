package spool

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Group commit. Appenders frame their records into the open batch and wait
// for it. One writer goroutine takes the open batch, writes it with one
// pwrite at the end of the active log file and hands it to the syncer, which
// fdatasyncs everything written when it starts while the writer goes on
// writing; a sync that returns makes every batch written before it started
// durable, and their Appends return. Sequence numbers are given when a batch
// is written, so a batch whose write fails and is truncated away leaves no
// hole.

// batch is the records of one or more Appends written with one write.
type batch struct {
	buf  []byte // frames; recycled once written (size stays)
	size int    // len(buf), set when the writer takes the batch
	n    int    // records
	done chan struct{}
	// Set before done is closed:
	first uint64 // sequence number of the first record
	err   error
}

// Append adds recs to the spool and returns the sequence numbers of the first
// and the last. When it returns without error the records are on disk
// (written and fdatasync'd): acknowledge the client only then. Concurrent
// Appends share writes and syncs; the records of one Append are
// consecutive. The spool does not keep recs.
//
// Append returns ErrRecordSize, ErrFull or ErrClosed without appending
// anything. When a write fails for want of space (ENOSPC, EDQUOT) the
// partial write is truncated away and Append returns an error wrapping the
// cause; the spool stays usable. Other I/O errors fail the spool (ErrFailed).
// If ctx ends while Append waits for the disk it returns ctx.Err(), and the
// records may or may not be appended, as when an acknowledgement is lost.
// Append with no records returns 0, 0, nil.
func (s *Spool) Append(ctx context.Context, recs ...[]byte) (first, last uint64, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	size := 0
	var crcs [8]uint32
	sums := crcs[:0]
	for _, r := range recs {
		if len(r) == 0 || len(r) > MaxRecordBytes {
			return 0, 0, fmt.Errorf("%w: a record of %d bytes (1..%d)", ErrRecordSize, len(r), MaxRecordBytes)
		}
		size += frameHeaderSize + len(r)
		sums = append(sums, checksum(r))
	}
	if size > MaxAppendBytes {
		return 0, 0, fmt.Errorf("%w: %d records taking %d bytes in one Append (at most %d)", ErrRecordSize, len(recs), size, MaxAppendBytes)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}

	s.mu.Lock()
	for {
		if err := s.usable(); err != nil {
			s.mu.Unlock()
			return 0, 0, err
		}
		if s.pending+int64(size) > s.opts.MaxBytes {
			pending := s.pending
			s.mu.Unlock()
			return 0, 0, fmt.Errorf("%w: %d bytes pending, %d more would pass MaxBytes %d", ErrFull, pending, size, s.opts.MaxBytes)
		}
		if len(s.open.buf) == 0 || len(s.open.buf)+size <= maxBatchBytes {
			break
		}
		// The open batch is full: wait for the writer to take it.
		taken := s.taken
		s.mu.Unlock()
		select {
		case <-taken:
		case <-s.closed:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		s.mu.Lock()
	}
	b := s.open
	idx := b.n
	for i, r := range recs {
		b.buf = appendFrame(b.buf, r, sums[i])
	}
	b.n += len(recs)
	s.pending += int64(size)
	s.writeCond.Signal()
	s.mu.Unlock()

	select {
	case <-b.done:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	if b.err != nil {
		return 0, 0, b.err
	}
	first = b.first + uint64(idx)
	return first, first + uint64(len(recs)) - 1, nil
}

// usable returns why appends are refused, if they are. s.mu must be held.
func (s *Spool) usable() error {
	switch {
	case s.closing:
		return ErrClosed
	case s.failed != nil:
		return s.failed
	}
	return nil
}

// writeLoop is the writer goroutine: it takes batches and writes them until
// the spool closes and the last batch is written.
func (s *Spool) writeLoop() {
	defer s.writer.Done()
	s.mu.Lock()
	for {
		// Wait for records, and for the syncer to catch up with the
		// writes before (fail empties unsynced).
		for (s.open.n == 0 && !s.closing) || s.unsynced >= maxUnsyncedBytes {
			s.writeCond.Wait()
		}
		if s.open.n == 0 {
			s.mu.Unlock()
			return // closing, and every batch written
		}
		b := s.open
		b.size = len(b.buf)
		// The next batch fills the buffer of the one written last time:
		// two buffers alternate instead of one allocated per write.
		buf := s.spare
		if want := min(2*b.size, maxBatchBytes); cap(buf) < want {
			buf = make([]byte, 0, want)
		}
		s.spare = nil
		s.open = &batch{done: make(chan struct{}), buf: buf}
		close(s.taken)
		s.taken = make(chan struct{})
		failed := s.failed
		s.mu.Unlock()

		if failed != nil {
			s.finish(b, failed)
		} else {
			s.write(b)
		}
		s.mu.Lock()
		// Written (or refused): the frames are in the file, the index and
		// the page cache; nothing reads b.buf again.
		s.spare, b.buf = b.buf[:0], nil
	}
}

// write writes b at the end of the active log file, rolling over to a new one
// first if needed, and queues it for the syncer. On failure it finishes b
// with the error.
func (s *Spool) write(b *batch) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	lf, err := s.activeFile(int64(b.size))
	if err != nil {
		s.finish(b, err)
		return
	}
	off := lf.size // only this goroutine changes it, holding wmu
	n, err := s.hooks.writeAt(lf.f, b.buf, off)
	if err != nil {
		werr := fmt.Errorf("spool: append: writing %d bytes at %s:%d (%d written): %w", len(b.buf), lf.path, off, n, err)
		// Cut the partial write off so the next write follows the last
		// whole frame. The bytes were never synced and nobody read them.
		if terr := lf.f.Truncate(off); terr != nil {
			s.fail(fmt.Errorf("%w: %w; truncating the partial write: %w", ErrFailed, werr, terr))
			s.finish(b, s.failedErr())
			return
		}
		if !noSpace(err) {
			s.fail(fmt.Errorf("%w: %w", ErrFailed, werr))
			werr = s.failedErr()
		}
		s.finish(b, werr)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b.first = s.writtenSeq + 1
	lf.indexFrom(b.buf, off, b.first)
	lf.size += int64(b.size)
	lf.last = b.first + uint64(b.n) - 1
	s.writtenSeq = lf.last
	s.endPos += int64(b.size)
	s.inflight = append(s.inflight, b)
	s.unsynced += int64(b.size)
	s.syncCond.Signal()
}

// activeFile returns the log file to write size bytes to. Past
// FileBytes it syncs the active log file, so that no later log file holds
// a byte while an earlier one holds unsynced data, and creates the next.
// s.wmu must be held.
func (s *Spool) activeFile(size int64) (*logFile, error) {
	s.mu.Lock()
	var lf *logFile
	if n := len(s.files); n > 0 {
		lf = s.files[n-1]
	}
	first, base := s.writtenSeq+1, s.endPos
	s.mu.Unlock()
	if lf != nil && (lf.size == 0 || lf.size+size <= s.opts.FileBytes) {
		return lf, nil
	}
	if lf != nil {
		if err := s.hooks.sync(lf.f); err != nil {
			err = fmt.Errorf("%w: syncing %s: %w", ErrFailed, lf.path, err)
			s.fail(err)
			return nil, err
		}
		s.mu.Lock()
		s.syncedSeq = s.writtenSeq
		s.advance(s.writtenSeq)
		s.mu.Unlock()
	}
	nf, err := createLogFile(s.opts.Dir, first, base)
	if err != nil {
		// Nothing was written: the spool is as before, the batch fails.
		return nil, fmt.Errorf("spool: append: new log file: %w", err)
	}
	s.mu.Lock()
	s.files = append(s.files, nf)
	s.mu.Unlock()
	return nf, nil
}

// syncLoop is a syncer goroutine: it fdatasyncs the active log file whenever
// something was written that no sync in flight covers.
func (s *Spool) syncLoop() {
	defer s.syncing.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for s.syncedSeq == s.writtenSeq && !s.writerDone {
			s.syncCond.Wait()
		}
		if s.syncedSeq == s.writtenSeq {
			return // the writer is done and everything synced
		}
		target := s.writtenSeq
		s.syncedSeq = target
		lf := s.files[len(s.files)-1] // holds target: older log files were synced when rolling over
		lf.acquire()
		failed := s.failed
		s.mu.Unlock()
		var err error
		if failed == nil {
			err = s.hooks.sync(lf.f)
		}
		s.mu.Lock()
		if rerr := lf.release(); rerr != nil && err == nil {
			err = rerr
		}
		switch {
		case failed != nil:
			// Batches were failed with the spool.
		case err != nil:
			s.failLocked(fmt.Errorf("%w: syncing %s: %w", ErrFailed, lf.path, err))
		default:
			s.advance(target)
		}
	}
}

// advance marks the records up to seq durable and finishes their batches.
// s.mu must be held.
func (s *Spool) advance(seq uint64) {
	if seq <= s.durableSeq {
		return
	}
	if seq > s.writtenSeq {
		panic(fmt.Sprintf("BUG: spool: record %d durable but only %d written", seq, s.writtenSeq))
	}
	s.durableSeq = seq
	i := 0
	for ; i < len(s.inflight) && s.inflight[i].first+uint64(s.inflight[i].n)-1 <= seq; i++ {
		b := s.inflight[i]
		s.unsynced -= int64(b.size)
		close(b.done)
	}
	s.inflight = append(s.inflight[:0], s.inflight[i:]...)
	close(s.durable)
	s.durable = make(chan struct{})
	s.writeCond.Signal()
}

// fail puts the spool in the failed state after an I/O error that leaves the
// file's contents unknown, finishing every batch written and not yet durable
// with err. Only the first error is kept.
func (s *Spool) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

// failLocked is fail with s.mu held.
func (s *Spool) failLocked(err error) {
	if s.failed != nil {
		return
	}
	s.failed = err
	s.logger.Error("spool failed: close and open again to recover", "err", err)
	for _, b := range s.inflight {
		s.unsynced -= int64(b.size)
		s.pending -= int64(b.size)
		b.err = err
		close(b.done)
	}
	s.inflight = nil
	s.writeCond.Broadcast()
	s.syncCond.Broadcast()
}

func (s *Spool) failedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// finish ends a batch that was not written with err, returning its bytes.
func (s *Spool) finish(b *batch, err error) {
	s.mu.Lock()
	s.pending -= int64(b.size)
	b.err = err
	close(b.done)
	s.mu.Unlock()
}

// noSpace reports whether err says the disk or the quota is full.
func noSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
