package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/ingest"
)

// importFixture reads a sample export of ingest/imports/testdata.
func importFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ingest", "imports", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartBody is a form upload: fields first, then the file, framed with
// boundary ("" for a random one), as curl -F and browsers send it.
func multipartBody(t testing.TB, boundary string, fields map[string]string, filename, contentType string, file []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if boundary != "" {
		w.SetBoundary(boundary)
	}
	for k, v := range fields {
		w.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", contentType)
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(file)
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// syncedCount waits for the pipeline and runs a count query whose {table}
// names are the test database's tables.
func (f *ingestFixture) syncedCount(query string) uint64 {
	f.t.Helper()
	f.sync()
	q := strings.NewReplacer("{orders}", f.db.Table("orders"), "{lines}", f.db.Table("order_lines"), "{events}", f.db.Table("events"),
		"{wecom_messages}", f.db.Table("wecom_messages")).Replace(query)
	var n uint64
	if err := f.db.Conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

type importAnswer struct {
	Success       bool               `json:"success"`
	Lines         int                `json:"lines"`
	Accepted      int                `json:"accepted"`
	Duplicates    int                `json:"duplicates"`
	RejectedCount int                `json:"rejected_count"`
	PhonesDropped int                `json:"phones_dropped"`
	Rejected      []ingest.Rejection `json:"rejected"`
	Report        []ingest.RejectedRow
}

func (f *ingestFixture) importUpload(path string, body []byte, contentType string) importAnswer {
	f.t.Helper()
	rec := f.post(path, writeKey, body, map[string]string{"Content-Type": contentType})
	var a importAnswer
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &a) != nil || !a.Success {
		f.t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return a
}

// TestCurlFormUploadImportsExactlyTheFile is the case: curl -F
// file=@archive.jsonl used to be answered with the multipart framing as 4
// rejected lines. The file's 5 messages are imported and nothing else.
func TestCurlFormUploadImportsExactlyTheFile(t *testing.T) {
	f := newIngestFixture(t, 0)
	var archive strings.Builder
	for i := range 5 {
		fmt.Fprintf(&archive, `{"msgid":"curl-%d","action":"send","from":"wmCust1","tolist":["staff1"],"msgtime":1794412860000,"msgtype":"text","text":{"content":"你好 %d"}}`+"\n", i, i)
	}
	body, ct := multipartBody(t, "------------------------d74496d66958873e", nil, "archive.jsonl", "application/octet-stream", []byte(archive.String()))
	a := f.importUpload("/v1/import/wecom-archive", body, ct)
	if a.Lines != 5 || a.Accepted != 5 || a.RejectedCount != 0 {
		t.Fatalf("curl -F: %+v, want the file's 5 lines accepted", a)
	}
	if n := f.syncedCount("SELECT count() FROM {wecom_messages} WHERE startsWith(msgid, 'curl-')"); n != 5 {
		t.Fatalf("%d messages stored, want 5", n)
	}
}

// TestBrowserUploadWithPresetAndGBK posts what the console's form sends:
// settings as fields before the file, a WebKit boundary, the GBK CSV that
// Excel on Chinese Windows saves, with a Chinese file name.
func TestBrowserUploadWithPresetAndGBK(t *testing.T) {
	f := newIngestFixture(t, 0)
	fields := map[string]string{"preset": "tmall_orders"}
	body, ct := multipartBody(t, "----WebKitFormBoundary7MA4YWxkTrZu0gW", fields, "订单报表-20261120.csv", "text/csv", importFixture(t, "tmall_orders.gbk.csv"))
	a := f.importUpload("/v1/import/orders", body, ct)
	if a.Lines != 5 || a.Accepted != 4 || a.RejectedCount != 0 || a.PhonesDropped != 2 {
		t.Fatalf("browser upload: %+v, want 4 orders accepted and 2 masked or virtual phones dropped", a)
	}
	if n := f.syncedCount("SELECT count() FROM {orders} FINAL WHERE channel = 'tmall' AND province != '' AND city != ''"); n != 4 {
		t.Fatalf("%d Tmall orders with a province and city, want 4", n)
	}
}

// TestTwinsAndReimportStoreNothingTwice imports the Tmall sample as UTF-8,
// then its GBK, BOM, gzip and workbook twins: each is read as the same
// rows, so every later import changes nothing (the same versions), and the
// Douyin content events, imported twice, are stored once.
func TestTwinsAndReimportStoreNothingTwice(t *testing.T) {
	f := newIngestFixture(t, 0)
	plain := importFixture(t, "tmall_orders.csv")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(importFixture(t, "tmall_orders.gbk.csv"))
	zw.Close()
	twins := map[string][]byte{"utf-8": plain, "gbk": importFixture(t, "tmall_orders.gbk.csv"), "bom": append([]byte("\ufeff"), plain...),
		"gzip": gz.Bytes(), "xlsx": xlsxTwin(t, plain)}
	state := func() string {
		f.sync()
		var s string
		f.db.Conn.QueryRow(context.Background(), "SELECT toString(groupArray((order_id, version, status, amount, province, city, ordered_at, status_at))) FROM (SELECT * FROM "+
			f.db.Table("orders")+" FINAL ORDER BY order_id)").Scan(&s)
		return s
	}
	f.importUpload("/v1/import/orders?preset=tmall_orders", twins["utf-8"], "text/csv")
	want := state()
	for _, name := range []string{"gbk", "bom", "gzip", "xlsx"} {
		a := f.importUpload("/v1/import/orders?preset=auto", twins[name], "application/octet-stream")
		if a.Accepted != 4 || a.RejectedCount != 0 {
			t.Fatalf("%s twin: %+v", name, a)
		}
		if got := state(); got != want {
			t.Fatalf("after the %s twin the orders changed:\n got %s\nwant %s", name, got, want)
		}
	}
	content := importFixture(t, "douyin_content.csv")
	first := f.importUpload("/v1/import/events?preset=douyin_content", content, "text/csv")
	again := f.importUpload("/v1/import/events?preset=douyin_content", content, "text/csv")
	if first.Accepted != 4 || again.Accepted != 0 || again.Duplicates != 4 {
		t.Fatalf("events imported twice: first %+v, again %+v", first, again)
	}
	// Weeks later the deduplication window has forgotten the messageIds
	// (a collector with a fresh one stands for that); ClickHouse has not.
	f.sync()
	opts := f.opts
	opts.Collector = ingest.NewCollector(ingest.Options{Spool: f.sp, Protector: f.prot})
	f.srv = api.New(opts)
	later := f.importUpload("/v1/import/events?preset=douyin_content", content, "text/csv")
	if later.Accepted != 0 || later.Duplicates != 4 {
		t.Fatalf("events imported again after the deduplication window: %+v, want 4 duplicates", later)
	}
	if n := f.syncedCount("SELECT count() FROM {events} WHERE has(id_values, 'dy_openid_0002')"); n != 2 {
		t.Fatalf("%d events of dy_openid_0002, want its 2 once", n)
	}
}

// xlsxTwin writes a CSV file's rows as a workbook, as Excel saves it.
func xlsxTwin(t testing.TB, csvFile []byte) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, line := range strings.Split(strings.TrimSpace(string(csvFile)), "\n") {
		for j, v := range splitCSVLine(line) {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			x.SetCellStr("Sheet1", cell, v)
		}
	}
	var buf bytes.Buffer
	x.WriteTo(&buf)
	return buf.Bytes()
}

// splitCSVLine splits a line of the samples: commas, and quotes around a
// value holding one.
func splitCSVLine(line string) []string {
	var out []string
	for line != "" || len(out) == 0 {
		if strings.HasPrefix(line, `"`) {
			end := strings.Index(line[1:], `"`) + 1
			out = append(out, line[1:end])
			line = strings.TrimPrefix(line[end+1:], ",")
			continue
		}
		v, rest, more := strings.Cut(line, ",")
		out = append(out, v)
		line = rest
		if !more {
			break
		}
		if rest == "" {
			out = append(out, "")
		}
	}
	return out
}

// TestEachPresetImportsItsSample imports every preset's sample through the
// API and checks what was stored.
func TestEachPresetImportsItsSample(t *testing.T) {
	f := newIngestFixture(t, 0)
	cases := []struct {
		preset, kind string
		accepted     int
		check        string // a count query that must give want
		want         uint64
	}{
		{"tmall_orders", "orders", 4, "SELECT count() FROM {orders} FINAL WHERE channel = 'tmall' AND status IN ('completed','paid','cancelled','created')", 4},
		{"douyin_shop_orders", "orders", 3, "SELECT count() FROM {lines} FINAL WHERE channel = 'douyin_shop' AND order_id = '6929358014563489281'", 2},
		{"group_buy_leader", "orders", 3, "SELECT count() FROM {orders} FINAL WHERE channel = 'group_buy' AND leader_id = 'leader-077' AND has(id_types, 'phone')", 2},
		{"pos_sales", "orders", 3, "SELECT count() FROM {orders} FINAL WHERE channel = 'pos' AND store_id = 'S0107' AND status = 'completed' AND has(id_types, 'member_no')", 2},
		{"douyin_content", "events", 4, "SELECT count() FROM {events} WHERE event IN ('video_complete','video_play','like','comment') AND topic != ''", 4},
	}
	for _, c := range cases {
		a := f.importUpload("/v1/import/"+c.kind+"?preset="+c.preset, importFixture(t, c.preset+".csv"), "text/csv")
		if a.Accepted != c.accepted || a.RejectedCount != 0 {
			t.Errorf("%s: %+v, want %d accepted", c.preset, a, c.accepted)
		}
	}
	for _, c := range cases {
		if n := f.syncedCount(c.check); n != c.want {
			t.Errorf("%s: %s gave %d, want %d", c.preset, c.check, n, c.want)
		}
	}
}

// TestMaskedPhonesAreNeverIdentifiers: two Douyin shop orders of different
// buyers whose exports show the same mask (138****5678) stay two persons,
// and no phone identifier comes from a masked or virtual number.
func TestMaskedPhonesAreNeverIdentifiers(t *testing.T) {
	f := newIngestFixture(t, 0)
	sample := string(importFixture(t, "douyin_shop_orders.csv"))
	// A second buyer, another order, the same mask.
	other := strings.ReplaceAll(strings.Split(sample, "\n")[1], "6929358014563489281", "6929358014563489999")
	file := sample + strings.Replace(other, "陈**", "吴**", 1) + "\n"
	a := f.importUpload("/v1/import/orders?preset=douyin_shop_orders", []byte(file), "text/csv")
	if a.Accepted != 4 || a.PhonesDropped != 4 {
		t.Fatalf("%+v, want 4 orders and the 4 masked or virtual phones dropped", a)
	}
	f.sync()
	var withPhone, persons uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT countIf(has(id_types, 'phone')), uniqExactIf(person_id, person_id != 0) FROM "+f.db.Table("orders")+" FINAL").Scan(&withPhone, &persons)
	if withPhone != 0 {
		t.Fatalf("%d orders carry a phone identifier made of a masked or virtual number", withPhone)
	}
	if persons > 0 {
		t.Fatalf("orders without any identifier were linked to %d persons", persons)
	}
}

// TestImportRefusalsNameTheProblem: files that are not UTF-8, GBK, gzip,
// CSV, JSON lines or .xlsx, and uploads without a file, get a 4xx naming
// the field; nothing is kept.
func TestImportRefusalsNameTheProblem(t *testing.T) {
	f := newIngestFixture(t, 0)
	before := f.sp.LastSeq()
	noFile, noFileCT := func() ([]byte, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		w.WriteField("preset", "tmall_orders")
		w.Close()
		return buf.Bytes(), w.FormDataContentType()
	}()
	utf16 := append([]byte{0xff, 0xfe}, []byte("o\x00,\x00")...)
	gbkBad, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("订单编号\n"))
	cases := []struct {
		name, path, ct string
		body           []byte
		status         int
		field          string
	}{
		{"utf-16", "/v1/import/orders", "text/csv", utf16, 415, "encoding"},
		{"xls", "/v1/import/orders", "application/vnd.ms-excel", append([]byte{0xd0, 0xcf, 0x11, 0xe0}, make([]byte, 100)...), 415, "format"},
		{"no file part", "/v1/import/orders", noFileCT, noFile, 400, "file"},
		{"unknown preset", "/v1/import/orders?preset=jd", "text/csv", importFixture(t, "pos_sales.csv"), 400, "preset"},
		{"preset misses a column", "/v1/import/orders?preset=tmall_orders", "text/csv", importFixture(t, "pos_sales.csv"), 400, "preset"},
		{"mapping names no column", "/v1/import/orders?preset=pos_sales&mapping=" + `{"x":"amount"}`, "text/csv", importFixture(t, "pos_sales.csv"), 400, "mapping.x"},
		{"utf-8 declared, gbk sent", "/v1/import/orders?encoding=utf-8", "text/csv", gbkBad, 415, "encoding"},
		{"chat archive as csv", "/v1/import/wecom-archive?format=csv", "text/csv", []byte("a,b\n"), 415, "format"},
	}
	for _, c := range cases {
		rec := f.post(c.path, writeKey, c.body, map[string]string{"Content-Type": c.ct})
		var e api.Error
		if rec.Code != c.status || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Field != c.field || e.Message == "" {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, rec.Code, rec.Body, c.status, c.field)
		}
	}
	if f.sp.LastSeq() != before {
		t.Fatalf("refused files spooled %d records", f.sp.LastSeq()-before)
	}
}

