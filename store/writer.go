package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// BatchRows flushes a table's buffer when it holds this many rows.
	// ClickHouse recommends 10k-100k rows per insert; at ~1.4M rows/s on the
	// embedded engine, 50k rows is a ~35 ms insert.
	BatchRows int
	// FlushInterval flushes a non-empty buffer whose oldest row is this old,
	// so a trickle of rows is still visible within about this long.
	FlushInterval time.Duration
	// MaxPendingRows bounds rows held in memory (buffered, queued or being
	// inserted). Append blocks beyond it: back-pressure, not growth. At
	// ~500 B a wide row, 400k rows is ~200 MB.
	MaxPendingRows int
	// Inserters is the number of concurrent inserts. Two keep the engine
	// busy on a 2-core machine while the next batch is being filled.
	Inserters int
	// RetryMin and RetryMax bound the back-off between attempts of a batch
	// that failed transiently (connection lost, engine restarting).
	RetryMin, RetryMax time.Duration
	// OnFailed receives the rows of a batch that failed permanently (the
	// server rejected the data, or a value did not fit its column). The
	// writer never drops them silently: without OnFailed they are logged
	// and reported by the next Flush.
	OnFailed func(table string, rows [][]any, err error)
	Logger   *slog.Logger
	Metrics  *Metrics
}

// DefaultWriterOptions returns the options the platform uses.
func DefaultWriterOptions() WriterOptions {
	return WriterOptions{
		BatchRows:      50_000,
		FlushInterval:  time.Second,
		MaxPendingRows: 400_000,
		Inserters:      2,
		RetryMin:       50 * time.Millisecond,
		RetryMax:       5 * time.Second,
	}
}

// ErrWriterClosed is returned by Append after Close.
var ErrWriterClosed = errors.New("store: writer closed")

// Writer batches rows per table and inserts them into ClickHouse. Each
// batch carries an insert_deduplication_token that is kept across its
// retries, so a batch whose insert succeeded but whose answer was lost is not
// stored twice (tables need non_replicated_deduplication_window, which the
// schema sets). Writer is safe for concurrent use.
type Writer struct {
	db      *DB
	opts    WriterOptions
	logger  *slog.Logger
	metrics *Metrics
	queue   chan *batch
	stop    chan struct{}
	stopCtx context.Context // ends when stop is closed
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	tables   map[string]*TableWriter
	pending  int           // rows held, all tables
	room     chan struct{} // closed when pending drops; replaced after
	inflight map[*batch]struct{}
	failures []error // permanent failures not yet reported by Flush
	closed   bool
}

// TableWriter appends rows to one table through its Writer.
type TableWriter struct {
	w       *Writer
	name    string
	insert  string
	columns int
	names   []string // the columns, in order
	key     []string // the columns restoreLost matches stored rows on
	rows    [][]any
	first   time.Time // when the oldest buffered row was appended
}

type batch struct {
	table *TableWriter
	rows  [][]any
	first time.Time
	token string
	done  chan struct{}
	err   error // set before done is closed
}

// NewWriter starts a writer's inserters. Close it to flush and stop.
func NewWriter(db *DB, opts WriterOptions) *Writer {
	def := DefaultWriterOptions()
	if opts.BatchRows <= 0 {
		opts.BatchRows = def.BatchRows
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = def.FlushInterval
	}
	if opts.MaxPendingRows < opts.BatchRows {
		opts.MaxPendingRows = max(def.MaxPendingRows, 2*opts.BatchRows)
	}
	if opts.Inserters <= 0 {
		opts.Inserters = def.Inserters
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = def.RetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = def.RetryMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	w := &Writer{
		db:      db,
		opts:    opts,
		logger:  opts.Logger.With("component", "writer"),
		metrics: opts.Metrics,
		// Every queued batch holds at least one pending row, so the queue
		// never needs more room than MaxPendingRows; a smaller channel only
		// makes producers wait for an inserter, which is back-pressure too.
		queue:    make(chan *batch, 64),
		stop:     make(chan struct{}),
		tables:   map[string]*TableWriter{},
		room:     make(chan struct{}),
		inflight: map[*batch]struct{}{},
	}
	w.stopCtx, w.cancel = context.WithCancel(context.Background())
	for range opts.Inserters {
		w.wg.Add(1)
		go w.inserter()
	}
	w.wg.Add(1)
	go w.ticker()
	return w
}

// Table returns the writer for a platform table (name without database)
// and the columns every row gives, in order. Calling it again with the same
// name returns the same TableWriter.
func (w *Writer) Table(name string, columns ...string) *TableWriter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.tables[name]; ok {
		if t.columns != len(columns) {
			panic(fmt.Sprintf("BUG: table %s registered with %d and %d columns", name, t.columns, len(columns)))
		}
		return t
	}
	t := &TableWriter{
		w:       w,
		name:    name,
		insert:  "INSERT INTO " + w.db.Table(name) + " (" + quoteAll(columns) + ")",
		columns: len(columns),
		names:   slices.Clone(columns),
		key:     slices.Clone(columns),
	}
	w.tables[name] = t
	return t
}

