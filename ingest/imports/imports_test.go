package imports_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/granarycdp/cdp/ingest/imports"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// readAll opens a file and reads its table: header and rows.
func readAll(t testing.TB, b []byte, format, enc string) (*imports.Input, [][]string) {
	t.Helper()
	in, err := imports.Open(bytes.NewReader(b), format, enc)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	var tab imports.Table
	if in.Format == "xlsx" {
		tab, err = imports.OpenXLSX(in.R, "", t.TempDir())
	} else {
		tab, err = imports.OpenCSV(in.R)
	}
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	defer tab.Close()
	rows := [][]string{tab.Header()}
	for {
		row, _, err := tab.Next()
		if err == io.EOF {
			return in, rows
		}
		if err != nil {
			t.Fatalf("row: %v", err)
		}
		rows = append(rows, append([]string(nil), row...))
	}
}

// xlsxOf writes rows as a workbook: with the stream writer (inline
// strings, as platform exporters write) or cell by cell (a shared-string
// table, as Excel saves).
func xlsxOf(t testing.TB, rows [][]string, stream bool) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if stream {
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			cells := make([]any, len(r))
			for j, v := range r {
				cells[j] = v
			}
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := sw.SetRow(cell, cells); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	} else {
		for i, r := range rows {
			for j, v := range r {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				f.SetCellStr("Sheet1", cell, v)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTwinsReadTheSameRows: the Tmall sample as UTF-8, with a BOM, as the
// GBK file Excel on Chinese Windows saves (committed bytes), gzipped, and
// as workbooks of both kinds, reads as the same header and rows.
func TestTwinsReadTheSameRows(t *testing.T) {
	plain := fixture(t, "tmall_orders.csv")
	gbk := fixture(t, "tmall_orders.gbk.csv")
	if utf8.Valid(gbk) {
		t.Fatal("the GBK fixture is valid UTF-8: not a GBK file")
	}
	_, want := readAll(t, plain, "", "")
	twins := []struct {
		name, format, enc, wantEnc string
		b                          []byte
	}{
		{"bom", "", "", "utf-8", append([]byte("\ufeff"), plain...)},
		{"gbk detected", "", "", "gb18030", gbk},
		{"gbk given", "csv", "GBK", "gb18030", gbk},
		{"gbk gzipped", "", "", "gb18030", gzipped(gbk)},
		{"xlsx stream", "", "", "", xlsxOf(t, want, true)},
		{"xlsx shared strings", "xlsx", "", "", xlsxOf(t, want, false)},
	}
	for _, tw := range twins {
		in, got := readAll(t, tw.b, tw.format, tw.enc)
		if in.Encoding != tw.wantEnc {
			t.Errorf("%s: encoding %q, want %q", tw.name, in.Encoding, tw.wantEnc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows differ\n got %q\nwant %q", tw.name, got, want)
		}
	}
}

// TestOpenRefusesNamingTheProblem: what is not UTF-8, GBK, gzip or a
// workbook is refused naming the field.
func TestOpenRefusesNamingTheProblem(t *testing.T) {
	utf16 := []byte{0xff, 0xfe, '1', 0, ',', 0}
	cases := []struct {
		name, format, enc, field string
		b                        []byte
	}{
		{"utf-16", "", "", "encoding", utf16},
		{"binary", "", "", "encoding", []byte("a,b\n\x00\x01\x02\n")},
		{"latin-1 bytes", "", "", "encoding", []byte("a,b\nx\x80\xff,y\n")},
		{"xls", "", "", "format", append([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, make([]byte, 64)...)},
		{"unknown encoding", "", "big5", "encoding", []byte("a\n1\n")},
		{"unknown format", "parquet", "", "format", []byte("a\n1\n")},
		{"xlsx given, csv sent", "xlsx", "", "format", []byte("a\n1\n")},
		{"bom and gbk", "", "gbk", "encoding", []byte("\ufeffa\n1\n")},
		{"broken gzip", "", "", "file", []byte{0x1f, 0x8b, 0x08, 0x00, 0x01}},
	}
	for _, c := range cases {
		_, err := imports.Open(bytes.NewReader(c.b), c.format, c.enc)
		var e *imports.Error
		if !errors.As(err, &e) || e.Field != c.field || e.Message == "" {
			t.Errorf("%s: got %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

// TestEachPresetFitsItsSample: each preset is detected first on its sample
// and maps every row's required fields.
func TestEachPresetFitsItsSample(t *testing.T) {
	for _, p := range imports.Presets() {
		b := fixture(t, p.Name+".csv")
		_, rows := readAll(t, b, "csv", "")
		m := imports.Detect(rows[0], "")
		if m[0].Preset.Name != p.Name || !m[0].Fits {
			t.Errorf("%s: detected %s (fits %v)", p.Name, m[0].Preset.Name, m[0].Fits)
			continue
		}
		if len(m) > 1 && m[1].Fits && m[1].Score >= m[0].Score {
			t.Errorf("%s: %s fits as well", p.Name, m[1].Preset.Name)
		}
		plan, err := imports.NewPlan(p.Kind, rows[0], p, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows[1:] {
			f, _ := plan.Row(r)
			for _, req := range p.Required {
				if f[req] == "" {
					t.Errorf("%s row %d: no %s in %v", p.Name, i+2, req, f)
				}
			}
		}
	}
}

// TestTmallRowsMapped checks the values of the Tmall sample as mapped.
func TestTmallRowsMapped(t *testing.T) {
	_, rows := readAll(t, fixture(t, "tmall_orders.csv"), "", "")
	p, _ := imports.Lookup("tmall_orders")
	plan, err := imports.NewPlan("orders", rows[0], p, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, dropped := plan.Row(rows[1])
	want := map[string]string{"order_id": "3781520918273645121", "status": "completed", "channel": "tmall",
		"ordered_at": "2026-11-11T00:01:08+08:00", "status_at": "2026-11-15T10:20:00+08:00", "amount": "149.80",
		"province": "浙江", "city": "杭州", "line.sku": "低GI大米 2.5kg 控糖轻食", "line.product_name": "低GI大米 2.5kg 控糖轻食",
		"line.quantity": "2", "line.amount": "149.80", "line.unit_price": "74.9"}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("row 2:\n got %v\nwant %v", f, want)
	}
	if !reflect.DeepEqual(dropped, []string{"buyer.phone"}) {
		t.Errorf("masked phone 138****1234 not dropped: %v", dropped)
	}
	f, dropped = plan.Row(rows[2])
	if f["status"] != "paid" || f["province"] != "上海" || f["city"] != "上海" || len(dropped) != 1 {
		t.Errorf("row 3: %v, dropped %v (the virtual number 17012345678-4321 must be)", f, dropped)
	}
	f, dropped = plan.Row(rows[3])
	if f["buyer.phone"] != "13900001111" || len(dropped) != 0 || f["status"] != "cancelled" {
		t.Errorf("row 4: %v, dropped %v (a phone in clear stays)", f, dropped)
	}
	f, _ = plan.Row(rows[4])
	if f["province"] != "广西" || f["city"] != "南宁" || f["status"] != "created" {
		t.Errorf("row 5: %v", f)
	}
}

// TestMappingOverridesPreset: a mapped column feeds only its field, a
// column mapped to "" nothing, and unknown columns or fields are refused.
func TestMappingOverridesPreset(t *testing.T) {
	_, rows := readAll(t, fixture(t, "pos_sales.csv"), "", "")
	p, _ := imports.Lookup("pos_sales")
	plan, err := imports.NewPlan("orders", rows[0], p, map[string]string{"门店名称": "store_id", "会员手机号": ""})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := plan.Row(rows[1])
	if f["store_id"] != "西湖店" || f["buyer.phone"] != "" || f["status"] != "completed" {
		t.Errorf("overridden row: %v", f)
	}
	for _, m := range []map[string]string{{"没有": "amount"}, {"门店名称": "nonsense"}} {
		_, err := imports.NewPlan("orders", rows[0], p, m)
		var e *imports.Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Field, "mapping.") {
			t.Errorf("mapping %v: %v, want an error naming the column", m, err)
		}
	}
	if _, err := imports.NewPlan("orders", rows[0], p, map[string]string{"小票号": ""}); err == nil {
		t.Error("a preset whose required order_id lost its column was accepted")
	}
}

func TestPhoneUnusable(t *testing.T) {
	for v, want := range map[string]bool{
		"138****1234": true, "138＊＊＊＊1234": true, "138××××1234": true, "17012345678-1234": true,
		"17012345678转1234": true, "13812345678": false, "+86 138 1234 5678": false, "1381234": true,
		"0571-88886666": false, "": false, "13812345678ext.12": true,
	} {
		if got := imports.PhoneUnusable(v); got != want {
			t.Errorf("PhoneUnusable(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	bj := time.FixedZone("", 8*3600)
	want := time.Date(2026, 11, 11, 0, 1, 0, 0, bj)
	for _, v := range []string{"2026-11-11 00:01:00", "2026/11/11 0:01", "2026-11-11T00:01:00+08:00", "2026年11月11日 00:01",
		strconv.FormatInt(want.Unix(), 10), strconv.FormatInt(want.UnixMilli(), 10), "46337.000694444445"} {
		got, ok := imports.ParseTime(v)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v %v, want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "明天", "12", "2026-13-01"} {
		if _, ok := imports.ParseTime(v); ok {
			t.Errorf("ParseTime(%q) accepted", v)
		}
	}
}
