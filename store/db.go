package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
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
	// Cluster, when set, makes migrations emit ON CLUSTER DDL.
	Cluster string
	Logger  *slog.Logger
}

// Open parses a DSN (clickhouse://user:pass@host:9000/db?settings for the
// native protocol, http://... for HTTP) and opens a pool. The DSN's database
// is the platform's (DefaultDatabase when empty). It does not dial.
func Open(dsn string, logger *slog.Logger) (*DB, error) {
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
	// A pooled connection keeps its encode and compression buffers at the
	// size of the largest block it has carried (17-25 MB after a writer
	// batch, issue #23); free them when the connection goes back to the
	// pool so idle connections do not hold the peak. The DSN cannot set
	// this option.
	opts.FreeBufOnConnRelease = true
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DB{Conn: conn, Database: database, Logger: logger}, nil
}

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

// Close closes the pool.
func (db *DB) Close() error { return db.Conn.Close() }
