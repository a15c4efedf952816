package segments

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestRandomRulesOneEngineAndCluster: the differential test's population
// on one engine and on a 2-shard cluster (facts split between the shards,
// persons and bitmaps copied to both), and the same 200 random rules
// evaluated on each: the members agree exactly. Leaves are computed per
// shard and merged as bitmaps by the Distributed query, so a leaf that
// read only its shard's rows would lose members here.
func TestRandomRulesOneEngineAndCluster(t *testing.T) {
	one, cluster := storetest.OneEngineAndCluster(t)
	segsOne, segsCluster := diffPopulation(t, one), diffPopulation(t, cluster)
	eOne, eCluster := testEngine(one, segsOne), testEngine(cluster, segsCluster)
	g := &diffGen{r: rand.New(rand.NewPCG(2026, 615)), t: one.Table, segs: segsOne}
	ctx := context.Background()
	nonEmpty := 0
	for i := range 200 {
		n := g.node(3)
		// Compiled by each engine: the rule's SQL names its database.
		c1, _, err := eOne.checkSaved(n.rule)
		if err != nil {
			t.Fatalf("rule %d %s: %v", i, n.rule, err)
		}
		c2, _, err := eCluster.checkSaved(n.rule)
		if err != nil {
			t.Fatalf("rule %d %s: %v", i, n.rule, err)
		}
		a, err := eOne.Evaluate(ctx, c1)
		if err != nil {
			t.Fatalf("rule %d %s: one engine: %v", i, n.rule, err)
		}
		b, err := eCluster.Evaluate(ctx, c2)
		if err != nil {
			t.Fatalf("rule %d %s: cluster: %v", i, n.rule, err)
		}
		if !a.Equals(b) {
			t.Errorf("rule %d %s: one engine %d members, cluster %d", i, n.rule, a.GetCardinality(), b.GetCardinality())
		}
		if !a.IsEmpty() {
			nonEmpty++
		}
	}
	if nonEmpty < 50 {
		t.Errorf("only %d of 200 rules have members: the comparison says little", nonEmpty)
	}
}
