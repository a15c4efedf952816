package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/granarycdp/cdp/ingest"
)

// peakHeap runs fn and returns the largest live heap seen above the heap
// before it, sampled every millisecond (a sample stops the world briefly).
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak - base
}

// BenchmarkImportOfBadLines posts the case, a 585 KB file of bad
// lines (65,000 lines), to /v1/import/events and reports the peak heap of
// the request and the size of its answer (the first 100 rejections listed,
// all counted). Before the bound, the same file peaked at 41 MB.
func BenchmarkImportOfBadLines(b *testing.B) {
	// No pipeline (a spool limit stands for ClickHouse being away): the
	// heap holds the request and nothing that moves records on.
	f := newIngestFixtureTB(b, &testing.T{}, 1<<30)
	file := bytes.Repeat([]byte("not json\n"), 65_000)
	var peak uint64
	var answer int
	for range b.N {
		peak = max(peak, peakHeap(func() {
			rec := f.post("/v1/import/events", writeKey, file, nil)
			var res struct {
				Rejected      []json.RawMessage `json:"rejected"`
				RejectedCount int               `json:"rejected_count"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 || res.RejectedCount != 65_000 || len(res.Rejected) != 100 {
				b.Fatalf("%d %.200s (%v)", rec.Code, rec.Body, err)
			}
			answer = rec.Body.Len()
		}))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(answer)/(1<<10), "answer-KB")
}

// TestImportOf50MBOfBadRowsKeepsMemoryBounded uploads, as a browser form
// does, a 50 MB POS export whose every row is refused (an unknown status).
// The upload is generated as it is sent, so the heap holds what the import
// keeps: it streams the file, counts and dead-letters every row, lists the
// first 100, and its heap stays bounded whatever the file's size.
func TestImportOf50MBOfBadRowsKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB upload")
	}
	// No pipeline (ClickHouse "away"): the heap holds the request alone.
	f := newIngestFixture(t, 1<<30)
	const size = 50 << 20
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	rows, sent := 0, 0
	go func() {
		mw.WriteField("preset", "pos_sales")
		part, _ := mw.CreateFormFile("file", "销售明细.csv")
		w := bufio.NewWriterSize(part, 64<<10)
		n, _ := w.WriteString("小票号,销售时间,门店编码,商品条码,商品名称,销售数量,售价,小计,实收金额,单据状态\n")
		pad := strings.Repeat("特级", 70)
		for sent = n; sent < size; rows++ {
			n, _ = fmt.Fprintf(w, "R%08d,2026-11-21 09:00:00,S1,690%d,低GI大米%s,1,9.9,9.9,9.9,挂单\n", rows, rows, pad)
			sent += n
		}
		w.Flush()
		pw.CloseWithError(mw.Close())
	}()
	req := httptest.NewRequest("POST", "/v1/import/orders", pr)
	req.SetBasicAuth(writeKey, "")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	start := time.Now()
	peak := peakHeap(func() { f.srv.Handler().ServeHTTP(rec, req) })
	took := time.Since(start)
	var a importAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.RejectedCount != rows || len(a.Rejected) != 100 || a.Accepted != 0 {
		t.Fatalf("%d: %.300s", rec.Code, rec.Body)
	}
	t.Logf("%d MB, %d bad rows in %v: peak heap %d MB, answer %d KB", sent>>20, rows, took.Round(time.Millisecond), peak>>20, rec.Body.Len()>>10)
	if peak > 48<<20 {
		t.Fatalf("the import of %d MB (%d bad rows) peaked at %d MB of heap; want under 48 MB", sent>>20, rows, peak>>20)
	}
}

// BenchmarkImportOrderExport measures imports of one order export in three
// forms: JSON lines (the raw-body import), a CSV file and an .xlsx workbook
// in the Douyin shop layout (preset douyin_shop_orders), through the
// collector into a spool no pipeline reads, so that the figures are the
// import's: rows per second until every order is durable in the spool and
// the peak heap above the start, and the CPU time per row, which the
// machine's load does not inflate. CDP_IMPORT_ROWS sets the rows (default
// 20,000; the measure is 1,000,000).
func BenchmarkImportOrderExport(b *testing.B) {
	rows := 20_000
	if v, err := strconv.Atoi(os.Getenv("CDP_IMPORT_ROWS")); err == nil && v > 0 {
		rows = v
	}
	files := writeOrderExports(b, b.TempDir(), rows)
	for _, format := range []string{"jsonl", "csv", "xlsx"} {
		b.Run(format, func(b *testing.B) {
			for range b.N {
				f := newIngestFixtureTB(b, &testing.T{}, 1<<40)
				spec := ingest.ImportSpec{Kind: "orders", Format: format, TempDir: b.TempDir()}
				if format != "jsonl" {
					spec.Preset = "douyin_shop_orders"
				}
				fh, err := os.Open(files[format])
				if err != nil {
					b.Fatal(err)
				}
				var res ingest.ImportResult
				start, cpu0 := time.Now(), processCPU()
				peak := peakHeap(func() { res, err = f.col.Import(context.Background(), "douyin", spec, fh) })
				took, cpu := time.Since(start), processCPU()-cpu0
				fh.Close()
				if err != nil || res.Accepted != rows {
					b.Fatalf("%s: %+v %v", format, res, err)
				}
				st, _ := os.Stat(files[format])
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(rows), "cpu-µs/row")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(st.Size())/(1<<20), "file-MB")
			}
		})
	}
}

// writeOrderExports writes rows one-line orders as JSON lines, as a
// Douyin shop CSV export and as the same export in a workbook.
func writeOrderExports(b *testing.B, dir string, rows int) map[string]string {
	b.Helper()
	files := map[string]string{"jsonl": filepath.Join(dir, "orders.jsonl"), "csv": filepath.Join(dir, "orders.csv"), "xlsx": filepath.Join(dir, "orders.xlsx")}
	header := []string{"主订单编号", "子订单编号", "选购商品", "商家编码", "商品数量", "商品金额", "订单提交时间", "支付完成时间", "订单状态", "订单应付金额", "收件人手机号", "省", "市"}
	jl, _ := os.Create(files["jsonl"])
	cf, _ := os.Create(files["csv"])
	jw, cw := bufio.NewWriter(jl), csv.NewWriter(cf)
	cw.Write(header)
	x := excelize.NewFile()
	sw, err := x.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	sw.SetRow("A1", toAny(header))
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.FixedZone("", 8*3600))
	for i := range rows {
		at := base.Add(time.Duration(i) * time.Second)
		id := strconv.Itoa(6929358014563489281 + i*10)
		r := []string{id, id + "1", "低GI大米 2.5kg", "LGI-2.5", "2", "79.80", at.Format("2006/01/02 15:04:05"), at.Add(20 * time.Second).Format("2006/01/02 15:04:05"),
			"已完成", "79.80", "138****" + fmt.Sprintf("%04d", i%10000), "浙江省", "杭州市"}
		cw.Write(r)
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		sw.SetRow(cell, toAny(r))
		fmt.Fprintf(jw, `{"channel":"douyin_shop","order_id":%q,"status":"completed","ordered_at":%q,"status_at":%q,"amount":"79.80","province":"浙江","city":"杭州",`+
			`"lines":[{"sku":"LGI-2.5","product_name":"低GI大米 2.5kg","quantity":2,"unit_price":"39.90","amount":"79.80"}]}`+"\n",
			id, at.Format(time.RFC3339), at.Add(20*time.Second).Format(time.RFC3339))
	}
	cw.Flush()
	jw.Flush()
	jl.Close()
	cf.Close()
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := x.SaveAs(files["xlsx"]); err != nil {
		b.Fatal(err)
	}
	return files
}

// processCPU is the CPU time this process used so far (user and system):
// unlike the wall clock, it does not grow when other work on the machine
// takes the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
