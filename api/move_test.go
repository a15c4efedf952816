package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// moveAnswers are what the platform answers before and after the move.
type moveAnswers struct {
	profile  string
	members  string // the saved segment's stored members
	estimate string // the same rule evaluated anew
	sends    map[uint32]string
	results  campaigns.Uplift
}

// TestMoveOneEngineToCluster grows a platform from one machine to a
// 2-shard cluster by the documented procedure (docs/scale-out.md,
// "growing from one machine"): data written through the API on one
// engine (identities merged, a segment, a campaign launched and its
// orders), the engine restarted as the first node of a cluster beside a
// new one, schema.MoveToCluster (`cdp migrate --from-single`). Every
// table's rows, a profile, the segment (stored and evaluated anew), the
// campaign's send log and results are then the same on the cluster, whose
// fact tables are split between both nodes; a second move finds nothing
// to move.
func TestMoveOneEngineToCluster(t *testing.T) {
	if os.Getenv(storetest.ClusterEnv) != "" {
		t.Skip("starts its own engines; run it without " + storetest.ClusterEnv)
	}
	const database = "cdp_move"
	dir := t.TempDir()
	e, err := storetest.StartEngine(filepath.Join(dir, "node1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	single, err := store.Open(e.DSN(database), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := schema.Migrate(ctx, single.Conn, schema.Target{Database: database}, storetest.Logger()); err != nil {
		t.Fatal(err)
	}
	var before moveAnswers
	var segID, campID string
	t.Run("one engine", func(t *testing.T) {
		f := moveFixture(t, single)
		segID, campID = f.movePopulation()
		before = f.moveAnswers(segID, campID)
	})
	counts := tableCounts(t, single)
	single.Close()
	e.Close()

	nodes, err := storetest.StartCluster(dir, 2)
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var dsns []string
	for _, n := range nodes {
		dsns = append(dsns, n.DSN(database))
	}
	cluster, err := store.OpenSharded(dsns, storetest.TestCluster, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	moved, err := schema.MoveToCluster(ctx, cluster.Nodes, storetest.Target(cluster), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	checkMoved(t, cluster, moved, counts)
	if _, err := schema.MoveToCluster(ctx, cluster.Nodes, storetest.Target(cluster), storetest.Logger()); !errors.Is(err, schema.ErrNothingToMove) {
		t.Errorf("a second move: %v, want %v", err, schema.ErrNothingToMove)
	}
	t.Run("cluster", func(t *testing.T) {
		after := moveFixture(t, cluster).moveAnswers(segID, campID)
		if before.profile != after.profile {
			t.Errorf("profile:\none engine %s\ncluster    %s", before.profile, after.profile)
		}
		if before.members != after.members || before.estimate != after.estimate {
			t.Errorf("segment: one engine %s / %s, cluster %s / %s", before.members, before.estimate, after.members, after.estimate)
		}
		if !reflect.DeepEqual(before.sends, after.sends) {
			t.Errorf("send log: %d persons on one engine, %d on the cluster, or other groups", len(before.sends), len(after.sends))
		}
		if !reflect.DeepEqual(before.results, after.results) {
			t.Errorf("results:\none engine %+v\ncluster    %+v", before.results, after.results)
		}
	})
}

// checkMoved compares every table's rows after the move with those of
// the single engine, and checks the fact tables are split.
func checkMoved(t *testing.T, cluster *store.DB, moved []schema.Moved, before map[string]uint64) {
	t.Helper()
	after := tableCounts(t, cluster)
	for name, n := range before {
		if after[name] != n {
			t.Errorf("%s: %d rows on one engine, %d on the cluster", name, n, after[name])
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d tables on the cluster, %d on one engine", len(after), len(before))
	}
	placed := map[string]string{}
	for _, m := range moved {
		placed[m.Table] = m.Placement
	}
	if placed["events"] != "split" || placed["persons"] != "copied" || placed["demand_signals_hourly"] != "recomputed" {
		t.Errorf("placements %v", placed)
	}
	for i, conn := range cluster.Nodes {
		for _, table := range []string{"events", "orders"} {
			var n uint64
			if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+cluster.Local(table)).Scan(&n); err != nil || n == 0 || n == before[table] {
				t.Errorf("node %d holds %d of the %d %s (%v): want them split", i+1, n, before[table], table, err)
			}
		}
	}
}

// tableCounts counts the rows of every platform table of db through its
// front table (FINAL for Replacing and Summing tables).
func tableCounts(t *testing.T, db *store.DB) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Conn.Query(ctx, `SELECT name, if(engine = 'Distributed', (SELECT any(l.engine) FROM system.tables AS l
		WHERE l.database = ? AND l.name = concat(t.name, '_local')), engine) AS e FROM system.tables AS t
		WHERE database = ? AND e LIKE '%MergeTree' AND name NOT LIKE '%\_local' AND name != 'schema_migrations'`, db.Database, db.Database)
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		engines[name] = engine
	}
	rows.Close()
	out := map[string]uint64{}
	for name, engine := range engines {
		q := "SELECT count() FROM " + db.Table(name)
		if engine != "MergeTree" {
			q += " FINAL"
		}
		out[name] = uint64(storetest.Count(t, db, q))
	}
	return out
}

// moveFixture is the ingest fixture on db.
func moveFixture(t *testing.T, db *store.DB) *ingestFixture {
	fixtureDB = func(testing.TB) *store.DB { return db }
	defer func() { fixtureDB = storetest.Migrated }()
	return newIngestFixture(t, 0)
}

// movePopulation ingests 120 persons' searches, a quarter of them found
// again under a member number and merged, orders from a third, saves a
// segment of searchers and launches a campaign to it, then ingests orders
// after the launch. It returns the segment's and campaign's ids.
func (f *ingestFixture) movePopulation() (segID, campID string) {
	var batch, orders []string
	for i := range 120 {
		batch = append(batch, track(fmt.Sprint("s", i), "search", map[string]string{"douyin_openid": fmt.Sprint("dy", i)}, `{"keyword":"低GI大米"}`))
		batch = append(batch, track(fmt.Sprint("v", i), "video_play", map[string]string{"member_no": fmt.Sprint("M", i)}, `{"topic":"控糖"}`))
		if i%4 == 0 {
			batch = append(batch, track(fmt.Sprint("j", i), "like", map[string]string{"member_no": fmt.Sprint("M", i), "douyin_openid": fmt.Sprint("dy", i)}, `{}`))
		}
		if i%3 == 0 {
			orders = append(orders, moveOrder(fmt.Sprint("B", i), fmt.Sprint("M", i), "2026-10-01T10:00:00+08:00"))
		}
	}
	f.ingestAll(batch, orders)
	seg, err := f.segs.Save(context.Background(), segments.Definition{Name: "searchers", Rule: `did("search", 365) >= 1`}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	offer, err := f.camps.SaveOffer(context.Background(), campaigns.Offer{Name: "低GI大米试用装", Categories: []string{"低GI大米"}, SKUs: []string{"LGI-TRIAL"}})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := f.camps.SaveCampaign(context.Background(), campaigns.Campaign{Name: "试用装", OfferID: offer.ID, SegmentID: seg.ID,
		Channel: campaigns.ChannelOutbox, Template: "{{offer}}：{{link}}", HoldoutPercent: 30}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.camps.Launch(context.Background(), c.ID, "test"); err != nil {
		f.t.Fatal(err)
	}
	orders = orders[:0]
	for i := 0; i < 120; i += 2 {
		orders = append(orders, moveOrder(fmt.Sprint("A", i), fmt.Sprint("M", i), time.Now().Add(time.Second).Format(time.RFC3339Nano)))
	}
	f.ingestAll(nil, orders)
	return seg.ID, c.ID
}

func moveOrder(id, member, at string) string {
	return fmt.Sprintf(`{"channel":"tmall","order_id":%q,"status":"completed","ordered_at":%q,"amount":"69.00","city":"上海",
		"buyer":{"member_no":%q},"lines":[{"sku":"LGI-5","product_name":"低GI大米 5kg","category":"低GI大米","quantity":1,"unit_price":"69.00"}]}`, id, at, member)
}

// moveAnswers asks the platform what the move must not change.
func (f *ingestFixture) moveAnswers(segID, campID string) moveAnswers {
	ctx := context.Background()
	var a moveAnswers
	raw, _ := json.Marshal(f.profileOf("member_no", "M0"))
	a.profile = string(raw)
	bm, err := f.segs.Members(segID)
	if err != nil {
		f.t.Fatal(err)
	}
	a.members = fmt.Sprint(bm.GetCardinality(), bm.ToArray())
	var est segments.Estimate
	if rec := f.do("POST", "/api/v1/segments/estimate", adminToken, map[string]any{"rule": `did("search", 365) >= 1`}, &est); rec.Code != 200 {
		f.t.Fatalf("estimate: %d %s", rec.Code, rec.Body)
	}
	a.estimate = fmt.Sprint(est.Count, est.Sample)
	if a.results, err = f.camps.Results(ctx, campID); err != nil {
		f.t.Fatal(err)
	}
	a.sends = map[uint32]string{}
	rows, err := f.db.Conn.Query(ctx, "SELECT person_id, group || '/' || reason FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ?", campID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p uint32
		var g string
		if err := rows.Scan(&p, &g); err != nil {
			f.t.Fatal(err)
		}
		a.sends[p] = g
	}
	if len(a.sends) < 100 || a.results.Treatment.Converted == 0 || strings.Count(a.members, " ") < 100 {
		f.t.Fatalf("%d in the send log, results %+v, members %s: the population says little", len(a.sends), a.results, a.members)
	}
	return a
}
