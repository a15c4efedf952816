package schema

import "fmt"

// The engine keeps no column statistics of the platform's tables.
//
// ClickHouse 26 makes "minmax, uniq" statistics (auto_statistics_types)
// for every suitable column of a new MergeTree table, builds them in every
// merge, and loads them in every query that reads the table, to order its
// PREWHERE conditions and prune parts. The platform's reads filter on the
// sorting key (event and day, person, order) and know their shape; they
// gain nothing from the statistics and paid for them on every query. Under
// the sustained load of `cdp bench --load` (10,000 events/s), a segment
// engine's existence leaf spent 6 ms on average loading them, 22 ms when
// slow, while holding the table's parts lock (LoadedStatisticsMicroseconds
// and SharedPartsLockHoldMicroseconds, equal), against 3 ms of CPU for the
// query itself; estimates' p99 was 103-107 ms with them and 60 ms with
// use_statistics = 0 in 3-minute runs (docs/segments.md).
//
// Migration 30 turns them off on every table the earlier migrations made.
// The setting drops the columns' automatic statistics at once; parts
// merged before keep their statistics files, which no query loads any
// more (checked on the kept million-person world: 0 µs of
// LoadedStatisticsMicroseconds for a query that loaded 3.4 ms from a copy
// of its events keeping them). A table made later must carry NoStatistics
// among its settings: TestNoTableKeepsColumnStatistics checks every
// MergeTree table of a migrated database.

// NoStatistics is the table setting that keeps a table's columns free of
// automatic statistics.
const NoStatistics = "auto_statistics_types = ''"

// noAutoStatistics sets NoStatistics on the MergeTree tables made by the
// migrations before version Before, and on schema_migrations.
type noAutoStatistics struct{ Before int }

func (n noAutoStatistics) render(t Target) []string {
	names := []string{migrationsTable.Name}
	for _, m := range all {
		if m.Version >= n.Before {
			break
		}
		for _, s := range m.Steps {
			if c, ok := s.(CreateTable); ok {
				names = append(names, c.Name)
			}
		}
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, fmt.Sprintf("ALTER TABLE %s%s MODIFY SETTING %s", t.table(t.localName(name)), t.onCluster(), NoStatistics))
	}
	return out
}