// Append buffers one row (values in the table's column order). The writer
// keeps the slice: the caller must not modify it afterwards. Append blocks
// while the writer holds MaxPendingRows rows, until there is room or ctx
// ends.
func (t *TableWriter) Append(ctx context.Context, row ...any) error {
	if len(row) != t.columns {
		return fmt.Errorf("store: %s takes %d values, got %d", t.name, t.columns, len(row))
	}
	w := t.w
	w.mu.Lock()
	for !w.closed && w.pending >= w.opts.MaxPendingRows {
		room := w.room
		w.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	if w.closed {
		w.mu.Unlock()
		return ErrWriterClosed
	}
	if len(t.rows) == 0 {
		t.first = time.Now()
	}
	t.rows = append(t.rows, row)
	w.pending++
	var full *batch
	if len(t.rows) >= w.opts.BatchRows {
		full = w.cutLocked(t)
	}
	w.mu.Unlock()
	if full != nil {
		w.queue <- full
	}
	return nil
}

// cutLocked turns a table's buffer into a batch. The caller holds w.mu and
// must send the batch to w.queue after unlocking.
func (w *Writer) cutLocked(t *TableWriter) *batch {
	b := &batch{table: t, rows: t.rows, first: t.first, token: newToken(), done: make(chan struct{})}
	t.rows = make([][]any, 0, min(len(b.rows), w.opts.BatchRows))
	w.inflight[b] = struct{}{}
	return b
}

// Flush inserts every row appended before the call and waits until
// ClickHouse has confirmed them. It returns the permanent failures seen
// since the last Flush (their rows went to OnFailed).
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	var cut []*batch
	for _, t := range w.tables {
		if len(t.rows) > 0 {
			cut = append(cut, w.cutLocked(t))
		}
	}
	waits := make([]*batch, 0, len(w.inflight))
	for b := range w.inflight {
		waits = append(waits, b)
	}
	w.mu.Unlock()
	for _, b := range cut {
		select {
		case w.queue <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, b := range waits {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	err := errors.Join(w.failures...)
	w.failures = nil
	w.mu.Unlock()
	return err
}

// Close flushes what is buffered, waits for it to be confirmed (or ctx to
// end) and stops the inserters. Rows still unconfirmed when ctx ends are
// reported in the error; the durable spool in front of the writer keeps them.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.room)
	w.mu.Unlock()
	err := w.Flush(ctx)
	close(w.stop)
	w.cancel()
	w.wg.Wait()
	if ctx.Err() != nil {
		w.mu.Lock()
		err = fmt.Errorf("store: writer closed with %d rows unconfirmed: %w", w.pending, ctx.Err())
		w.mu.Unlock()
	}
	return err
}

func (w *Writer) ticker() {
	defer w.wg.Done()
	// Checking 10 times per interval keeps a row's wait within 10% of it.
	tick := time.NewTicker(max(w.opts.FlushInterval/10, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-tick.C:
			w.mu.Lock()
			var due []*batch
			oldest := now
			for _, t := range w.tables {
				if len(t.rows) == 0 {
					continue
				}
				if now.Sub(t.first) >= w.opts.FlushInterval {
					due = append(due, w.cutLocked(t))
				} else if t.first.Before(oldest) {
					oldest = t.first
				}
			}
			for b := range w.inflight {
				if b.first.Before(oldest) {
					oldest = b.first
				}
			}
			w.metrics.WriterLag.Set(now.Sub(oldest).Seconds())
			w.metrics.WriterPending.Set(float64(w.pending))
			w.mu.Unlock()
			for _, b := range due {
				select {
				case w.queue <- b:
				case <-w.stop:
					return
				}
			}
		}
	}
}

func (w *Writer) inserter() {
	defer w.wg.Done()
	for {
		select {
		case b := <-w.queue:
			w.insert(b)
		case <-w.stop:
			// Close flushed and waited before stopping, so the queue is
			// empty unless Close's ctx ended; what is left stays pending.
			return
		}
	}
}

// insert sends one buffered batch and settles it.
func (w *Writer) insert(b *batch) {
	err := w.attempt(w.stopCtx, b.table, b.token, len(b.rows), appendRows(b.rows))
	if err != nil && w.stopCtx.Err() != nil {
		return // stopping: the rows stay pending (Close reports them)
	}
	if err != nil && w.opts.OnFailed != nil {
		w.opts.OnFailed(b.table.name, b.rows, err)
	}
	w.finish(b, err)
}

// Insert inserts rows as one batch with the caller's deduplication token,
// bypassing the buffers, and returns when ClickHouse confirmed it. It
// retries transient failures (same token) until success, a permanent
// failure, or ctx's end. The ingest pipeline uses it: it forms batches from
// ranges of its durable spool, so a replay after a crash re-sends the same
// token and ClickHouse drops what it already has.
func (t *TableWriter) Insert(ctx context.Context, token string, rows [][]any) error {
	for i, r := range rows {
		if len(r) != t.columns {
			return fmt.Errorf("store: %s row %d has %d values, want %d", t.name, i, len(r), t.columns)
		}
	}
	return t.w.attempt(ctx, t, token, len(rows), appendRows(rows))
}

// InsertColumns is Insert of rows given column by column: cols holds one
// typed slice per column, in the table's column order ([]string,
// []uint32, []time.Time, [][]string, ...), all of the same length. The
// driver appends each column whole instead of value by value through
// reflection, the fast way for large batches. A slice whose type does not
// fit its column is a permanent failure.
func (t *TableWriter) InsertColumns(ctx context.Context, token string, cols ...any) error {
	if len(cols) != t.columns {
		return fmt.Errorf("store: %s takes %d columns, got %d", t.name, t.columns, len(cols))
	}
	n := -1
	for i, c := range cols {
		v := reflect.ValueOf(c)
		if v.Kind() != reflect.Slice {
			return fmt.Errorf("store: %s column %d is a %T, not a slice", t.name, i, c)
		}
		if n >= 0 && v.Len() != n {
			return fmt.Errorf("store: %s column %d has %d values, column 0 %d", t.name, i, v.Len(), n)
		}
		n = v.Len()
	}
	return t.w.attempt(ctx, t, token, n, func(pb driver.Batch) error {
		kinds := pb.Columns()
		for i, c := range cols {
			if err := appendColumn(pb.Column(i), kinds[i], c); err != nil {
				return &appendError{row: -1, err: fmt.Errorf("column %d: %w", i, err)}
			}
		}
		return nil
	})
}

// attempt sends n rows that fill appends to a batch, retrying transient
// failures with the same token with back-off until success, a permanent
// failure or ctx's end.
func (w *Writer) attempt(ctx context.Context, t *TableWriter, token string, n int, fill func(driver.Batch) error) error {
	backoff := w.opts.RetryMin
	for attempt := 1; ; attempt++ {
		start := time.Now()
		st, err := w.send(t, token, fill)
		dups := st.dups
		if err == nil && dups > 0 {
			// A deduplicated block may name a part the engine never
			// committed (see restoreLost): check the rows are stored.
			err = w.restoreLost(ctx, t, fill)
		}
		if err == nil {
			w.metrics.WriterInsertSec.Observe(time.Since(start).Seconds())
			w.metrics.WriterRows.WithLabelValues(t.name).Add(float64(n))
			w.metrics.WriterBatches.WithLabelValues(t.name).Inc()
			w.metrics.WriterBatchRows.Observe(float64(n))
			w.metrics.WriterEngineCPU.WithLabelValues(t.name).Add(float64(st.cpuMicros) / 1e6)
			w.metrics.WriterParts.WithLabelValues(t.name).Add(float64(st.parts))
			return nil
		}
		if !IsTransient(err) {
			err = fmt.Errorf("insert %d rows into %s: %w", n, t.name, err)
			w.logger.Error("batch failed permanently", "table", t.name, "rows", n, "err", err)
			return err
		}
		w.metrics.WriterRetries.WithLabelValues(t.name).Inc()
		w.logger.Warn("insert failed; retrying with the same deduplication token",
			"table", t.name, "rows", n, "attempt", attempt, "backoff", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, w.opts.RetryMax)
	}
}

// sendStats are what the server reported about one insert.
type sendStats struct {
	dups      int64 // blocks dropped as already inserted (DuplicatedInsertedBlocks)
	cpuMicros int64 // CPU the insert took (UserTimeMicroseconds + SystemTimeMicroseconds)
	parts     int64 // parts it wrote (MergeTreeDataWriterBlocks)
}

// send inserts one batch under token and reports how many of its blocks
// ClickHouse dropped as already inserted and the CPU the server spent.
func (w *Writer) send(t *TableWriter, token string, fill func(driver.Batch) error) (st sendStats, err error) {
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(writerNice(clickhouse.Settings{
		"insert_deduplicate":         1,
		"insert_deduplication_token": token,
	})), clickhouse.WithProfileEvents(func(events []clickhouse.ProfileEvent) {
		for _, e := range events {
			switch e.Name {
			case "DuplicatedInsertedBlocks":
				st.dups += e.Value
			case "UserTimeMicroseconds", "SystemTimeMicroseconds":
				st.cpuMicros += e.Value
			case "MergeTreeDataWriterBlocks":
				st.parts += e.Value
			}
		}
	}))
	if err := w.sendBatch(ctx, t.insert, fill); err != nil {
		return sendStats{}, err
	}
	return st, nil
}

// sendBatch prepares insert, has fill append the rows and sends them; the
// batch is closed in every case.
func (w *Writer) sendBatch(ctx context.Context, insert string, fill func(driver.Batch) error) (err error) {
	pb, err := w.db.Conn.PrepareBatch(ctx, insert)
	if err != nil {
		return fmt.Errorf("prepare the insert: %w", err)
	}
	defer func() { err = errors.Join(err, pb.Close()) }()
	if err := fill(pb); err != nil {
		return err
	}
	if err := pb.Send(); err != nil {
		return fmt.Errorf("send the batch: %w", err)
	}
	return nil
}

func (w *Writer) finish(b *batch, err error) {
	b.err = err
	w.mu.Lock()
	delete(w.inflight, b)
	w.pending -= len(b.rows)
	if err != nil {
		w.failures = append(w.failures, err)
	}
	if !w.closed {
		close(w.room)
		w.room = make(chan struct{})
	}
	w.mu.Unlock()
	close(b.done)
}

// appendError is a value that did not fit its column: permanent.
type appendError struct {
	row int
	err error
}

func (e *appendError) Error() string {
	if e.row < 0 {
		return e.err.Error()
	}
	return fmt.Sprintf("row %d: %v", e.row, e.err)
}
func (e *appendError) Unwrap() error { return e.err }

// IsTransient tells whether an insert error may succeed when retried:
// connection failures and the server's "try again" exceptions. Data errors
// (a value that does not fit its column, any other server exception) are
// permanent.
func IsTransient(err error) bool {
	var ae *appendError
	if errors.As(err, &ae) {
		return false
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 3, // UNEXPECTED_END_OF_FILE
			159, // TIMEOUT_EXCEEDED
			202, // TOO_MANY_SIMULTANEOUS_QUERIES
			209, // SOCKET_TIMEOUT
			210, // NETWORK_ERROR
			241, // MEMORY_LIMIT_EXCEEDED
			252, // TOO_MANY_PARTS
			242, // TABLE_IS_READ_ONLY (replica reconnecting to Keeper)
			999, // KEEPER_EXCEPTION
			425, // SYSTEM_ERROR
			394, // QUERY_WAS_CANCELLED (server shutting down)
			// Right after a (re)start the server may answer before it
			// has loaded its databases and tables.
			60, // UNKNOWN_TABLE
			81: // UNKNOWN_DATABASE
			return true
		}
		return false
	}
	// Anything else comes from the connection (refused, reset, EOF, a
	// timeout, no free connection): the server may be restarting.
	return true
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
