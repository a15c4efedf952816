package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestProfileAndErasureOneEngineAndCluster: the same records ingested
// through the API on one engine and on a 2-shard cluster give the same
// profile; after the person's erasure, a scan of every table (on the
// cluster, each node's local tables too) finds none of their identifiers
// on either, and the other person's rows are kept on both.
func TestProfileAndErasureOneEngineAndCluster(t *testing.T) {
	one, cluster := storetest.OneEngineAndCluster(t)
	type outcome struct {
		profile string
		found   map[string]uint64 // needle -> rows still holding it
		kept    uint64
	}
	run := func(db *store.DB) outcome {
		fixtureDB = func(testing.TB) *store.DB { return db }
		defer func() { fixtureDB = storetest.Migrated }()
		f := newIngestFixture(t, 0)
		f.ingestAll([]string{
			track("x1", "search", map[string]string{"douyin_openid": "dy-erase-me", "phone": "13655550001"}, `{"keyword":"控糖"}`),
			`{"type":"identify","messageId":"x2","userId":"erase-user","traits":{"phone":"13655550001","name":"赵先生"},"timestamp":"2026-11-20T09:00:00Z"}`,
			track("keep", "search", map[string]string{"douyin_openid": "dy-keep"}, `{"keyword":"花生油"}`),
			track("x3", "like", map[string]string{"user_id": "erase-user"}, `{}`),
		}, []string{
			`{"channel":"phone","order_id":"PH-9","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"59","buyer":{"phone":"13655550001"}}`,
			`{"channel":"tmall","order_id":"TM-1","status":"paid","ordered_at":"2026-10-02T10:00:00+08:00","amount":"30","buyer":{"phone":"13655550001"}}`,
		})
		pr := f.profileOf("user_id", "erase-user")
		raw, _ := json.Marshal(pr)
		if rec := f.do("DELETE", fmt.Sprintf("/api/v1/profiles/%d", pr.PersonID), adminToken, nil, nil); rec.Code != 200 {
			t.Fatalf("erase: %d %s", rec.Code, rec.Body)
		}
		out := outcome{profile: string(raw), found: map[string]uint64{}}
		for _, n := range []string{"dy-erase-me", "erase-user", "赵先生", f.prot.Hash("+8613655550001"), "5550001"} {
			out.found[n] = scanTables(t, db, n)
		}
		out.kept = uint64(storetest.Count(t, db, "SELECT count() FROM "+db.Table("events")+" WHERE message_id = 'keep'"))
		return out
	}
	a, b := run(one), run(cluster)
	if a.profile != b.profile {
		t.Errorf("profile:\none engine %s\ncluster    %s", a.profile, b.profile)
	}
	for n, c := range a.found {
		if c != 0 || b.found[n] != 0 {
			t.Errorf("after erasure %q is in %d rows on one engine, %d on the cluster", n, c, b.found[n])
		}
	}
	if a.kept != 1 || b.kept != 1 {
		t.Errorf("the other person's event: %d on one engine, %d on the cluster", a.kept, b.kept)
	}
}

// scanTables counts the rows of every table of db (on each node of a
// cluster, the local tables as well as the Distributed ones) whose text
// holds needle, leaving out the suppressions and the audit log.
func scanTables(t *testing.T, db *store.DB, needle string) uint64 {
	t.Helper()
	ctx := context.Background()
	var total uint64
	nodes := db.Nodes
	if len(nodes) == 0 {
		nodes = append(nodes, db.Conn)
	}
	for _, conn := range nodes {
		rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View%' AND name NOT IN ('suppressions', 'suppressions_local', 'audit_log', 'audit_log_local')", db.Database)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		rows.Close()
		if len(tables) < 15 {
			t.Fatalf("only %d tables", len(tables))
		}
		for _, table := range tables {
			var c uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+db.Table(table)+" WHERE positionUTF8(toString(tuple(*)), ?) > 0", needle).Scan(&c); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			total += c
		}
	}
	return total
}
