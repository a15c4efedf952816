// Package imports reads the files operators import: platform exports and
// order files as CSV, JSON lines or Excel workbooks (.xlsx), raw or
// gzip-compressed, in UTF-8 (with or without a byte-order mark) or
// GB18030/GBK, the encoding Excel on Chinese Windows saves CSV in. It
// detects what it is not told, streams rows without holding the file, and
// maps platform headers to the platform's fields through presets, which
// are data files (presets/*.json).
//
// The package only reads and maps; validation and storage stay with
// ingest.Collector.
package imports

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Error is a problem with a file as a whole: its encoding, its format, a
// header. Field names what is wrong (encoding, format, file, sheet,
// mapping.<column>, preset).
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func fail(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Encodings a file may be given in; "" detects.
const (
	UTF8    = "utf-8"
	GB18030 = "gb18030"
)

// sniffBytes is how much of a file detection looks at.
const sniffBytes = 256 << 10

// normEncoding maps the names an operator may give to the two decoders.
// GBK and GB2312 are subsets of GB18030, so one decoder serves all three.
func normEncoding(enc string) (string, *Error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(enc), "_", "-")) {
	case "":
		return "", nil
	case "utf-8", "utf8":
		return UTF8, nil
	case "gbk", "gb2312", "gb18030", "cp936", "gb-18030":
		return GB18030, nil
	}
	return "", fail("encoding", "%q is not supported: give utf-8 or gbk (gb18030), or leave it out to detect", enc)
}

// Input is an opened file: its content as UTF-8 text (or, for a workbook,
// the raw bytes), what was detected, and how many bytes of the file were
// read so far (before decompression).
type Input struct {
	R        io.Reader
	Format   string // csv, jsonl or xlsx
	Encoding string // utf-8 or gb18030; "" for a workbook
	BOM      bool   // a UTF-8 byte-order mark was removed
	Gzip     bool
}

// Open prepares a file for reading. It undoes gzip (recognised by its
// magic bytes, whatever the request said), recognises the format from the
// content when format is "" (a zip is a workbook, a first "{" JSON lines,
// anything else CSV), and for text removes a UTF-8 byte-order mark and
// decodes GB18030/GBK to UTF-8. encoding "" detects: a file whose first
// 256 KB are valid UTF-8 is UTF-8, one that is valid GB18030 there is
// GB18030; anything else (UTF-16, Latin-1, a binary) is an *Error naming
// the encoding, as are old .xls workbooks and unknown formats.
func Open(r io.Reader, format, encoding string) (*Input, error) {
	enc, ferr := normEncoding(encoding)
	if ferr != nil {
		return nil, ferr
	}
	in := &Input{}
	br := bufio.NewReaderSize(r, sniffBytes)
	head, err := br.Peek(2)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fail("file", "not valid gzip: %v", err)
		}
		in.Gzip = true
		br = bufio.NewReaderSize(zr, sniffBytes)
	}
	sample, err := br.Peek(sniffBytes)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("imports: read the file: %w", err)
	}
	if in.Format, ferr = sniffFormat(sample, format); ferr != nil {
		return nil, ferr
	}
	if in.Format == "xlsx" {
		in.R = br
		return in, nil
	}
	return in, in.text(br, sample, enc)
}

// text sets in.R to the file decoded to UTF-8.
func (in *Input) text(br *bufio.Reader, sample []byte, enc string) error {
	switch {
	case bytes.HasPrefix(sample, []byte{0xef, 0xbb, 0xbf}):
		if enc == GB18030 {
			return fail("encoding", "the file starts with a UTF-8 byte-order mark but encoding=gbk was given")
		}
		_, _ = br.Discard(3)
		in.BOM, enc, sample = true, UTF8, sample[3:]
	case bytes.HasPrefix(sample, []byte{0xff, 0xfe}), bytes.HasPrefix(sample, []byte{0xfe, 0xff}):
		return fail("encoding", "the file is UTF-16 (Excel's \"Unicode text\"); save it as CSV UTF-8 or CSV (GBK) instead")
	}
	if enc == "" {
		var err *Error
		if enc, err = detectEncoding(sample); err != nil {
			return err
		}
	}
	in.Encoding = enc
	if enc == GB18030 {
		in.R = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
		return nil
	}
	in.R = br
	return nil
}

// detectEncoding tells UTF-8 from GB18030 on a sample of the file. A
// sample cut inside a character is judged on its complete characters.
func detectEncoding(sample []byte) (string, *Error) {
	if bytes.IndexByte(sample, 0) >= 0 {
		return "", fail("encoding", "the file holds NUL bytes: it is binary or UTF-16, not a UTF-8 or GBK text file")
	}
	if validUTF8Prefix(sample) {
		return UTF8, nil
	}
	if validGB18030(sample) {
		return GB18030, nil
	}
	return "", fail("encoding", "the file is neither UTF-8 nor GB18030/GBK text; save it as CSV UTF-8, or give encoding=")
}

// validUTF8Prefix reports whether sample is valid UTF-8 but for an
// incomplete character at its end (the sample may cut one).
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < 4 && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		r, _ := utf8.DecodeLastRune(b)
		if r != utf8.RuneError {
			return false
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// validGB18030 reports whether sample decodes as GB18030 without
// replacement characters, but for a character cut at its end.
func validGB18030(b []byte) bool {
	out, _, err := transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), b)
	if err != nil && len(b) > 4 {
		out, _, err = transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), b[:len(b)-4])
	}
	return err == nil && !bytes.ContainsRune(out, utf8.RuneError)
}

// sniffFormat returns the given format, checked, or the one the content
// shows.
func sniffFormat(sample []byte, format string) (string, *Error) {
	zip := bytes.HasPrefix(sample, []byte("PK\x03\x04"))
	ole := bytes.HasPrefix(sample, []byte{0xd0, 0xcf, 0x11, 0xe0})
	if ole {
		return "", fail("format", "the file is an Excel 97-2003 workbook (.xls) or an encrypted workbook; save it as .xlsx (without a password) or CSV")
	}
	switch strings.ToLower(format) {
	case "":
	case "csv", "jsonl":
		if zip {
			return "", fail("format", "format=%s was given but the file is a zip archive (an .xlsx workbook?); give format=xlsx or leave it out", format)
		}
		return strings.ToLower(format), nil
	case "xlsx":
		if !zip {
			return "", fail("format", "format=xlsx was given but the file is not an .xlsx workbook (no zip signature)")
		}
		return "xlsx", nil
	default:
		return "", fail("format", "%q is not supported: give csv, jsonl or xlsx, or leave it out to detect", format)
	}
	if zip {
		return "xlsx", nil
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(sample, []byte{0xef, 0xbb, 0xbf}), " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		return "jsonl", nil
	}
	return "csv", nil
}
