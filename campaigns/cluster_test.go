package campaigns

import (
	"reflect"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestPlanAndResultsOneEngineAndCluster: the end-to-end campaign's data on
// one engine and on a 2-shard cluster, the same campaign (same id, so the
// same holdout draw) launched on each, its orders stored: the plan's
// counts, every person's group and reason in the send log, and the
// results (conversions, revenue, uplift) are the same on both.
func TestPlanAndResultsOneEngineAndCluster(t *testing.T) {
	one, cluster := storetest.OneEngineAndCluster(t)
	type outcome struct {
		plan    Plan
		sends   map[uint32]string
		results Uplift
	}
	var id string
	run := func(f *fixture) outcome {
		if err := f.svc.SetConsent(f.ctx, 7, Consent{Kind: KindOptOut, Granted: true, Source: "api"}); err != nil {
			t.Fatal(err)
		}
		c := f.campaign(20)
		if id == "" {
			id = c.ID
		} else {
			// The other database's campaign under the first one's id.
			c.ID, c.Version = id, 0
			if err := f.svc.writeCampaign(f.ctx, &c, "tok_test"); err != nil {
				t.Fatal(err)
			}
		}
		_, plan, err := f.svc.Launch(f.ctx, id, "tok_test")
		if err != nil {
			t.Fatal(err)
		}
		f.insertOrders()
		u, err := f.svc.Results(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sends := map[uint32]string{}
		rows, err := f.db.Conn.Query(f.ctx, "SELECT person_id, group || '/' || reason FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ?", id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var p uint32
			var g string
			if err := rows.Scan(&p, &g); err != nil {
				t.Fatal(err)
			}
			sends[p] = g
		}
		return outcome{plan, sends, u}
	}
	a, b := run(fixtureOn(t, one, 2000)), run(fixtureOn(t, cluster, 2000))
	if len(a.sends) != 2000 || a.results.Treatment.Converted == 0 {
		t.Fatalf("one engine: %d persons in the send log, results %+v: the fixture says little", len(a.sends), a.results)
	}
	if !reflect.DeepEqual(a.plan.Counts, b.plan.Counts) || !reflect.DeepEqual(a.plan.Excluded, b.plan.Excluded) ||
		!reflect.DeepEqual(a.plan.HoldoutExcluded, b.plan.HoldoutExcluded) {
		t.Errorf("plan: one engine %+v %+v, cluster %+v %+v", a.plan.Counts, a.plan.Excluded, b.plan.Counts, b.plan.Excluded)
	}
	diff := 0
	for p, g := range a.sends {
		if b.sends[p] != g {
			diff++
		}
	}
	if diff > 0 || len(a.sends) != len(b.sends) {
		t.Errorf("send log: %d of %d persons in another group on the cluster (%d there)", diff, len(a.sends), len(b.sends))
	}
	if !reflect.DeepEqual(a.results, b.results) {
		t.Errorf("results: one engine %+v\ncluster %+v", a.results, b.results)
	}
}
