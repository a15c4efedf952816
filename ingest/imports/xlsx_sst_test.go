package imports_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestSharedStringWorkbookMemory reads a workbook saved cell by cell, as
// Excel saves, whose shared-string table holds 150,001 distinct strings:
// excelize indexes the table on disk, and the index is the memory that
// grows, with the distinct strings rather than the rows (26 bytes a string
// measured). It fails above 64 bytes a string.
func TestSharedStringWorkbookMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a large workbook")
	}
	rows := 50_000
	path := filepath.Join(t.TempDir(), "sst.xlsx")
	f := excelize.NewFile()
	for i := range rows {
		for j, v := range []string{fmt.Sprintf("69293580%011d", i), fmt.Sprintf("买家%07d", i), fmt.Sprintf("浙江省 杭州市 西湖区 文三路 %d 号", i), "已完成"} {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			f.SetCellStr("Sheet1", cell, v)
		}
	}
	f.SaveAs(path)
	f.Close()
	n, peak, _ := readWorkbookMeasured(t, path)
	perString := float64(peak) / float64(3*rows+1)
	t.Logf("%d rows, %d distinct strings in a shared-string table: live heap up to %.1f MB (%.0f B per string)", n, 3*rows+1, float64(peak)/(1<<20), perString)
	if perString > 64 {
		t.Fatalf("%.0f bytes of heap per distinct string; want at most 64", perString)
	}
}
