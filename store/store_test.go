package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestEngineAnswersClickHouse26(t *testing.T) {
	db := storetest.DB(t)
	v, err := db.ServerVersion(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "26.") {
		t.Fatalf("server version %q, want 26.x", v)
	}
}

func TestMigrationsApplyOnceAndAgainWithoutChange(t *testing.T) {
	db := storetest.DB(t)
	ctx := ctxT(t, time.Minute)
	target := schema.Target{Database: db.Database}

	first, err := schema.Migrate(ctx, db.Conn, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(schema.All()) {
		t.Fatalf("first run applied %v, want all %d migrations", first, len(schema.All()))
	}
	before := describe(t, db)

	second, err := schema.Migrate(ctx, db.Conn, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 0 {
		t.Fatalf("second run applied %v, want nothing", second)
	}
	if after := describe(t, db); after != before {
		t.Fatalf("schema changed on the second run:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	v, err := schema.Version(ctx, db.Conn, target)
	if err != nil || v != schema.Latest() {
		t.Fatalf("schema version %d (%v), want %d", v, err, schema.Latest())
	}
	var recorded uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("schema_migrations")).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if int(recorded) != len(schema.All()) {
		t.Fatalf("%d migration records, want %d", recorded, len(schema.All()))
	}
}

// describe lists the database's tables and columns with their types.
func describe(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Conn.Query(context.Background(),
		"SELECT table, name, type FROM system.columns WHERE database = ? ORDER BY table, position", db.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s.%s %s\n", table, name, typ)
	}
	if b.Len() == 0 {
		t.Fatal("no tables found")
	}
	return b.String()
}

func createRowsTable(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	if _, err := schema.Migrate(ctx, db.Conn, schema.Target{Database: db.Database}, nil); err != nil {
		t.Fatal(err)
	}
	// The same settings the schema gives every platform table.
	stmt := "CREATE TABLE " + db.Table("rows") + ` (id UInt64, producer UInt8, payload String)
		ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`
	if err := db.Conn.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
}

// TestWriterSurvivesEngineKill kills the engine child with SIGKILL three
// times while producers stream rows through the writer. The supervisor must
// restart it, the writer must retry, and every row must be stored exactly
// once.
func TestWriterSurvivesEngineKill(t *testing.T) {
	e, err := storetest.StartEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	db, err := store.Open(e.DSN("killtest"), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createRowsTable(t, db)

	opts := store.DefaultWriterOptions()
	opts.BatchRows = 5_000
	// A small bound keeps producers in step with the inserts, so the kills
	// land in the middle of the stream rather than after it was buffered.
	opts.MaxPendingRows = 20_000
	opts.FlushInterval = 50 * time.Millisecond
	opts.RetryMin = 20 * time.Millisecond
	opts.RetryMax = 500 * time.Millisecond
	opts.Logger = storetest.Logger()
	var failed atomic.Int64
	opts.OnFailed = func(string, [][]any, error) { failed.Add(1) }
	w := store.NewWriter(db, opts)
	tw := w.Table("rows", "id", "producer", "payload")

	const producers, perProducer = 4, 100_000
	var appended atomic.Int64
	var wg sync.WaitGroup
	ctx := ctxT(t, 5*time.Minute)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				id := uint64(p*perProducer + i)
				if err := tw.Append(ctx, id, uint8(p), "payload"); err != nil {
					t.Errorf("append %d: %v", id, err)
					return
				}
				appended.Add(1)
			}
		}()
	}
	total := int64(producers * perProducer)
	for k := 1; k <= 3; k++ {
		// Kill at a quarter, half and three quarters of the stream.
		for appended.Load() < total*int64(k)/4 {
			time.Sleep(time.Millisecond)
		}
		pid := e.PID()
		if err := e.Kill(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Minute, func() bool { return e.Restarts() >= k && e.PID() != pid && e.PID() != 0 })
	}
	wg.Wait()
	if err := w.Close(ctxT(t, 3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d batches failed permanently", failed.Load())
	}
	var rows, distinct, maxID uint64
	err = db.Conn.QueryRow(ctx, "SELECT count(), uniqExact(id), max(id) FROM "+db.Table("rows")).Scan(&rows, &distinct, &maxID)
	if err != nil {
		t.Fatal(err)
	}
	if rows != uint64(total) || distinct != uint64(total) || maxID != uint64(total-1) {
		t.Fatalf("stored %d rows, %d distinct, max id %d; want exactly %d once each", rows, distinct, maxID, total)
	}
	if e.Restarts() != 3 {
		t.Fatalf("engine restarted %d times, want 3", e.Restarts())
	}
}

// waitFor polls cond until it holds; the condition, not a sleep, ends the wait.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDSNModeAgainstSecondEngine talks to a separately started engine
// through a DSN only, as the platform talks to a remote server.
func TestDSNModeAgainstSecondEngine(t *testing.T) {
	e, err := storetest.StartEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct{ name, dsn string }{
		{"native", e.DSN("remote_native")},
		// A DSN that does not say compress=none, as a remote server's,
		// gets LZ4 from Open.
		{"native-lz4", strings.Replace(e.DSN("remote_lz4"), "?compress=none", "", 1)},
		{"http", e.HTTPDSN("remote_http")},
	} {
		dsn := c.dsn
		if c.name == "native-lz4" && strings.Contains(dsn, "compress") {
			t.Fatalf("the engine's DSN no longer names compress=none as this test expects: %s", strings.SplitN(dsn, "@", 2)[1])
		}
		t.Run(c.name, func(t *testing.T) {
			db, err := store.Open(dsn, storetest.Logger())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := ctxT(t, time.Minute)
			if _, err := schema.Migrate(ctx, db.Conn, schema.Target{Database: db.Database}, nil); err != nil {
				t.Fatal(err)
			}
			w := store.NewWriter(db, store.WriterOptions{})
			tw := w.Table("audit_log", "ts", "actor", "action", "object_type", "object_id", "detail")
			for i := range 1000 {
				if err := tw.Append(ctx, time.Now(), "test", "dsn", "row", fmt.Sprint(i), "{}"); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			var n uint64
			if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("audit_log")+" WHERE action = 'dsn'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1000 {
				t.Fatalf("%d rows, want 1000", n)
			}
		})
	}
}

func TestBusyPortIsAClearError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	opts := store.DefaultEngineOptions()
	opts.DataDir = t.TempDir()
	opts.TCPPort, opts.HTTPPort = port, 0
	_, err = store.StartEngine(ctxT(t, time.Minute), opts)
	var pe *store.PortInUseError
	if !errors.As(err, &pe) || pe.Port != port || pe.Protocol != "native" {
		t.Fatalf("got %v, want a PortInUseError for native port %d", err, port)
	}
}

func TestWriterReportsRowsThatDoNotFit(t *testing.T) {
	db := storetest.DB(t)
	createRowsTable(t, db)
	var gotRows atomic.Int64
	w := store.NewWriter(db, store.WriterOptions{
		OnFailed: func(table string, rows [][]any, err error) { gotRows.Add(int64(len(rows))) },
	})
	tw := w.Table("rows", "id", "producer", "payload")
	ctx := ctxT(t, time.Minute)
	if err := tw.Append(ctx, uint64(1), uint8(1), "ok"); err != nil {
		t.Fatal(err)
	}
	if err := tw.Append(ctx, "not a number", uint8(1), "bad"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Fatalf("Flush = %v, want the failure naming row 1", err)
	}
	if gotRows.Load() != 2 {
		t.Fatalf("OnFailed got %d rows, want the batch's 2", gotRows.Load())
	}
	if err := tw.Append(ctx, uint64(1)); err == nil {
		t.Fatal("Append with too few values succeeded")
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestInsertColumnsStoresOnceByTokenAndRefusesMisfits inserts typed
// columns with a token (twice: the repeat is dropped), and refuses
// columns of different lengths or a type that does not fit, without
// retrying them.
func TestInsertColumnsStoresOnceByTokenAndRefusesMisfits(t *testing.T) {
	db := storetest.DB(t)
	createRowsTable(t, db)
	w := store.NewWriter(db, store.WriterOptions{})
	defer w.Close(context.Background())
	tw := w.Table("rows", "id", "producer", "payload")
	ctx := ctxT(t, time.Minute)
	for range 2 {
		if err := tw.InsertColumns(ctx, "tok-1", []uint64{1, 2, 3}, []uint8{7, 7, 7}, []string{"a", "b", "c"}); err != nil {
			t.Fatal(err)
		}
	}
	var n, sum uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count(), sum(id) FROM "+db.Table("rows")+" WHERE producer = 7").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 6 {
		t.Fatalf("stored %d rows summing %d, want 3 rows summing 6 (once)", n, sum)
	}
	if err := tw.InsertColumns(ctx, "tok-2", []uint64{1, 2}, []uint8{7}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "column 1 has 1 values") {
		t.Fatalf("columns of different lengths: %v", err)
	}
	if err := tw.InsertColumns(ctx, "tok-3", []uint64{1}, []uint8{7}); err == nil {
		t.Fatal("two columns of three accepted")
	}
	err := tw.InsertColumns(ctx, "tok-4", []string{"x"}, []uint8{7}, []string{"a"})
	if err == nil || store.IsTransient(err) {
		t.Fatalf("a string column for UInt64: %v, want a permanent failure", err)
	}
}

// TestWriterCountsEngineCPUPerTable checks that a confirmed insert adds
// the CPU the server reported for it to its table's counter, and to no
// other table's.
func TestWriterCountsEngineCPUPerTable(t *testing.T) {
	db := storetest.DB(t)
	createRowsTable(t, db)
	m := store.NewMetrics(nil)
	w := store.NewWriter(db, store.WriterOptions{Metrics: m})
	defer w.Close(context.Background())
	tw := w.Table("rows", "id", "producer", "payload")
	const n = 200_000
	ids, producers, payloads := make([]uint64, n), make([]uint8, n), make([]string, n)
	for i := range n {
		ids[i], producers[i], payloads[i] = uint64(i), 9, fmt.Sprintf("payload %d", i)
	}
	if err := tw.InsertColumns(ctxT(t, time.Minute), "cpu-1", ids, producers, payloads); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, m.WriterEngineCPU.WithLabelValues("rows")); got <= 0 {
		t.Fatalf("engine CPU counted for rows = %v s, want more than 0 after inserting %d rows", got, n)
	}
	if got := counterValue(t, m.WriterEngineCPU.WithLabelValues("other")); got != 0 {
		t.Fatalf("engine CPU counted for a table never inserted into = %v s", got)
	}
}

// TestWriterCountsPartsPerTable: an insert whose rows fall in three
// partitions writes three parts, and the writer counts them.
func TestWriterCountsPartsPerTable(t *testing.T) {
	db := storetest.DB(t)
	createRowsTable(t, db) // creates the database
	ctx := ctxT(t, time.Minute)
	if err := db.Conn.Exec(ctx, "CREATE TABLE "+db.Table("parted")+` (id UInt64, payload String)
		ENGINE = MergeTree PARTITION BY id % 3 ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`); err != nil {
		t.Fatal(err)
	}
	m := store.NewMetrics(nil)
	w := store.NewWriter(db, store.WriterOptions{Metrics: m})
	defer w.Close(context.Background())
	tw := w.Table("parted", "id", "payload")
	if err := tw.InsertColumns(ctx, "parts-1", []uint64{1, 2, 3, 4, 5, 6, 7}, []string{"a", "b", "c", "d", "e", "f", "g"}); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, m.WriterParts.WithLabelValues("parted")); got != 3 {
		t.Fatalf("parts counted for an insert into 3 partitions = %v, want 3", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
