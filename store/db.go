package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is the platform's database when the DSN names none.
const DefaultDatabase = "cdp"

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// DB is a connection pool to ClickHouse (the embedded engine or a server)
// plus the name of the platform's database. The pool connects without a
// default database, so the platform's database can be created by a
// migration; every statement names its tables in full (see Table).
type DB struct {
	Conn     driver.Conn
	Database string
	// Cluster, when set, names the ClickHouse cluster: migrations emit ON
	// CLUSTER DDL (the replicated flavour) or, with Sharded, are applied
	// to every node of Nodes (the sharded flavour, docs/scale-out.md).
	Cluster string
	// Sharded selects the sharded flavour of cluster mode.
	Sharded bool
	// Nodes are pools to every node of a sharded cluster, the first the
	// same node as Conn (Conn itself); DDL and mutations of the local
	// tables go to each. Nil otherwise.
	Nodes  []driver.Conn
	Logger *slog.Logger
}

// Local returns the name mutations and per-node DDL address for a platform
// table: <name>_local on a cluster, the table itself otherwise.
func (db *DB) Local(name string) string {
	if db.Cluster != "" {
		return db.Table(name + "_local")
	}
	return db.Table(name)
}

// EachNode runs fn with every connection a node-local statement must go
// to: each node of a sharded cluster, or Conn alone (a single server, or
// the replicated flavour, where the statement says ON CLUSTER).
func (db *DB) EachNode(fn func(conn driver.Conn) error) error {
	if !db.Sharded {
		return fn(db.Conn)
	}
	for i, conn := range db.Nodes {
		if err := fn(conn); err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	return nil
}

// OnCluster is the ON CLUSTER clause of node-local DDL and mutations in
// the replicated flavour, empty otherwise.
func (db *DB) OnCluster() string {
	if db.Cluster == "" || db.Sharded {
		return ""
	}
	return " ON CLUSTER `" + db.Cluster + "`"
}

// ShardedSettings are the settings of every connection to a sharded
// cluster:
//   - distributed_product_mode global: an IN or JOIN whose right side
//     reads a Distributed fact table runs that side once, on the node that
//     received the query, and ships its result to the shards (GLOBAL IN,
//     GLOBAL JOIN). A shard's local part of the right side would miss the
//     rows of the other shards: a person's orders and events are not all
//     on one shard. Tables copied to every node are one shard, which
//     ClickHouse reads locally without this.
//   - distributed_foreground_insert 1: an insert through a Distributed
//     table returns once every shard (and, for copied tables, every node)
//     has the rows, so a read after a write sees it and a failed shard
//     fails the insert, which the writer retries with its token.
var ShardedSettings = clickhouse.Settings{
	"distributed_product_mode":      "global",
	"distributed_foreground_insert": 1,
}

// OpenSharded opens the platform's connections to a sharded cluster: one
// pool per node (dsns, all naming the same database), the first also the
// DB's Conn.
func OpenSharded(dsns []string, cluster string, logger *slog.Logger) (*DB, error) {
	if len(dsns) == 0 {
		return nil, errors.New("sharded cluster: no nodes")
	}
	var nodes []*DB
	for _, dsn := range dsns {
		n, err := open(dsn, ShardedSettings, logger)
		if err != nil {
			for _, o := range nodes {
				o.Close()
			}
			return nil, err
		}
		nodes = append(nodes, n)
	}
	db := nodes[0]
	db.Cluster, db.Sharded = cluster, true
	for _, n := range nodes {
		if n.Database != db.Database {
			return nil, fmt.Errorf("sharded cluster: every node's DSN must name database %s, not %s", db.Database, n.Database)
		}
		db.Nodes = append(db.Nodes, n.Conn)
	}
	return db, nil
}

// Open parses a DSN (clickhouse://user:pass@host:9000/db?settings for the
// native protocol, http://... for HTTP) and opens a pool. The DSN's database
// is the platform's (DefaultDatabase when empty). It does not dial.
func Open(dsn string, logger *slog.Logger) (*DB, error) {
	return open(dsn, nil, logger)
}

func open(dsn string, settings clickhouse.Settings, logger *slog.Logger) (*DB, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse DSN: %w", err)
	}
	database := opts.Auth.Database
	if database == "" || database == "default" {
		database = DefaultDatabase
	}
	if !identRE.MatchString(database) {
		return nil, fmt.Errorf("ClickHouse DSN: database name %q must match %s", database, identRE)
	}
	opts.Auth.Database = ""
	if opts.Compression == nil && opts.Protocol == clickhouse.Native {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	// Parameters are bound into the query text, so a query with a large
	// IN list (a chunk of 50,000 campaign recipients, a segment's
	// entries) is larger than ClickHouse's default 256 KiB parse limit.
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	if _, ok := opts.Settings["max_query_size"]; !ok {
		opts.Settings["max_query_size"] = maxQuerySize
	}
	for k, v := range settings {
		opts.Settings[k] = v
	}
	// A pooled connection keeps its encode and compression buffers at the
	// size of the largest block it has carried (17-25 MB after a writer
	// batch, issue #23); free them when the connection goes back to the
	// pool so idle connections do not hold the peak. The DSN cannot set
	// this option.
	opts.FreeBufOnConnRelease = true
	// The encode buffer is sent (and compressed) once it holds
	// MaxCompressionBuffer bytes, checked after each column, so it grows to
	// that plus one column, by doubling from empty in every insert (the
	// buffer is freed above). At the driver's 10 MiB its growth was
	// 314-348 MB of a `cdp bench` ingest run's 2.6-2.7 GB of allocations;
	// at 1 MiB, 155-174 MB (run's total 2.45-2.52 GB). The DSN's
	// max_compression_buffer wins.
	if !strings.Contains(dsn, "max_compression_buffer") {
		opts.MaxCompressionBuffer = defaultMaxCompressionBuffer
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DB{Conn: conn, Database: database, Logger: logger}, nil
}

// defaultMaxCompressionBuffer is the encode buffer's send threshold when
// the DSN sets none (see open).
const defaultMaxCompressionBuffer = 1 << 20

// maxQuerySize is the parse limit the platform's connections ask for.
const maxQuerySize = 64 << 20

// Table returns the quoted, database-qualified name of a platform table.
func (db *DB) Table(name string) string {
	return "`" + db.Database + "`.`" + name + "`"
}

// ServerVersion asks the server for its version; it doubles as a health check.
func (db *DB) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := db.Conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("store: read the server version: %w", err)
	}
	return v, nil
}

// WaitReachable retries ServerVersion until it answers or ctx ends.
func (db *DB) WaitReachable(ctx context.Context) (string, error) {
	for {
		v, err := db.ServerVersion(ctx)
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return "", errors.Join(fmt.Errorf("ClickHouse unreachable: %w", ctx.Err()), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close closes the pool (every node's, on a sharded cluster).
func (db *DB) Close() error {
	if len(db.Nodes) == 0 {
		return db.Conn.Close()
	}
	var err error
	for _, c := range db.Nodes {
		err = errors.Join(err, c.Close())
	}
	return err
}
