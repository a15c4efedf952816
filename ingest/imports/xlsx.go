package imports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxXMLInMemory is the largest worksheet or shared-string part that
// excelize unpacks in memory; larger ones go to a temporary file and are
// read from there as the rows are iterated.
const xlsxXMLInMemory = 4 << 20

// maxXLSXUnzipped bounds what a workbook may unpack to (a zip bomb is
// refused, not unpacked).
const maxXLSXUnzipped = 8 << 30

// xlsxTable streams the rows of one sheet of a workbook.
type xlsxTable struct {
	f      *excelize.File
	rows   *excelize.Rows
	tmp    string
	header []string
	row    int
}

// OpenXLSX reads a workbook (.xlsx) and the header row of sheet, the first
// sheet when sheet is "". A workbook is a zip archive, which is read from
// its end, so the file is first copied to a temporary file in tmpDir (""
// for the system's); the sheet's rows are then read one at a time, without
// holding the sheet: memory does not grow with the number of rows (the
// shared-string table, if the workbook has one, is indexed on disk at ~40
// bytes per distinct string). Cell values are raw: a date is Excel's
// serial number, which ParseTime reads.
func OpenXLSX(r io.Reader, sheet, tmpDir string) (Table, error) {
	tmp, err := os.CreateTemp(tmpDir, "cdp-import-*.xlsx")
	if err != nil {
		return nil, fmt.Errorf("imports: temporary file for a workbook: %w", err)
	}
	t := &xlsxTable{tmp: tmp.Name()}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	if err := t.open(sheet, tmpDir); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *xlsxTable) open(sheet, tmpDir string) error {
	f, err := excelize.OpenFile(t.tmp, excelize.Options{RawCellValue: true, UnzipXMLSizeLimit: xlsxXMLInMemory,
		UnzipSizeLimit: maxXLSXUnzipped, TmpDir: tmpDir})
	if err != nil {
		return fail("file", "not a readable .xlsx workbook: %v", err)
	}
	t.f = f
	sheets := f.GetSheetList()
	if sheet == "" {
		if len(sheets) == 0 {
			return fail("sheet", "the workbook has no sheet")
		}
		sheet = sheets[0]
	} else if idx, _ := f.GetSheetIndex(sheet); idx < 0 {
		return fail("sheet", "no sheet %q in the workbook (sheets: %s)", sheet, strings.Join(sheets, ", "))
	}
	if t.rows, err = f.Rows(sheet); err != nil {
		return fail("sheet", "sheet %q unreadable: %v", sheet, err)
	}
	for {
		row, _, err := t.Next()
		if err == io.EOF {
			return fail("file", "sheet %q is empty: a header row is needed", sheet)
		}
		if err != nil {
			return err
		}
		t.header = cleanHeader(row)
		return checkHeader(t.header)
	}
}

func (t *xlsxTable) Header() []string { return t.header }

func (t *xlsxTable) Next() ([]string, int, error) {
	for t.rows.Next() {
		t.row++
		row, err := t.rows.Columns()
		if err != nil {
			return nil, t.row, &RowError{Line: t.row, Code: "invalid_xlsx", Message: err.Error()}
		}
		if blank(row) {
			continue
		}
		if t.header == nil {
			return row, t.row, nil
		}
		if len(row) > len(t.header) {
			if !blank(row[len(t.header):]) {
				return nil, t.row, &RowError{Line: t.row, Code: "invalid_xlsx", Message: fmt.Sprintf("%d columns, the header has %d", len(row), len(t.header)), Raw: strings.Join(row, ",")}
			}
			row = row[:len(t.header)]
		}
		for len(row) < len(t.header) {
			row = append(row, "")
		}
		return row, t.row, nil
	}
	if err := t.rows.Error(); err != nil {
		return nil, t.row, fmt.Errorf("imports: read the sheet: %w", err)
	}
	return nil, t.row, io.EOF
}

// Close closes the workbook and removes its temporary files.
func (t *xlsxTable) Close() error {
	var errs []error
	if t.rows != nil {
		errs = append(errs, t.rows.Close())
	}
	if t.f != nil {
		errs = append(errs, t.f.Close())
	}
	if t.tmp != "" {
		if err := os.Remove(t.tmp); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
