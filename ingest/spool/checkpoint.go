package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// The checkpoint file holds the committed point and the planned ranges above
// it, little-endian:
//
//	magic "SPCK" | version u32 = 1 | committed u64 | n u32 | n x (first u64, last u64) | CRC32C u32 of all before
//
// It is replaced whole by writing checkpoint.tmp, syncing it, renaming it
// over checkpoint and syncing the directory, so a crash leaves the old or the
// new one. A missing file is a spool that never committed or planned.
const (
	checkpointMagic   = "SPCK"
	checkpointVersion = 1
)

type checkpoint struct {
	committed uint64
	plans     []Range
}

func (c checkpoint) marshal() []byte {
	b := make([]byte, 0, 24+16*len(c.plans))
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint32(b, checkpointVersion)
	b = binary.LittleEndian.AppendUint64(b, c.committed)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.plans)))
	for _, p := range c.plans {
		b = binary.LittleEndian.AppendUint64(b, p.First)
		b = binary.LittleEndian.AppendUint64(b, p.Last)
	}
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

func unmarshalCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) < 24 || string(b[:4]) != checkpointMagic {
		return c, errors.New("not a checkpoint")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return c, errors.New("checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != checkpointVersion {
		return c, fmt.Errorf("version %d, want %d", v, checkpointVersion)
	}
	c.committed = binary.LittleEndian.Uint64(b[8:])
	n := binary.LittleEndian.Uint32(b[16:])
	if uint64(len(body)) != 20+16*uint64(n) {
		return c, fmt.Errorf("%d bytes for %d plans", len(b), n)
	}
	for i := range int(n) {
		p := body[20+16*i:]
		c.plans = append(c.plans, Range{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])})
	}
	return c, nil
}

