package imports

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table is a file of rows under a header row: a CSV file or a workbook's
// sheet. Rows are read one at a time; none is kept.
type Table interface {
	// Header is the first row, its names trimmed (and without a
	// byte-order mark).
	Header() []string
	// Next returns the next row, with as many cells as the header (short
	// rows padded), and its line (CSV) or row number (workbook), both
	// counting the header as 1. A row that cannot be read is a *RowError
	// and reading may go on; io.EOF ends the table. Empty rows are
	// skipped.
	Next() ([]string, int, error)
	// Close releases the table (a workbook's temporary files).
	Close() error
}

// RowError is a row that could not be read; the next one may be.
type RowError struct {
	Line    int
	Code    string // invalid_csv or invalid_utf8
	Column  string
	Message string
	Raw     string // the row's text as far as it was read
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// maxRowBytes bounds one row of a CSV file.
const maxRowBytes = 1 << 20

// csvTable reads CSV (comma-separated; a tab-separated file is recognised
// by its header).
type csvTable struct {
	cr     *csv.Reader
	header []string
	line   int
}

// OpenCSV reads the header row of a UTF-8 CSV file.
func OpenCSV(r io.Reader) (Table, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	cr := csv.NewReader(br)
	if first, err := br.Peek(4096); err == nil || err == io.EOF || err == bufio.ErrBufferFull {
		line, _, _ := strings.Cut(string(first), "\n")
		if strings.Count(line, "\t") > strings.Count(line, ",") {
			cr.Comma = '\t'
		}
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	// Exports write ="0123…" to keep Excel from reading a long id as a
	// number; CleanCell removes the wrapping.
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fail("file", "the file is empty: a header row is needed")
	}
	if err != nil {
		return nil, fail("file", "the CSV header row is unreadable: %v", err)
	}
	t := &csvTable{cr: cr, header: cleanHeader(header), line: 1}
	return t, checkHeader(t.header)
}

func (t *csvTable) Header() []string { return t.header }
func (t *csvTable) Close() error     { return nil }

func (t *csvTable) Next() ([]string, int, error) {
	for {
		row, err := t.cr.Read()
		line := t.line + 1
		if err == nil && len(row) > 0 {
			line, _ = t.cr.FieldPos(0)
		}
		t.line = line
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return nil, line, io.EOF
		case errors.As(err, &pe):
			return nil, pe.StartLine, &RowError{Line: pe.StartLine, Code: "invalid_csv", Message: pe.Err.Error(), Raw: strings.Join(row, ",")}
		case err != nil:
			return nil, line, fmt.Errorf("imports: read CSV: %w", err)
		}
		if blank(row) {
			continue
		}
		return t.fit(row, line)
	}
}

// fit checks a row's cells and pads it to the header's width.
func (t *csvTable) fit(row []string, line int) ([]string, int, error) {
	size := 0
	for i, v := range row {
		size += len(v)
		if !utf8.ValidString(v) {
			col := ""
			if i < len(t.header) {
				col = t.header[i]
			}
			return nil, line, &RowError{Line: line, Code: "invalid_utf8", Column: col, Message: "not valid UTF-8 (is the file GBK? give encoding=gbk)"}
		}
	}
	if size > maxRowBytes {
		return nil, line, &RowError{Line: line, Code: "too_large", Message: fmt.Sprintf("row is %d bytes; the limit is %d", size, maxRowBytes)}
	}
	if len(row) > len(t.header) {
		if !blank(row[len(t.header):]) {
			return nil, line, &RowError{Line: line, Code: "invalid_csv", Message: fmt.Sprintf("%d columns, the header has %d", len(row), len(t.header)), Raw: strings.Join(row, ",")}
		}
		row = row[:len(t.header)]
	}
	for len(row) < len(t.header) {
		row = append(row, "")
	}
	return row, line, nil
}

func blank(row []string) bool {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// cleanHeader trims the names of a header row (exports pad them, and
// Excel leaves a byte-order mark on the first).
func cleanHeader(h []string) []string {
	out := make([]string, len(h))
	for i, v := range h {
		out[i] = strings.TrimSpace(strings.TrimPrefix(v, "\ufeff"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// checkHeader refuses a header without names or with a name twice.
func checkHeader(h []string) error {
	if len(h) == 0 {
		return fail("file", "the header row is empty")
	}
	seen := map[string]bool{}
	for i, v := range h {
		if !utf8.ValidString(v) {
			return fail("encoding", "the header row is not valid UTF-8: is the file GBK? give encoding=gbk")
		}
		if v == "" {
			continue
		}
		if seen[v] {
			return fail("file", "column %q appears twice in the header (column %d)", v, i+1)
		}
		seen[v] = true
	}
	return nil
}
