package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// validPrefix is an independent reading of the frame format: the payloads of
// the whole, valid frames at the start of b, and the bytes they take.
func validPrefix(b []byte) (payloads [][]byte, n int) {
	for len(b)-n >= 8 {
		size := binary.LittleEndian.Uint32(b[n:])
		sum := binary.LittleEndian.Uint32(b[n+4:])
		if size == 0 || size > MaxRecordBytes || uint64(len(b)-n-8) < uint64(size) {
			break
		}
		p := b[n+8 : n+8+int(size)]
		if crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)) != sum {
			break
		}
		payloads = append(payloads, p)
		n += 8 + int(size)
	}
	return payloads, n
}

// FuzzRecover writes a sealed log file and a last log file whose records are
// followed by arbitrary bytes, as a crash might leave them. Open must
// recover the records, plus whatever whole valid frames the bytes begin
// with, truncate the rest, and go on appending after them.
func FuzzRecover(f *testing.F) {
	frame := func(p string) []byte { return appendFrame(nil, []byte(p), checksum([]byte(p))) }
	f.Add([]byte{})
	f.Add(frame("whole")[:5])
	f.Add(frame("whole"))
	f.Add(append(frame("whole"), 0, 0, 0))
	f.Add(make([]byte, 4096))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	bad := frame("bad checksum")
	bad[len(bad)-1] ^= 1
	f.Add(append(bad, frame("after")...))

	sealed := [][]byte{[]byte("one"), []byte("two")}
	last := [][]byte{[]byte("three"), bytes.Repeat([]byte("four"), 100)}
	var sealedFile, lastFile []byte
	for _, p := range sealed {
		sealedFile = appendFrame(sealedFile, p, checksum(p))
	}
	for _, p := range last {
		lastFile = appendFrame(lastFile, p, checksum(p))
	}
	want := append(append([][]byte{}, sealed...), last...)

	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		lastPath := filepath.Join(dir, logFileName(3))
		if err := os.WriteFile(filepath.Join(dir, logFileName(1)), sealedFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lastPath, append(bytes.Clone(lastFile), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir})
		if err != nil {
			if len(tail) > maxTornBytes && errors.Is(err, ErrCorrupt) {
				return // too long a tail to be torn: refusing is right
			}
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()

		extra, n := validPrefix(tail)
		want := append(want[:len(want):len(want)], extra...)
		if got := s.LastSeq(); got != uint64(len(want)) {
			t.Fatalf("recovered %d records, want %d", got, len(want))
		}
		if got := fileSize(t, lastPath); got != int64(len(lastFile)+n) {
			t.Fatalf("last log file is %d bytes after recovery, want %d", got, len(lastFile)+n)
		}
		recs, err := s.Read(ctxT(t), 1, len(want), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for len(recs) < len(want) { // Read stops at the end of a log file
			more, err := s.Read(ctxT(t), uint64(len(recs)+1), len(want), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, more...)
		}
		for i, r := range recs {
			if r.Seq != uint64(i+1) || !bytes.Equal(r.Data, want[i]) {
				t.Fatalf("record %d: %d %q, want %q", i+1, r.Seq, r.Data, want[i])
			}
		}
		if first, _, err := s.Append(ctxT(t), []byte("next")); err != nil || first != uint64(len(want)+1) {
			t.Fatalf("Append after recovery: %d, %v; want %d", first, err, len(want)+1)
		}
	})
}
