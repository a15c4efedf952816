package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recover loads the checkpoint and the log files and sets the spool's state
// from them. It runs in Open, before any other goroutine touches s.
func (s *Spool) recover() error {
	dir := s.opts.Dir
	// A process that died between renaming the checkpoint and syncing the
	// directory left a checkpoint that a power loss could still undo:
	// make it durable before acting on it.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	ck, err := readCheckpoint(dir)
	if err != nil {
		return err
	}
	firsts, err := listLogFiles(dir)
	if err != nil {
		return err
	}
	if err := s.loadLogFiles(dir, firsts, ck.committed); err != nil {
		return err
	}
	last, err := s.adoptCheckpoint(ck)
	if err != nil {
		return err
	}
	if err := s.placeLogFiles(); err != nil {
		return err
	}
	var bytes int64
	for _, lf := range s.files {
		bytes += lf.size
	}
	s.logger.Info("spool opened", "files", len(s.files), "bytes", bytes,
		"committed", s.committed, "last", last, "plans", len(s.plans))
	return nil
}

// listLogFiles returns the first sequence numbers of the log files in dir,
// in order. It removes a checkpoint.tmp left behind, and fails on a file
// with the log files' suffix but not their name.
func listLogFiles(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		if name == checkpointTemp {
			// A Plan or Commit died before its rename: the checkpoint
			// it would have replaced is still in force.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
			continue
		}
		if !strings.HasSuffix(name, logFileSuffix) {
			continue
		}
		first, ok := parseLogFileName(name)
		if !ok {
			return nil, fmt.Errorf("%w: %s: not a log file name (want %s)", ErrCorrupt, filepath.Join(dir, name), logFileName(1))
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	return firsts, nil
}

// loadLogFiles scans the log files whose first records are firsts (sorted)
// into s.files, checking that their records follow on from one another. It
// removes the files whose records are all committed (a Commit died before
// removing them), the last one included.
func (s *Spool) loadLogFiles(dir string, firsts []uint64, committed uint64) error {
	for i, first := range firsts {
		path := filepath.Join(dir, logFileName(first))
		last := i == len(firsts)-1
		if !last && firsts[i+1]-1 <= committed {
			// Wholly committed: a Commit died before removing it.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		lf, err := s.scanLogFile(path, first, last)
		if err != nil {
			return err
		}
		// Hand the file to s.files at once so a failing Open closes it.
		s.files = append(s.files, lf)
		if n := len(s.files); n > 1 && s.files[n-2].last+1 != lf.first {
			return fmt.Errorf("%w: %s follows records up to %d: records are missing or duplicated",
				ErrCorrupt, lf.path, s.files[n-2].last)
		}
	}
	// The last log file can be wholly committed too, or empty below the
	// committed point after its torn tail went.
	if n := len(s.files); n > 0 && s.files[n-1].last <= committed {
		lf := s.files[n-1]
		s.files = s.files[:n-1]
		if err := errors.Join(lf.f.Close(), os.Remove(lf.path)); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// adoptCheckpoint sets the committed point, the plans and the sequence
// numbers written, synced and durable from ck and the loaded log files, and
// returns the last record. It fails when records right above the committed
// point are missing or the plans do not fit the records.
func (s *Spool) adoptCheckpoint(ck checkpoint) (uint64, error) {
	s.committed = ck.committed
	s.plans = ck.plans
	last := ck.committed
	if len(s.files) > 0 {
		if first := s.files[0].first; first > ck.committed+1 {
			return 0, fmt.Errorf("%w: records %d..%d are missing: committed up to %d, oldest log file %s",
				ErrCorrupt, ck.committed+1, first-1, ck.committed, s.files[0].path)
		}
		last = max(last, s.files[len(s.files)-1].last)
	}
	s.writtenSeq, s.syncedSeq, s.durableSeq = last, last, last
	want := ck.committed + 1
	for _, p := range ck.plans {
		if p.First != want || p.Last < p.First || p.Last > last {
			return 0, fmt.Errorf("%w: checkpoint plans %v do not fit records %d..%d", ErrCorrupt, ck.plans, ck.committed+1, last)
		}
		want = p.Last + 1
	}
	return last, nil
}

// placeLogFiles gives the loaded log files their spool-wide byte positions
// and sets the positions of the end and of the committed point, and so the
// pending bytes. s.committed must be set.
func (s *Spool) placeLogFiles() error {
	for _, lf := range s.files {
		lf.base = s.endPos
		s.endPos += lf.size
	}
	s.committedPos = s.endPos
	if len(s.files) > 0 {
		pos, err := s.position(s.committed + 1)
		if err != nil {
			return err
		}
		s.committedPos = pos
	}
	s.pending = s.endPos - s.committedPos
	return nil
}

// scanLogFile reads a log file, checking every record, and builds its
// index. A bad record in the last log file within maxTornBytes of its end is
// what a crash during a write leaves: the file is truncated before it.
// Anywhere else it is corruption.
func (s *Spool) scanLogFile(path string, first uint64, last bool) (_ *logFile, err error) {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close())
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lf := &logFile{first: first, last: first - 1, path: path, f: f, refs: 1}
	size := st.Size()
	r := newFrameReader(f, 0, size, 1<<20)
	for seq := first; ; seq++ {
		off := r.offset()
		_, err := r.next(true)
		if err == io.EOF {
			break
		}
		if err == nil {
			if (seq-first)%indexEvery == 0 {
				lf.index = append(lf.index, off)
			}
			lf.last = seq
			continue
		}
		switch {
		case !errors.Is(err, errBadFrame):
			return nil, fmt.Errorf("spool: %w", err)
		case !last:
			return nil, fmt.Errorf("%w: %s: record %d at offset %d: %w (not the last log file, so not a torn write)",
				ErrCorrupt, path, seq, off, err)
		case size-off > maxTornBytes:
			return nil, fmt.Errorf("%w: %s: record %d at offset %d: %w, %d bytes before the end of the file, more than a crash can leave unsynced (%d)",
				ErrCorrupt, path, seq, off, err, size-off, maxTornBytes)
		}
		s.logger.Warn("spool: truncating torn tail", "file", path, "record", seq,
			"offset", off, "bytes", size-off, "reason", err)
		if err := f.Truncate(off); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		size = off
		break
	}
	if last {
		// Records a dead process wrote but did not sync may still be only
		// in the page cache; they are served and planned from now on, so
		// they must survive a power loss (and so must the truncation).
		if err := fdatasync(f); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	lf.size = size
	return lf, nil
}
