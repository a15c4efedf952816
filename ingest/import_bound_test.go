package ingest_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/granarycdp/cdp/ingest"
)

// badLines is a file of n lines that are not JSON, as a broken export or
// an attacker's upload would be.
func badLines(n int) []byte {
	return bytes.Repeat([]byte("not json\n"), n)
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestImportRejectionsBounded imports a file of 100,000 bad lines. The
// answer lists the first ingest.MaxListedRejections of them by line and
// counts the rest, so what the import keeps is bounded whatever the file
// (before, every rejection was kept: 100,000 lines held tens of MB); every
// bad line is still dead-lettered.
func TestImportRejectionsBounded(t *testing.T) {
	f := newFixture(t)
	const lines = 100_000
	file := badLines(lines)
	spec := ingest.ImportSpec{Kind: "events", Format: "jsonl"}
	// Measured on a spool no pipeline reads, so that only the import's
	// own memory is on the heap.
	sp := openSpool(t)
	defer sp.Close()
	col := ingest.NewCollector(ingest.Options{Spool: sp, Protector: f.prot})
	res, err := col.Import(context.Background(), "pos", spec, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	// What the answer holds until it is written: the heap with the
	// result, less the heap without it.
	with := heapInUse()
	runtime.KeepAlive(res)
	listed, count, n, first, last := len(res.Rejected), res.RejectedCount, res.Lines, res.Rejected[0], res.Rejected[len(res.Rejected)-1]
	res = ingest.ImportResult{}
	kept := int64(with) - int64(heapInUse())
	t.Logf("%d bad lines (%d KB): the result keeps %d KB of heap", lines, len(file)>>10, kept>>10)
	if n != lines || count != lines {
		t.Fatalf("lines %d, rejected %d; want %d lines all rejected", n, count, lines)
	}
	if listed != ingest.MaxListedRejections || first.Index != 1 || last.Index != ingest.MaxListedRejections {
		t.Fatalf("%d rejections listed (lines %d-%d), want the first %d", listed, first.Index, last.Index, ingest.MaxListedRejections)
	}
	if first.Code == "" || first.Message == "" {
		t.Fatalf("rejection without a reason: %+v", first)
	}
	if kept > 1<<20 {
		t.Fatalf("the import result keeps %d KB for %d rejections; want under 1 MB", kept>>10, lines)
	}
	if sp.LastSeq() != lines {
		t.Fatalf("%d records spooled, want a dead letter for each of the %d bad lines", sp.LastSeq(), lines)
	}
	// Through the pipeline into ClickHouse: each bad line is a dead letter.
	if _, err := f.col.Import(context.Background(), "pos", spec, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	f.sync()
	if n := f.count("SELECT count() FROM {db}.ingest_dead_letters WHERE endpoint = '/v1/import/events'"); n != lines {
		t.Fatalf("%d dead letters, want all %d bad lines", n, lines)
	}
}
