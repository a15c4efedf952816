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
	out := map[string]float64{}
	rows, err := db.Conn.Query(ctx, `SELECT metric, toFloat64(value) FROM system.metrics
		WHERE metric LIKE '%CacheBytes' OR metric = 'MemoryTracking'`)
	if err != nil {
		return out, 0, err
	}
	for rows.Next() {
		var k string
		var v float64
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return out, 0, err
		}
		if v > 0 {
			out[k] = v / mib
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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

// formatMB writes m as "key value" pairs in key order.
func formatMB(m map[string]float64) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.1f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
