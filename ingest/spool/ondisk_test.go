package spool

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLogFileNamesOnDisk pins the on-disk names of the log files, written
// here by hand rather than through the package's helpers: a spool that an
// earlier version left (files 00000000000000000001.seg, ...) is recovered
// whole, and the files this version creates carry the same names, so an
// upgrade, or going back a version, finds every record.
func TestLogFileNamesOnDisk(t *testing.T) {
	dir := t.TempDir()
	frames := func(recs ...string) []byte {
		var b []byte
		for _, r := range recs {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
			b = binary.LittleEndian.AppendUint32(b, crc32.Checksum([]byte(r), crc32.MakeTable(crc32.Castagnoli)))
			b = append(b, r...)
		}
		return b
	}
	for name, recs := range map[string][]string{
		"00000000000000000001.seg": {"a", "bb", "ccc"},
		"00000000000000000004.seg": {"dddd"},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), frames(recs...), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// 16 bytes: the next Append rolls over to a new file.
	s := openT(t, Options{Dir: dir, FileBytes: 16})
	if got := s.LastSeq(); got != 4 {
		t.Fatalf("recovered up to record %d, want 4", got)
	}
	var got []string
	for seq := uint64(1); seq <= 4; seq++ {
		recs, err := s.Read(ctxT(t), seq, 1, 1<<20)
		if err != nil || len(recs) != 1 || recs[0].Seq != seq {
			t.Fatalf("Read(%d): %v, %v", seq, recs, err)
		}
		got = append(got, string(recs[0].Data))
	}
	if want := []string{"a", "bb", "ccc", "dddd"}; !slices.Equal(got, want) {
		t.Fatalf("recovered records %q, want %q", got, want)
	}
	if first, _, err := s.Append(ctxT(t), []byte("eeeee")); err != nil || first != 5 {
		t.Fatalf("Append after recovery: record %d, %v; want record 5", first, err)
	}
	closeT(t, s)

	names, err := filepath.Glob(filepath.Join(dir, "0*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	want := []string{"00000000000000000001.seg", "00000000000000000004.seg", "00000000000000000005.seg"}
	if !slices.Equal(names, want) {
		t.Fatalf("log files on disk %v, want %v", names, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, want[2])); err != nil || string(b) != string(frames("eeeee")) {
		t.Fatalf("new log file holds %q (%v), want the framed record", b, err)
	}
}
