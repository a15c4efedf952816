package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// frameHeaderSize is the [u32 length][u32 CRC32C] in front of a payload.
	frameHeaderSize = 8
	// logFileSuffix ends a log file's name; the name before it is the
	// log file's first sequence number, zero-padded to 20 digits (the width
	// of the largest uint64) so names sort like the numbers. ".seg" is the
	// on-disk name every version has written (the files were once called
	// segments): keep it, so that a spool left by an older or a newer
	// version is recovered, not ignored (TestLogFileNamesOnDisk).
	logFileSuffix = ".seg"
	// indexEvery is the stride of a log file's sparse index. Finding a record
	// reads at most indexEvery-1 frame headers past an index entry (one
	// 64 KiB read for small records); the index costs 8 bytes per 64
	// records, 450 KiB for 1 GiB of 300-byte records.
	indexEvery = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// appendFrame appends p framed as [len][crc][p] to buf.
func appendFrame(buf []byte, p []byte, crc uint32) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p)))
	buf = binary.LittleEndian.AppendUint32(buf, crc)
	return append(buf, p...)
}

// frameLen returns the payload length in the header at hdr and whether it is
// one a writer could have produced: never 0 (Append refuses empty records, so
// a run of zeros, which a crash can leave behind, never reads as records)
// and never above MaxRecordBytes.
func frameLen(hdr []byte) (int, bool) {
	n := binary.LittleEndian.Uint32(hdr)
	return int(n), n > 0 && n <= MaxRecordBytes
}

// logFileName returns the file name of the log file whose first record is seq.
func logFileName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, logFileSuffix)
}

// parseLogFileName returns the first sequence number a log file's name
// carries, and false for names that are not log file names.
func parseLogFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, logFileSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	first, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || first == 0 {
		return 0, false
	}
	return first, true
}

// logFile is one file of the log. Its records are first..last in order,
// last == first-1 while it is empty. Fields other than f, path and first are
// guarded by Spool.mu; size, last and index are changed only by the writer
// (which also holds Spool.wmu) or by Open.
type logFile struct {
	first uint64
	last  uint64
	// size is the length of the complete frames written; the file is never
	// longer except during a write.
	size int64
	// base is the spool-wide byte position of offset 0: a log file's base is
	// the previous one's base plus its size. PendingBytes is a difference of
	// positions.
	base int64
	// index[i] is the offset of record first+i*indexEvery.
	index []int64
	path  string
	f     *os.File
	// refs counts the users of f: one for being in Spool.files, one per
	// reader or sync in progress. The last release closes f.
	refs int
	// removed is set when the log file leaves Spool.files.
	removed bool
}

func (lf *logFile) empty() bool { return lf.last < lf.first }

// acquire and release must be called with Spool.mu held.
func (lf *logFile) acquire() { lf.refs++ }

func (lf *logFile) release() error {
	lf.refs--
	switch {
	case lf.refs > 0:
		return nil
	case lf.refs < 0:
		panic(fmt.Sprintf("BUG: spool: log file %s released more often than acquired", lf.path))
	}
	return lf.f.Close()
}

// indexFrom records in lf.index the offsets of the records in frames (a run
// of whole frames starting at offset off, the first of them being record
// seq) that fall on the index stride.
func (lf *logFile) indexFrom(frames []byte, off int64, seq uint64) {
	for pos := 0; pos < len(frames); seq++ {
		if (seq-lf.first)%indexEvery == 0 {
			lf.index = append(lf.index, off+int64(pos))
		}
		n, _ := frameLen(frames[pos:])
		pos += frameHeaderSize + n
	}
}

// seekStart returns the offset and sequence number of the indexed record at
// or before seq, from where a frameReader skips forward to seq.
func (lf *logFile) seekStart(seq uint64) (int64, uint64) {
	i := (seq - lf.first) / indexEvery
	if seq < lf.first || i >= uint64(len(lf.index)) {
		panic(fmt.Sprintf("BUG: spool: record %d is not indexed in log file %s (records %d..%d, %d index entries)",
			seq, lf.path, lf.first, lf.last, len(lf.index)))
	}
	return lf.index[i], lf.first + i*indexEvery
}

// frameReader reads consecutive frames of a file between off and end,
// reading ahead in chunks. Payloads it returns alias its chunk buffers, which
// it never reuses, so they stay valid.
type frameReader struct {
	f     *os.File
	off   int64 // file offset of buf[0]
	end   int64
	buf   []byte
	pos   int // next frame in buf
	chunk int // read-ahead
}

func newFrameReader(f *os.File, off, end int64, chunk int) *frameReader {
	return &frameReader{f: f, off: off, end: end, chunk: chunk}
}

// offset returns the file offset of the next frame.
func (r *frameReader) offset() int64 { return r.off + int64(r.pos) }

// errBadFrame is wrapped by the errors of frameReader about a frame itself,
// as opposed to errors reading the file.
var errBadFrame = errors.New("bad record frame")

// fill makes at least n bytes from the next frame on available in r.buf,
// reading a fresh chunk that carries over the unread bytes.
func (r *frameReader) fill(n int) error {
	if len(r.buf)-r.pos >= n {
		return nil
	}
	start := r.offset()
	if start+int64(n) > r.end {
		return fmt.Errorf("%w: %d bytes run past the end of the data at %d", errBadFrame, n, r.end)
	}
	size := int64(max(n, r.chunk))
	size = min(size, r.end-start)
	buf := make([]byte, size)
	carried := copy(buf, r.buf[r.pos:])
	if _, err := r.f.ReadAt(buf[carried:], start+int64(carried)); err != nil {
		if err == io.EOF {
			return fmt.Errorf("read %s at %d: file shorter than expected: %w", r.f.Name(), start, io.ErrUnexpectedEOF)
		}
		return err
	}
	r.buf, r.off, r.pos = buf, start, 0
	return nil
}

// next returns the next payload. With verify it checks the payload against its
// CRC. At the end of the range it returns io.EOF; a frame that cannot be
// read whole or fails its checks yields an error describing it.
func (r *frameReader) next(verify bool) ([]byte, error) {
	if r.offset() == r.end {
		return nil, io.EOF
	}
	if err := r.fill(frameHeaderSize); err != nil {
		return nil, err
	}
	hdr := r.buf[r.pos:]
	n, ok := frameLen(hdr)
	if !ok {
		return nil, fmt.Errorf("%w: length %d", errBadFrame, n)
	}
	crc := binary.LittleEndian.Uint32(hdr[4:])
	if err := r.fill(frameHeaderSize + n); err != nil {
		return nil, err
	}
	p := r.buf[r.pos+frameHeaderSize : r.pos+frameHeaderSize+n : r.pos+frameHeaderSize+n]
	if verify && checksum(p) != crc {
		return nil, fmt.Errorf("%w: checksum mismatch (%d bytes)", errBadFrame, n)
	}
	r.pos += frameHeaderSize + n
	return p, nil
}

// fdatasync flushes f's data and the metadata needed to read it back (its
// size), not its timestamps.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// syncDir makes the entries of dir (files created, renamed) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// createLogFile creates the empty file of a new log file and makes its
// directory entry durable, so records written to it and synced survive a
// crash.
func createLogFile(dir string, first uint64, base int64) (*logFile, error) {
	path := filepath.Join(dir, logFileName(first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, errors.Join(err, f.Close(), os.Remove(path))
	}
	return &logFile{first: first, last: first - 1, base: base, path: path, f: f, refs: 1}, nil
}
