package storetest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/granarycdp/cdp/store"
)

// ClusterEnv, set to a number of shards (2), makes the tests' shared
// ClickHouse a sharded cluster of that many embedded engines on loopback
// (the sharded flavour of cluster mode, docs/scale-out.md) in place of
// one engine: every DB and Migrated database is then made on each node,
// with Distributed tables in front. `make test-cluster` sets it.
const ClusterEnv = "CDP_TEST_CLUSTER"

// TestCluster is the cluster's name in the engines' remote_servers.
const TestCluster = "cdp_test"

// clusterShards reads ClusterEnv: 0 when unset.
func clusterShards() (int, error) {
	v := os.Getenv(ClusterEnv)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 8 {
		return 0, fmt.Errorf("%s=%q: want a number of shards, 1 to 8", ClusterEnv, v)
	}
	return n, nil
}

// StartCluster starts n embedded engines, the nodes of one sharded
// cluster named TestCluster, with their data in dir/node<i>. They share
// the platform user's password (nodes sign in to each other with it) and
// listen on free loopback ports chosen first, since each node's
// configuration names every node's port. The caller closes the engines.
func StartCluster(dir string, n int) ([]*store.Engine, error) {
	ports := make([]int, 2*n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	cluster := store.EngineCluster{Name: TestCluster}
	for i := 0; i < n; i++ {
		cluster.Nodes = append(cluster.Nodes, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2*i])))
	}
	password := []byte("cluster-test-" + strconv.FormatInt(int64(os.Getpid()), 36) + "-password")
	var engines []*store.Engine
	for i := 0; i < n; i++ {
		opts := EngineOptions(filepath.Join(dir, "node"+strconv.Itoa(i+1)))
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return engines, err
		}
		if err := os.WriteFile(filepath.Join(opts.DataDir, store.PlatformPasswordFile), password, 0o600); err != nil {
			return engines, err
		}
		opts.TCPPort, opts.HTTPPort = ports[2*i], ports[2*i+1]
		opts.Cluster = &cluster
		e, err := startEngine(opts)
		if err != nil {
			return engines, fmt.Errorf("cluster node %d: %w", i+1, err)
		}
		engines = append(engines, e)
	}
	return engines, nil
}

// freePort asks the kernel for a free loopback port and lets it go.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withDatabase returns dsn with database as its path.
func withDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + database
	return u.String(), nil
}

// The 2-shard cluster OneEngineAndCluster starts beside the shared engine.
var (
	pairOnce  sync.Once
	pairNodes []*store.Engine
	pairErr   error
	pairDir   string
)

// OneEngineAndCluster returns two migrated databases for a differential
// test: one on the shared engine and one on a 2-shard cluster of embedded
// engines started (once per test binary) beside it. The test fills both
// the same way and compares what the platform answers on each. Under
// ClusterEnv the shared ClickHouse is itself a cluster: the test is
// skipped (make test-cluster runs these without it).
func OneEngineAndCluster(t testing.TB) (one, cluster *store.DB) {
	t.Helper()
	if os.Getenv(ClusterEnv) != "" || os.Getenv("CDP_TEST_CLICKHOUSE_DSN") != "" {
		t.Skip("storetest: the one-engine/cluster comparison starts its own engines; run it without " + ClusterEnv + " and CDP_TEST_CLICKHOUSE_DSN")
	}
	one = Migrated(t)
	pairOnce.Do(func() {
		if pairDir, pairErr = os.MkdirTemp("", "cdp-test-cluster-"); pairErr != nil {
			return
		}
		pairNodes, pairErr = StartCluster(pairDir, 2)
	})
	if pairErr != nil {
		t.Fatalf("storetest: start the 2-shard cluster: %v", pairErr)
	}
	return one, migrate(t, newDB(t, pairNodes))
}

// stopPair stops the cluster OneEngineAndCluster started.
func stopPair() {
	for _, n := range pairNodes {
		n.Close()
	}
	if pairDir != "" {
		os.RemoveAll(pairDir)
	}
}

// CompareEnv, set to 1, makes the benchmarks that use Topologies run on
// one engine and on a 2-shard cluster in the same run (docs/scale-out.md,
// Measurements).
const CompareEnv = "CDP_BENCH_COMPARE"

// Topologies runs bench on a new migrated database of the test's
// ClickHouse, or, with CompareEnv set, twice in one run: as the
// sub-benchmarks one-engine and 2-shards, on the shared engine and on the
// 2-shard cluster OneEngineAndCluster starts beside it, one after the
// other on the same machine.
func Topologies(b *testing.B, bench func(b *testing.B, db *store.DB)) {
	if os.Getenv(CompareEnv) != "1" {
		bench(b, Migrated(b))
		return
	}
	b.Run("one-engine", func(b *testing.B) {
		one, _ := OneEngineAndCluster(b)
		bench(b, one)
	})
	b.Run("2-shards", func(b *testing.B) {
		_, cluster := OneEngineAndCluster(b)
		bench(b, cluster)
	})
}
