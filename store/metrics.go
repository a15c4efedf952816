package store

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the store's Prometheus collectors. One set is shared by the
// engine supervisor and the writers of a process.
type Metrics struct {
	EngineRestarts  prometheus.Counter
	WriterRows      *prometheus.CounterVec // rows confirmed by ClickHouse, per table
	WriterBatches   *prometheus.CounterVec // batches confirmed, per table
	WriterBatchRows prometheus.Histogram
	WriterRetries   *prometheus.CounterVec // failed insert attempts that were retried, per table
	WriterPending   prometheus.Gauge       // rows appended and not yet confirmed
	WriterLag       prometheus.Gauge       // age in seconds of the oldest unconfirmed row
	WriterInsertSec prometheus.Histogram
	// WriterRestoredRows counts rows a deduplicated insert named but the
	// table lacked, inserted again (see Writer.restoreLost), per table.
	WriterRestoredRows *prometheus.CounterVec
	// WriterEngineCPU is the CPU time (user and system) the server reported
	// spending on confirmed inserts (its UserTimeMicroseconds and
	// SystemTimeMicroseconds profile events), per table: what each table's
	// rows cost the engine, materialized views and skipping indexes included.
	WriterEngineCPU *prometheus.CounterVec
	// WriterParts counts the parts confirmed inserts wrote (the server's
	// MergeTreeDataWriterBlocks profile event), per table: an insert writes
	// one part per partition its rows fall in, and per table a materialized
	// view writes into; each part is merged again in the background.
	WriterParts *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests and tools).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EngineRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_engine_restarts_total", Help: "Restarts of the embedded ClickHouse engine child after it died.",
		}),
		WriterRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_rows_total", Help: "Rows the batch writer inserted and ClickHouse confirmed.",
		}, []string{"table"}),
		WriterBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_batches_total", Help: "Batches the batch writer inserted and ClickHouse confirmed.",
		}, []string{"table"}),
		WriterBatchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdp_writer_batch_rows", Help: "Rows per confirmed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
		}),
		WriterRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_retries_total", Help: "Insert attempts that failed and were retried with the same deduplication token.",
		}, []string{"table"}),
		WriterPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdp_writer_pending_rows", Help: "Rows appended to the batch writer and not yet confirmed by ClickHouse.",
		}),
		WriterLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdp_writer_lag_seconds", Help: "Age of the oldest row appended and not yet confirmed by ClickHouse.",
		}),
		WriterInsertSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdp_writer_insert_seconds", Help: "Duration of one successful batch insert.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8), // 1 ms .. 16 s
		}),
		WriterRestoredRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_restored_rows_total", Help: "Rows a deduplicated insert named but the table lacked (engine killed mid-commit), inserted again.",
		}, []string{"table"}),
		WriterEngineCPU: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_engine_cpu_seconds_total", Help: "CPU time the server reported spending on confirmed inserts, per table.",
		}, []string{"table"}),
		WriterParts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdp_writer_parts_total", Help: "Parts confirmed inserts wrote (materialized views' targets included), per table.",
		}, []string{"table"}),
	}
	if reg != nil {
		reg.MustRegister(m.EngineRestarts, m.WriterRows, m.WriterBatches, m.WriterBatchRows,
			m.WriterRetries, m.WriterPending, m.WriterLag, m.WriterInsertSec, m.WriterRestoredRows, m.WriterEngineCPU, m.WriterParts)
	}
	return m
}
