package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
)

// TestEngineCommandsFormAShardedCluster: two `cdp engine` processes given
// the same cluster (--clickhouse-cluster, --engine-cluster-nodes) and the
// same password file form a 2-shard cluster on loopback; `cdp migrate` in
// the sharded flavour creates the schema on both, and a fact table's rows
// written through the Distributed table are split between the nodes and
// counted whole from either.
func TestEngineCommandsFormAShardedCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports := []string{freePort(t), freePort(t), freePort(t), freePort(t)}
	nodes := "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[2]
	var dirs, dsns []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, store.PlatformPasswordFile), []byte("cluster-command-test-password"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, logs syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"engine", "--data-dir", dir, "--engine-tcp-port", ports[2*i], "--engine-http-port", ports[2*i+1],
				"--clickhouse-cluster", "pair", "--engine-cluster-nodes", nodes}, &out, &logs)
		}()
		defer func() {
			cancel()
			<-done
		}()
		waitFor(t, 2*time.Minute, "engine "+dir, func() bool {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("cdp engine ended: %v\n%s", err, logs.String())
			default:
			}
			return strings.Contains(out.String(), "DSN:")
		})
		dsn, err := store.EngineDSN(dir, "127.0.0.1:"+ports[2*i], "shop")
		if err != nil {
			t.Fatal(err)
		}
		dirs, dsns = append(dirs, dir), append(dsns, dsn)
	}
	var out, logs syncBuffer
	err := run(ctx, []string{"migrate", "--data-dir", t.TempDir(), "--clickhouse-cluster", "pair", "--clickhouse-cluster-mode", "sharded",
		"--clickhouse-nodes", strings.Join(dsns, ",")}, &out, &logs)
	if err != nil || !strings.Contains(out.String(), "applied migrations") {
		t.Fatalf("cdp migrate (sharded): %v\n%s\n%s", err, out.String(), logs.String())
	}
	db, err := store.OpenSharded(dsns, "pair", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	qctx, qcancel := context.WithTimeout(ctx, time.Minute)
	defer qcancel()
	if err := db.Conn.Exec(qctx, "INSERT INTO "+db.Table("orders")+" (channel, order_id, version, status) SELECT 'pos', toString(number), 1, 'paid' FROM numbers(1000)"); err != nil {
		t.Fatal(err)
	}
	for i, n := range db.Nodes {
		var local, all uint64
		if err := n.QueryRow(qctx, "SELECT count() FROM "+db.Local("orders")).Scan(&local); err != nil {
			t.Fatal(err)
		}
		if err := n.QueryRow(qctx, "SELECT count() FROM "+db.Table("orders")).Scan(&all); err != nil {
			t.Fatal(err)
		}
		if local == 0 || local == 1000 || all != 1000 {
			t.Errorf("node %d (%s): %d orders of its own, %d through the Distributed table; want a share and 1000", i+1, dirs[i], local, all)
		}
	}
}
