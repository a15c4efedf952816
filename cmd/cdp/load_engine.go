package main

// The load run's end-of-run figures of the engine's memory.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/granarycdp/cdp/store"
)

// engineMemory reads what the engine holds at the end besides queries
// (see loadReport.EngineMemory); figures it cannot read are left out.
func (l *loadRun) engineMemory() (map[string]float64, uint64) {
	out, parts, err := engineMemory(l.ctx, l.sc.ch.db)
	if err != nil {
		l.rep.EngineMemoryErr = err.Error()
	}
	return out, parts
}

// engineMemory reads db's engine's caches (system.metrics *CacheBytes,
// non-zero ones; the embedded engine keeps no asynchronous_metrics),
// MemoryTracking, and the primary keys and number of db's active parts.
func engineMemory(ctx context.Context, db *store.DB) (map[string]float64, uint64, error) {
	all, err := engineCounters(ctx, db, `SELECT metric, toFloat64(value) FROM system.metrics
		WHERE metric LIKE '%CacheBytes' OR metric = 'MemoryTracking'`)
	out := map[string]float64{}
	for k, v := range all {
		if v > 0 {
			out[k] = v / mib
		}
	}
	if err != nil {
		return out, 0, err
	}
	var pk, parts uint64
	if err := db.Conn.QueryRow(ctx, "SELECT sum(primary_key_bytes_in_memory_allocated), count() FROM system.parts WHERE active AND database = ?",
		db.Database).Scan(&pk, &parts); err != nil {
		return out, 0, err
	}
	out["PrimaryKeysInMemory"] = float64(pk) / mib
	return out, parts, nil
}

// engineCounters reads a query of (name, Float64) rows of the engine's
// system tables into a map; what it read before an error is kept.
func engineCounters(ctx context.Context, db *store.DB, query string) (map[string]float64, error) {
	out := map[string]float64{}
	rows, err := db.Conn.Query(ctx, query)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v float64
		if err := rows.Scan(&k, &v); err != nil {
			return out, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// formatMB writes m as "key value" pairs in key order.
func formatMB(m map[string]float64) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.1f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
