package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// The flavours of cluster mode (CDP_CLICKHOUSE_CLUSTER_MODE,
// docs/scale-out.md).
const (
	clusterReplicated = "replicated"
	clusterSharded    = "sharded"
)

// sharded reports whether the platform runs on a sharded cluster, and
// checks the cluster settings agree.
func (c config) sharded() (bool, error) {
	switch c.ClusterMode {
	case "", clusterReplicated:
		if c.ClickHouseNodes != "" {
			return false, errors.New("CDP_CLICKHOUSE_NODES is for CDP_CLICKHOUSE_CLUSTER_MODE=sharded")
		}
		return false, nil
	case clusterSharded:
		if c.Cluster == "" || c.ClickHouseNodes == "" {
			return false, errors.New("CDP_CLICKHOUSE_CLUSTER_MODE=sharded needs CDP_CLICKHOUSE_CLUSTER and CDP_CLICKHOUSE_NODES (the DSN of every node)")
		}
		if c.ClickHouseDSN != "" {
			return false, errors.New("CDP_CLICKHOUSE_CLUSTER_MODE=sharded takes its nodes from CDP_CLICKHOUSE_NODES: leave CDP_CLICKHOUSE_DSN empty")
		}
		return true, nil
	default:
		return false, fmt.Errorf("CDP_CLICKHOUSE_CLUSTER_MODE=%q: want %s or %s", c.ClusterMode, clusterReplicated, clusterSharded)
	}
}

// engineCluster is the sharded cluster the embedded engine is a node of
// (CDP_ENGINE_CLUSTER_NODES), nil for a single engine.
func (c config) engineCluster() (*store.EngineCluster, error) {
	if c.EngineClusterNodes == "" {
		return nil, nil
	}
	if c.Cluster == "" {
		return nil, errors.New("CDP_ENGINE_CLUSTER_NODES needs CDP_CLICKHOUSE_CLUSTER, the cluster's name")
	}
	cl := &store.EngineCluster{Name: c.Cluster, Nodes: splitList(c.EngineClusterNodes)}
	return cl, cl.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openSharded connects to every node of a sharded cluster.
func openSharded(cfg config, logger *slog.Logger) (*store.DB, error) {
	return store.OpenSharded(splitList(cfg.ClickHouseNodes), cfg.Cluster, logger)
}

// applyMigrations brings the platform's database to this build's schema:
// on each node of a sharded cluster, ON CLUSTER on a replicated one.
func applyMigrations(ctx context.Context, db *store.DB, logger *slog.Logger) ([]int, error) {
	t := schema.Target{Database: db.Database, Cluster: db.Cluster, Sharded: db.Sharded}
	if db.Sharded {
		return schema.MigrateNodes(ctx, db.Nodes, t, logger)
	}
	return schema.Migrate(ctx, db.Conn, t, logger)
}

// moveToCluster is `cdp migrate --from-single`: the single ClickHouse's
// platform database, on one of the sharded cluster's nodes, moved into
// the cluster (schema.MoveToCluster); it prints each table's placement
// and rows.
func moveToCluster(ctx context.Context, db *store.DB, logger *slog.Logger, stdout io.Writer) error {
	if !db.Sharded {
		return errors.New("--from-single moves a database into a sharded cluster: set CDP_CLICKHOUSE_CLUSTER_MODE=sharded, CDP_CLICKHOUSE_CLUSTER and CDP_CLICKHOUSE_NODES")
	}
	t := schema.Target{Database: db.Database, Cluster: db.Cluster, Sharded: true}
	moved, err := schema.MoveToCluster(ctx, db.Nodes, t, logger)
	if err != nil {
		return err
	}
	for _, m := range moved {
		fmt.Fprintf(stdout, "%-32s %-10s %d rows\n", m.Table, m.Placement, m.Rows)
	}
	fmt.Fprintf(stdout, "moved %d tables into cluster %s (%d nodes); schema version %d\n", len(moved), db.Cluster, len(db.Nodes), schema.Latest())
	return nil
}