func readCheckpoint(dir string) (checkpoint, error) {
	path := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("spool: %w", err)
	}
	c, err := unmarshalCheckpoint(b)
	if err != nil {
		return checkpoint{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return c, nil
}

// writeCheckpoint durably replaces the checkpoint file with c.
func writeCheckpoint(dir string, c checkpoint) error {
	tmp := filepath.Join(dir, checkpointTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(c.marshal())
	if err == nil {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Rename(tmp, filepath.Join(dir, checkpointName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// reserveBytes is the size of the reserve file, whose space a checkpoint
// write takes when the disk is full: without it a full disk could not record
// the Commit that frees space. A checkpoint with maxPlans plans is 64 KiB.
const reserveBytes = 256 << 10

// persist durably writes c as the checkpoint. When the disk is full it gives
// up the reserve file and tries again.
func (s *Spool) persist(c checkpoint) error {
	err := writeCheckpoint(s.opts.Dir, c)
	if err == nil || !noSpace(err) || !s.reserved {
		return err
	}
	s.logger.Warn("spool: disk full: writing the checkpoint into the reserved space", "err", err)
	s.reserved = false
	if rerr := os.Remove(filepath.Join(s.opts.Dir, reserveName)); rerr != nil {
		return errors.Join(err, rerr)
	}
	return writeCheckpoint(s.opts.Dir, c)
}

// reserve makes sure the reserve file holds reserveBytes. It is not synced:
// a reserve lost in a crash is made again by Open. s.ckMu must be held, or
// Open be running.
func (s *Spool) reserve() {
	if s.reserved {
		return
	}
	path := filepath.Join(s.opts.Dir, reserveName)
	err := allocate(path, reserveBytes)
	if err != nil {
		err = errors.Join(err, os.Remove(path))
		s.logger.Warn("spool: cannot reserve space for checkpoints", "err", err)
		return
	}
	s.reserved = true
}

// allocate makes the file at path hold size bytes of allocated space.
func allocate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		_, err = f.WriteAt(make([]byte, size), 0)
	}
	return errors.Join(err, f.Close())
}

// Plan durably records that the consumer is about to store records
// first..last downstream as one batch, so that after a crash Plans returns the
// same batch to store again (under the same deduplication token). Plans
// are contiguous: first must follow the last plan, or the committed point
// when there is none, and last must be durable; otherwise Plan returns an
// error wrapping ErrRange. Planning a range that is already planned does
// nothing.
func (s *Spool) Plan(first, last uint64) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	r := Range{first, last}
	if slices.Contains(s.plans, r) {
		s.mu.Unlock()
		return nil
	}
	want := s.committed + 1
	if n := len(s.plans); n > 0 {
		want = s.plans[n-1].Last + 1
	}
	var err error
	switch {
	case first != want || last < first:
		err = fmt.Errorf("%w: plan %d..%d: the next plan starts at %d", ErrRange, first, last, want)
	case last > s.durableSeq:
		err = fmt.Errorf("%w: plan %d..%d: the last durable record is %d", ErrRange, first, last, s.durableSeq)
	case len(s.plans) >= maxPlans:
		err = fmt.Errorf("%w: plan %d..%d: %d plans are waiting for a commit", ErrRange, first, last, len(s.plans))
	}
	ck := checkpoint{committed: s.committed, plans: append(slices.Clone(s.plans), r)}
	s.mu.Unlock()
	if err != nil {
		return err
	}

	if err := s.persist(ck); err != nil {
		return fmt.Errorf("spool: plan %d..%d: %w", first, last, err)
	}
	s.mu.Lock()
	s.plans = ck.plans
	s.mu.Unlock()
	return nil
}

// Commit declares every record up to upTo stored downstream. It durably
// records the new committed point, drops the plans it covers and removes
// the log files whose records are all committed, freeing their bytes
// for Append. upTo must be durable and must not split a planned range, or
// Commit returns an error wrapping ErrRange; upTo at or below Committed()
// does nothing. Commit returns once the committed point is durable; a
// failure to remove a file after that is logged, and Open removes it.
func (s *Spool) Commit(upTo uint64) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	if upTo <= s.committed {
		s.mu.Unlock()
		return nil
	}
	if upTo > s.durableSeq {
		s.mu.Unlock()
		return fmt.Errorf("%w: commit up to %d: the last durable record is %d", ErrRange, upTo, s.durableSeq)
	}
	var plans []Range
	for _, p := range s.plans {
		if p.First <= upTo && upTo < p.Last {
			s.mu.Unlock()
			return fmt.Errorf("%w: commit up to %d splits the planned batch %d..%d", ErrRange, upTo, p.First, p.Last)
		}
		if p.Last > upTo {
			plans = append(plans, p)
		}
	}
	s.mu.Unlock()

	// Log files are removed only below, under ckMu, so the one holding
	// upTo+1 stays while its position is found.
	pos, err := s.position(upTo + 1)
	if err != nil {
		return fmt.Errorf("spool: commit up to %d: %w", upTo, err)
	}
	if err := s.persist(checkpoint{committed: upTo, plans: plans}); err != nil {
		return fmt.Errorf("spool: commit up to %d: %w", upTo, err)
	}

	s.wmu.Lock()
	s.mu.Lock()
	s.committed = upTo
	s.plans = plans
	s.pending -= pos - s.committedPos
	s.committedPos = pos
	n := 0
	for n < len(s.files) && !s.files[n].empty() && s.files[n].last <= upTo {
		n++
	}
	drop := s.files[:n]
	for _, lf := range drop {
		lf.removed = true
	}
	s.files = slices.Clone(s.files[n:])
	if slices.Contains(drop, s.hint.file) {
		s.hint = readHint{}
	}
	s.mu.Unlock()
	s.wmu.Unlock()

	for _, lf := range drop {
		err := os.Remove(lf.path)
		s.mu.Lock()
		err = errors.Join(err, lf.release())
		s.mu.Unlock()
		if err != nil {
			s.logger.Warn("spool: removing a committed log file", "file", lf.path, "err", err)
		}
	}
	s.reserve()
	return nil
}
