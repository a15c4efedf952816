package segments

// The settings of the segment engine's ClickHouse reads.

import (
	"context"
	"maps"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// readSettings apply to every query of the engine.
//
// do_not_merge_across_partitions_select_final lets FINAL deduplicate each
// partition on its own, so a partition that is one merged part is read
// without merging: orders FINAL over 1.6 million rows takes 9 ms instead
// of 500 ms, and the cold five-clause rule over a million persons about
// half its time. It is exact because every table read here with FINAL
// keeps the versions of a row in one partition: orders and order_lines are
// partitioned by the month of ordered_at, which every version of an order
// carries unchanged; wecom_messages by the month of msgtime, fixed per
// msgid; persons and person_tags are not partitioned.
//
// local_filesystem_read_method 'pread' has a query's own threads read the
// parts' files, where the engine's default ('pread_threadpool') hands each
// read to a pool of reader threads and waits for it. The segment engine's
// reads are many and small (a by-day leaf reads ~100 projection rows), of
// tables the page cache holds; under the load run every handed read also
// waited for a reader thread to get a core. In 3-minute load runs the
// estimates' queries' SynchronousReadWaitMicroseconds went from 6-15 ms to
// 0, their threads' time from 18 to 7.5 ms (by-day leaves) and from 40 to
// 17 ms (counted leaves), the live round's leaf query's CPU from 19 to
// 12 ms, and the estimates' p99 from 61 to 39 ms (docs/segments.md).
var readSettings = clickhouse.Settings{schema.FinalPerPartitionSetting: 1, "local_filesystem_read_method": "pread"}

// readLaterSettings are readSettings for the queries nobody waits on as
// they run (live rounds, plans, exports, PatchWarm): their threads run at
// store.BackgroundNice, as the writer's inserts and the engine's merges
// do, so that an analyst's estimate (urgency interactive, budget about
// 100 ms) gets the cores first when both want them. In the load run a
// cold leaf's threads waited in the run queue about as long as they ran
// (OSCPUWaitMicroseconds 15-18 ms against 11-12 ms of CPU), behind the
// live round's queries of the same nice value, on a machine using one of
// its two cores on average: the live rounds come in bursts. An idle
// engine still gives them every core (see store/priority.go).
var readLaterSettings = func() clickhouse.Settings {
	s := clickhouse.Settings{store.NiceQuerySetting: store.BackgroundNice}
	maps.Copy(s, readSettings)
	return s
}()

// readContext is ctx with readSettings for a ClickHouse query, at
// store.BackgroundNice unless an analyst waits for it (urgencyOf).
func readContext(ctx context.Context) context.Context {
	if urgencyOf(ctx) == interactive {
		return clickhouse.Context(ctx, clickhouse.WithSettings(readSettings))
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(readLaterSettings))
}
