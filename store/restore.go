package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Keyed sets the columns that identify a row of the table, for the check
// after a deduplicated insert (see restoreLost). Without it every column of
// the row is its key, which is exact but reads the whole table; a narrow
// key such as the ingest spool position reads one column. Each key value
// must belong to one batch only. Keyed returns t.
func (t *TableWriter) Keyed(columns ...string) *TableWriter {
	for _, c := range columns {
		if !slices.Contains(t.names, c) {
			panic(fmt.Sprintf("BUG: key column %s is not a column of %s", c, t.name))
		}
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	t.key = slices.Clone(columns)
	return t
}

// restoreLost makes sure the rows of a batch that ClickHouse reported as
// deduplicated are stored, and inserts the ones that are not.
//
// A non-replicated MergeTree writes a block's deduplication entry before it
// renames the block's part into the table (MergeTreeSink::commitPart). An
// engine killed between the two restarts with the entry but without the
// part, and a retry with the same token is then dropped as a duplicate of
// rows nobody has: acknowledged data lost. So whenever an insert was
// deduplicated, restoreLost loads the batch into a scratch Memory table and
// inserts into the real table the rows whose key it lacks, with
// deduplication off. Rows already stored are left alone, so running it
// again (after a failure, or a crash) inserts nothing twice.
func (w *Writer) restoreLost(ctx context.Context, t *TableWriter, fill func(driver.Batch) error) (err error) {
	w.dropStaleScratch(ctx)
	scratch := w.db.Table(scratchPrefix + newToken())
	if err := w.db.Conn.Exec(ctx, "CREATE TABLE "+scratch+" AS "+w.db.Table(t.name)+" ENGINE = Memory"); err != nil {
		return fmt.Errorf("store: restore %s: create the scratch table: %w", t.name, err)
	}
	defer func() {
		// Dropped even when ctx has ended; a crash leaves an empty table
		// that a later restore removes (dropStaleScratch).
		if dropErr := w.db.Conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+scratch); dropErr != nil && err == nil {
			err = fmt.Errorf("store: restore %s: drop the scratch table: %w", t.name, dropErr)
		}
	}()
	if err := w.sendBatch(ctx, "INSERT INTO "+scratch+" ("+quoteAll(t.names)+")", fill); err != nil {
		return fmt.Errorf("store: restore %s: fill the scratch table: %w", t.name, err)
	}
	key := "(" + quoteAll(t.key) + ")"
	// GLOBAL: on a cluster the table is Distributed and the scratch table
	// lives on this server only.
	missing := " FROM " + scratch + " WHERE " + key + " GLOBAL NOT IN (SELECT " + key + " FROM " + w.db.Table(t.name) +
		" WHERE " + key + " GLOBAL IN (SELECT " + key + " FROM " + scratch + "))"
	var lost uint64
	if err := w.db.Conn.QueryRow(ctx, "SELECT count()"+missing).Scan(&lost); err != nil {
		return fmt.Errorf("store: restore %s: count the missing rows: %w", t.name, err)
	}
	if lost == 0 {
		return nil
	}
	w.logger.Warn("a deduplicated insert named rows the table lacks (engine killed mid-commit); inserting them",
		"table", t.name, "rows", lost)
	insCtx := clickhouse.Context(ctx, clickhouse.WithSettings(writerNice(clickhouse.Settings{"insert_deduplicate": 0})))
	if err := w.db.Conn.Exec(insCtx, "INSERT INTO "+w.db.Table(t.name)+" ("+quoteAll(t.names)+") SELECT "+quoteAll(t.names)+missing); err != nil {
		return fmt.Errorf("store: restore %s: insert the missing rows: %w", t.name, err)
	}
	w.metrics.WriterRestoredRows.WithLabelValues(t.name).Add(float64(lost))
	return nil
}

// scratchPrefix names restoreLost's scratch tables.
const scratchPrefix = "writer_restore_"

// dropStaleScratch drops scratch tables a crashed restore left behind,
// those over an hour old (a running restore takes seconds). It is best
// effort: a leftover is an empty Memory table.
func (w *Writer) dropStaleScratch(ctx context.Context) {
	rows, err := w.db.Conn.Query(ctx, `SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?)
		AND metadata_modification_time < now() - INTERVAL 1 HOUR`, w.db.Database, scratchPrefix)
	if err != nil {
		w.logger.Warn("list stale restore tables", "err", err)
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	_ = rows.Close()
	for _, n := range names {
		if err := w.db.Conn.Exec(ctx, "DROP TABLE IF EXISTS "+w.db.Table(n)); err != nil {
			w.logger.Warn("drop a stale restore table", "table", n, "err", err)
		}
	}
}

// quoteAll joins column names, each in backquotes.
func quoteAll(columns []string) string {
	q := make([]string, len(columns))
	for i, c := range columns {
		q[i] = "`" + c + "`"
	}
	return strings.Join(q, ", ")
}
