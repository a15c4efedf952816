package store

import "github.com/ClickHouse/clickhouse-go/v2"

// CPU priority inside the engine. Under sustained ingest the engine's
// threads are busy inserting batches, running the materialized views
// those inserts feed and merging the parts they leave. An analyst's
// estimate or a campaign's planning query would otherwise get an equal
// share of the cores with all of that, and wait seconds for what takes
// 200 ms on an idle engine. Nothing waits on an insert (ingest is
// acknowledged once a record is in the spool, see ingest.Pipeline) nor on
// a merge, so both run at a lower Linux priority (a higher nice value):
//   - the writer's inserts and the materialized views they feed, through
//     the query settings os_threads_nice_value_query and
//     os_threads_nice_value_materialized_view (writerNice);
//   - merges and mutations, through the server setting
//     os_threads_nice_value_merge_mutate (the engine's configuration).
//
// Reads keep nice 0, except the segment engine's that nobody waits on as
// they run (live rounds, PatchWarm; segments.readContext). At nice 10 a busy thread weighs 110 against a read's
// 1024 in the Linux scheduler: an idle engine still gives background work
// every core, a busy one gives reads about nine tenths of what they ask.
// Lowering a thread's priority needs no privilege, but ClickHouse applies
// these settings only with CAP_SYS_NICE (e.g. as root); without it they
// are no-ops and the platform works as before.

// BackgroundNice is the nice value of the engine's inserts, the
// materialized views they feed, and its merges and mutations.
const BackgroundNice = 10

// NiceQuerySetting is the query setting of the nice value of a query's
// threads (applied with CAP_SYS_NICE, see above). The segment engine sets
// it to BackgroundNice on the reads nobody waits on as they run.
const NiceQuerySetting = "os_threads_nice_value_query"

// writerNice are the query settings that put an insert, and the
// materialized views it feeds, at BackgroundNice.
func writerNice(s clickhouse.Settings) clickhouse.Settings {
	s[NiceQuerySetting] = BackgroundNice
	s["os_threads_nice_value_materialized_view"] = BackgroundNice
	return s
}
