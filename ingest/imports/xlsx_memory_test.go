package imports_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/granarycdp/cdp/ingest/imports"
)

// writeWorkbook writes rows order lines to a workbook file with the
// stream writer (inline strings, as exporters write).
func writeWorkbook(t testing.TB, path string, rows int) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	sw.SetRow("A1", []any{"主订单编号", "选购商品", "商品数量", "商品金额", "订单提交时间", "订单状态", "订单应付金额", "收件人手机号", "省", "市"})
	for i := range rows {
		idCell := fmt.Sprintf("69293580%011d", i)
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{idCell, "低GI大米 2.5kg", 2, 79.8, 46337.5 + float64(i)/86400, "已完成", 79.8, "138****1234", "浙江省", "杭州市"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// readWorkbookMeasured reads every row of a workbook and returns their
// number and, sampled every 10,000 rows, the most live heap above base,
// the live heap before the workbook was opened.
func readWorkbookMeasured(t testing.TB, path string) (rows int, peak, base uint64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	base = liveHeap()
	in, err := imports.Open(fh, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := imports.OpenXLSX(in.R, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	for {
		_, _, err := tab.Next()
		if err == io.EOF {
			return rows, peak, base
		}
		if err != nil {
			t.Fatal(err)
		}
		if rows++; rows%10_000 == 0 {
			if cur := liveHeap(); cur > base {
				peak = max(peak, cur-base)
			}
		}
	}
}

// liveHeap is the heap the collection it forces found live (the runtime's
// /gc/heap/live:bytes).
func liveHeap() uint64 {
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return live[0].Value.Uint64()
}

// TestLargeWorkbookReadsInBoundedMemory reads a 100,000-row workbook (a
// 1,000,000-row one with CDP_XLSX_ROWS=1000000) and checks, every 10,000
// rows, the heap still live: it stays flat, the sheet is never held (with
// excelize's GetRows, which holds the sheet, it fails).
func TestLargeWorkbookReadsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a large workbook")
	}
	rows := 100_000
	if v := os.Getenv("CDP_XLSX_ROWS"); v != "" {
		fmt.Sscan(v, &rows)
	}
	path := filepath.Join(t.TempDir(), "orders.xlsx")
	writeWorkbook(t, path, rows)
	st, _ := os.Stat(path)
	n, peak, base := readWorkbookMeasured(t, path)
	t.Logf("%d rows, %d MB workbook: live heap at most %.2f MB above the %.1f MB before opening it", n, st.Size()>>20, float64(peak)/(1<<20), float64(base)/(1<<20))
	if n != rows {
		t.Fatalf("read %d rows, want %d", n, rows)
	}
	if peak > 16<<20 {
		t.Fatalf("reading held %d MB of heap; the sheet must not be kept", peak>>20)
	}
}