// TestPreviewWritesNothing previews the Tmall sample as a workbook: the
// preset and encoding are detected, rows come back as they would be
// stored, and nothing is spooled.
func TestPreviewWritesNothing(t *testing.T) {
	f := newIngestFixture(t, 0)
	before := f.sp.LastSeq()
	body, ct := multipartBody(t, "", map[string]string{"kind": "orders", "preset": "auto", "rows": "3"}, "订单.xlsx",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsxTwin(t, importFixture(t, "tmall_orders.csv")))
	rec := f.post("/v1/import/preview", writeKey, body, map[string]string{"Content-Type": ct})
	var pv ingest.Preview
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &pv) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if pv.Format != "xlsx" || pv.Preset != "tmall_orders" || len(pv.Rows) != 3 || pv.Rows[0].Record == nil || !pv.Presets[0].Fits {
		t.Fatalf("preview: %s", rec.Body)
	}
	var o ingest.Order
	json.Unmarshal(pv.Rows[0].Record, &o)
	if o.OrderID != "3781520918273645121" || o.Status != "completed" || o.Province != "浙江" || len(o.Lines) != 1 || len(o.IDs) != 0 {
		t.Fatalf("first row as stored: %+v", o)
	}
	gbk := f.post("/v1/import/preview?kind=orders&preset=auto", writeKey, importFixture(t, "tmall_orders.gbk.csv"), map[string]string{"Content-Type": "text/csv"})
	if !strings.Contains(gbk.Body.String(), `"encoding":"gb18030"`) || !strings.Contains(gbk.Body.String(), `"preset":"tmall_orders"`) {
		t.Fatalf("GBK preview: %d %s", gbk.Code, gbk.Body)
	}
	if f.sp.LastSeq() != before {
		t.Fatalf("a preview spooled %d records", f.sp.LastSeq()-before)
	}
}

