// Package storetest gives tests a real ClickHouse: one embedded engine per
// test binary (hosted by the test binary itself, re-executed as the engine
// child), or the server named by CDP_TEST_CLICKHOUSE_DSN. Each test gets a
// database of its own.
//
// A package's tests use it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

var (
	once     sync.Once
	engine   *store.Engine
	nodes    []*store.Engine // a sharded cluster's engines (ClusterEnv), engine the first
	dsn      string
	startErr error
	dataDir  string
)

// Main hosts the engine child when asked to, otherwise runs the tests and
// stops the shared engine if a test started it. The engine starts lazily,
// on the first DB call, so tests, fuzz workers and -list runs that do not
// touch ClickHouse do not pay for it.
func Main(m *testing.M) {
	store.RunEngineChildIfRequested()
	code := m.Run()
	stopPair()
	if len(nodes) > 0 {
		for _, n := range nodes {
			n.Close()
		}
	} else if engine != nil {
		engine.Close()
	}
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

// shared returns the DSN of the shared ClickHouse, starting the engine on
// first use unless CDP_TEST_CLICKHOUSE_DSN names a server.
func shared(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if dsn = os.Getenv("CDP_TEST_CLICKHOUSE_DSN"); dsn != "" {
			return
		}
		if dataDir, startErr = os.MkdirTemp("", "cdp-test-engine-"); startErr != nil {
			return
		}
		shards, err := clusterShards()
		if startErr = err; err != nil {
			return
		}
		if shards > 0 {
			nodes, startErr = StartCluster(dataDir, shards)
			if startErr == nil {
				engine, dsn = nodes[0], nodes[0].DSN(store.DefaultDatabase)
			}
			return
		}
		// The platform's user, with its password: tests connect as the
		// platform does.
		if engine, startErr = StartEngine(dataDir); startErr == nil {
			dsn = engine.DSN(store.DefaultDatabase)
		}
	})
	if startErr != nil {
		t.Fatalf("storetest: start the shared engine: %v", startErr)
	}
	return dsn
}

// The test engine's read-only BI user (see store.BIUser). It may read every
// bi_* database, which holds each test's BI views (schema.BIDatabase), and
// no platform database.
const (
	BIUser     = "bi"
	BIPassword = "test-bi-password"
)

// BIAddrs returns the shared engine's native and HTTP addresses, where
// BIUser signs in with BIPassword. Against a server (CDP_TEST_CLICKHOUSE_DSN)
// the BI user is the operator's to create (docs/bi.md): the test is skipped.
func BIAddrs(t testing.TB) (native, http string) {
	t.Helper()
	shared(t)
	if engine == nil {
		t.Skip("storetest: the BI user exists on the embedded test engine only")
	}
	return engine.TCPAddr(), engine.HTTPAddr()
}

// DataDir returns the shared embedded engine's data folder, for tests that
// look at what the engine keeps on disk. Against a server
// (CDP_TEST_CLICKHOUSE_DSN) there is none: the test is skipped.
func DataDir(t testing.TB) string {
	t.Helper()
	shared(t)
	if engine == nil {
		t.Skip("storetest: the data folder is known for the embedded test engine only")
	}
	return dataDir
}

// StartEngine starts an extra embedded engine with its data in dir on free
// ports, for tests that need one of their own (to kill it, or to stand in
// for a remote server). The caller closes it. It has the BI user too.
func StartEngine(dir string) (*store.Engine, error) {
	return startEngine(EngineOptions(dir))
}

func startEngine(opts store.EngineOptions) (*store.Engine, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return store.StartEngine(ctx, opts)
}

// EngineOptions are StartEngine's options, for a test that changes some.
func EngineOptions(dir string) store.EngineOptions {
	opts := store.DefaultEngineOptions()
	opts.BI = store.BIUser{Name: BIUser, Password: BIPassword, Databases: []string{schema.BIDatabase("") + "*"}}
	opts.DataDir = dir
	opts.TCPPort, opts.HTTPPort = 0, 0
	opts.LibPath = os.Getenv("CDP_ENGINE_LIB")
	opts.MinBackoff = 20 * time.Millisecond
	// Test machines run many engines at a load of 20-60 on two cores: a
	// test engine is restarted only after five minutes without an answer
	// (a refused listener still after UnhealthyAfter), and its start may
	// take three.
	opts.HungAfter, opts.ReadyTimeout = 5*time.Minute, 3*time.Minute
	opts.Logger = Logger()
	return opts
}

// Logger logs to stderr at warning level, or debug when CDP_TEST_DEBUG is set.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("CDP_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// DSN returns the shared ClickHouse's DSN with database as the platform's.
func DSN(t testing.TB, database string) string {
	u, err := url.Parse(shared(t))
	if err != nil {
		t.Fatalf("storetest: DSN %s: %v", dsn, err)
	}
	u.Path = "/" + database
	return u.String()
}

// DB opens a connection whose platform database is new and dropped when
// the test ends. The schema is not applied; see Migrated.
func DB(t testing.TB) *store.DB {
	t.Helper()
	shared(t)
	return newDB(t, nodes)
}

// newDB opens a connection to a new database, dropped when the test ends:
// on the nodes of a sharded cluster when there are any, on the shared
// ClickHouse otherwise.
func newDB(t testing.TB, nodes []*store.Engine) *store.DB {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	db, err := open(t, nodes, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.EachNode(func(conn driver.Conn) error {
			_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"` SYNC")
			return conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+schema.BIDatabase(name)+"` SYNC")
		})
		db.Close()
	})
	return db
}

// open connects to the shared ClickHouse with database as the platform's,
// or to every node of nodes when there are any.
func open(t testing.TB, nodes []*store.Engine, database string) (*store.DB, error) {
	if len(nodes) == 0 {
		return store.Open(DSN(t, database), Logger())
	}
	var dsns []string
	for _, n := range nodes {
		nd, err := withDatabase(n.DSN(store.DefaultDatabase), database)
		if err != nil {
			return nil, err
		}
		dsns = append(dsns, nd)
	}
	return store.OpenSharded(dsns, TestCluster, Logger())
}

// Target is where the platform's DDL goes for db: its database, and the
// cluster and flavour when db is a sharded cluster's.
func Target(db *store.DB) schema.Target {
	return schema.Target{Database: db.Database, Cluster: db.Cluster, Sharded: db.Sharded}
}

// Migrated is DB with the platform's schema applied.
func Migrated(t testing.TB) *store.DB {
	t.Helper()
	return migrate(t, DB(t))
}

// Kept opens database on the shared ClickHouse (CDP_TEST_CLICKHOUSE_DSN,
// e.g. a `cdp engine` left running) with the platform's schema applied,
// and keeps it when the test ends: a benchmark's big world generated once
// and measured again in later runs (CDP_BENCH_DB).
func Kept(t testing.TB, database string) *store.DB {
	t.Helper()
	db, err := store.Open(DSN(t, database), Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return migrate(t, db)
}

// migrate applies the platform's schema to db (on each node of a sharded
// cluster) and returns it.
func migrate(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	// A bound against a hang, not a measure: on a sharded cluster every
	// node runs all of the DDL, and at a load of 30 on two cores a
	// migration took over a minute (the api suite's first run on the
	// cluster lost two tests to a one-minute bound).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if db.Sharded {
		if _, err := schema.MigrateNodes(ctx, db.Nodes, Target(db), Logger()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	if _, err := schema.Migrate(ctx, db.Conn, Target(db), Logger()); err != nil {
		t.Fatal(err)
	}
	return db
}
