package spool

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// readHint remembers where the record after the last one Read returned
// starts, so a consumer reading on, and its Commit, find it without the
// index.
type readHint struct {
	seq  uint64
	file *logFile
	off  int64
}

// Read returns records in order from the first with Seq >= from: at most
// maxRecords of them, and no more than maxBytes of Data unless the first
// record alone is larger. Records at or below Committed() are gone: from
// below Committed()+1 reads from there. Only durable records are returned;
// when there is none at from yet, Read waits for one or for ctx to end.
// Read may return fewer records than are available, for example at the end
// of a log file. The caller owns the returned Data; consecutive records
// may share one allocation. Read is meant for a single consumer but is safe
// for concurrent use.
func (s *Spool) Read(ctx context.Context, from uint64, maxRecords int, maxBytes int) ([]Record, error) {
	if maxRecords < 1 {
		return nil, fmt.Errorf("spool: Read with maxRecords %d, want at least 1", maxRecords)
	}
	s.mu.Lock()
	for {
		if s.closing {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		from = max(from, s.committed+1)
		if from <= s.durableSeq {
			break
		}
		durable := s.durable
		s.mu.Unlock()
		select {
		case <-durable:
		case <-s.closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	lf := s.fileOf(from)
	limit := min(lf.last, s.durableSeq)
	off, at := s.startOf(lf, from)
	end := lf.size
	lf.acquire()
	s.mu.Unlock()

	// Read ahead what maxBytes lets through, within reason.
	chunk := min(max(maxBytes+64<<10, 64<<10), 4<<20)
	r := newFrameReader(lf.f, off, end, chunk)
	recs, next, err := readRecords(r, at, from, limit, maxRecords, maxBytes)
	if err != nil {
		err = fileError(fmt.Sprintf("%s: reading records from %d", lf.path, from), err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rerr := lf.release(); err == nil && rerr != nil {
		err = fmt.Errorf("spool: %w", rerr)
	}
	if err != nil {
		return nil, err
	}
	if !lf.removed {
		s.hint = readHint{seq: recs[len(recs)-1].Seq + 1, file: lf, off: next}
	}
	return recs, nil
}

// readRecords skips from record at to record from, then returns records up
// to limit within maxRecords and maxBytes, and the offset of the record after
// the last returned.
func readRecords(r *frameReader, at, from, limit uint64, maxRecords, maxBytes int) ([]Record, int64, error) {
	for ; at < from; at++ {
		if _, err := r.next(false); err != nil {
			return nil, 0, err
		}
	}
	n := min(limit-from+1, uint64(maxRecords))
	recs := make([]Record, 0, n)
	bytes := 0
	next := r.offset()
	for seq := from; seq <= limit && len(recs) < maxRecords; seq++ {
		p, err := r.next(true)
		if err != nil {
			return nil, 0, err
		}
		if bytes += len(p); bytes > maxBytes && len(recs) > 0 {
			break
		}
		recs = append(recs, Record{Seq: seq, Data: p})
		next = r.offset()
	}
	return recs, next, nil
}

// position returns the spool-wide byte position at which record seq starts
// (or would start, for the record after the last written). seq must be above
// the committed point.
func (s *Spool) position(seq uint64) (int64, error) {
	s.mu.Lock()
	if seq > s.writtenSeq {
		pos := s.endPos
		s.mu.Unlock()
		return pos, nil
	}
	lf := s.fileOf(seq)
	off, at := s.startOf(lf, seq)
	if at == seq {
		s.mu.Unlock()
		return lf.base + off, nil
	}
	end := lf.size
	lf.acquire()
	s.mu.Unlock()

	r := newFrameReader(lf.f, off, end, 64<<10)
	var err error
	for ; at < seq && err == nil; at++ {
		_, err = r.next(false)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rerr := lf.release(); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return 0, fileError(fmt.Sprintf("%s: finding record %d", lf.path, seq), err)
	}
	return lf.base + r.offset(), nil
}

// fileError wraps an error reading frames: ErrCorrupt for a bad frame in data
// that was checked when written or recovered, the I/O error otherwise.
func fileError(what string, err error) error {
	if errors.Is(err, errBadFrame) {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
	}
	return fmt.Errorf("spool: %s: %w", what, err)
}

// fileOf returns the log file holding record seq, which must have been
// written and not removed. s.mu must be held.
func (s *Spool) fileOf(seq uint64) *logFile {
	i := sort.Search(len(s.files), func(i int) bool { return s.files[i].first > seq }) - 1
	if i < 0 || seq > s.files[i].last {
		panic(fmt.Sprintf("BUG: spool: no log file holds record %d (committed %d, written %d, %d log files)",
			seq, s.committed, s.writtenSeq, len(s.files)))
	}
	return s.files[i]
}

// startOf returns where to start reading lf for record seq: the offset of
// record at <= seq. s.mu must be held.
func (s *Spool) startOf(lf *logFile, seq uint64) (off int64, at uint64) {
	if s.hint.file == lf && s.hint.seq == seq {
		return s.hint.off, seq
	}
	return lf.seekStart(seq)
}