// TestRejectionReportListsEveryRowMasked: with report=all the answer lists
// every rejected row with its reason and its text, phones as tokens.
func TestRejectionReportListsEveryRowMasked(t *testing.T) {
	f := newIngestFixture(t, 0)
	var b strings.Builder
	b.WriteString("小票号,销售时间,门店编码,会员手机号,商品条码,商品名称,销售数量,售价,小计,实收金额,单据状态\n")
	for i := range 150 {
		fmt.Fprintf(&b, "R%d,2026-11-21 09:00:00,S1,13900007777,690,大米,1,9.9,9.9,9.9,挂单\n", i)
	}
	rec := f.post("/v1/import/orders?preset=pos_sales&report=all", writeKey, []byte(b.String()), map[string]string{"Content-Type": "text/csv"})
	var a importAnswer
	if json.Unmarshal(rec.Body.Bytes(), &a) != nil || a.RejectedCount != 150 || len(a.Rejected) != ingest.MaxListedRejections || len(a.Report) != 150 {
		t.Fatalf("%d: %d rejected, %d listed, %d in the report; want 150, %d, 150", rec.Code, a.RejectedCount, len(a.Rejected), len(a.Report), ingest.MaxListedRejections)
	}
	last := a.Report[149]
	if last.Index != 151 || last.Field != "status" || !strings.Contains(last.Text, "R149") || strings.Contains(last.Text, "13900007777") || !strings.Contains(last.Text, "*******7777") {
		t.Fatalf("last report row: %+v", last)
	}
}
