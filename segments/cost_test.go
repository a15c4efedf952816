package segments

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// issueRule is the rule of issue #14: it compiled, and built a list of up
// to a million numbers for every customer it was checked for.
const issueRule = `orders_total >= 1 && len(orders_total..999999) > 0`

// memSnapshot is a trait snapshot of n persons (ids 1..n) built in memory,
// as loadSnapshot builds one from ClickHouse's rows: every person has 1-5
// orders, a city and a last order within a year.
func memSnapshot(n int) *traitSnapshot {
	r := rand.New(rand.NewPCG(3, 4))
	rows := &traitRows{}
	for i := range n {
		rows.ids = append(rows.ids, uint32(i+1))
		orders := int64(1 + r.IntN(5))
		rows.orders = append(rows.orders, orders)
		rows.ltv = append(rows.ltv, orders*int64(5_000+r.IntN(30_000)))
		rows.lastMS = append(rows.lastMS, testNow.Add(-time.Duration(r.IntN(365*24))*time.Hour).UnixMilli())
		c := benchCities[r.IntN(len(benchCities))]
		rows.cities, rows.provinces = append(rows.cities, c.city), append(rows.provinces, c.province)
	}
	universe := roaring.New()
	universe.AddRange(1, uint64(n)+1)
	return buildSnapshot(universe, rows, map[string]*roaring.Bitmap{}, DefaultCityTiers(), testNow)
}

// residualOf is the per-candidate leaf of a compiled rule (the first).
func residualOf(tb testing.TB, c *Compiled) *residualLeaf {
	tb.Helper()
	var found *residualLeaf
	Walk(c.plan, func(n Node) {
		if r, ok := n.(*residualLeaf); ok && found == nil {
			found = r
		}
	})
	if found == nil {
		tb.Fatalf("%s: no per-candidate leaf in %s", c.source, c.plan)
	}
	return found
}

// BenchmarkPerCandidate times the per-candidate check (the expr VM over
// each candidate's traits) of a reference rule and of the issue's rule
// compiled as a saved rule would be, over an in-memory trait snapshot:
// ns/candidate is the cost of one customer.
func BenchmarkPerCandidate(b *testing.B) {
	for _, bc := range []struct {
		name, rule string
		n          int
	}{
		{"reference", `orders_total >= 1 && ltv >= 2 * aov`, 100_000},
		{"issue_rule", issueRule, 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := compileUnbounded(bc.rule, table)
			if err != nil {
				b.Fatal(err)
			}
			leaf := residualOf(b, c)
			snap := memSnapshot(bc.n)
			ev := &evaluator{ctx: context.Background(), now: testNow, traits: snap}
			var evaluated, errs int
			for b.Loop() {
				if _, err := leaf.within(ev, snap.universe); err != nil {
					errs++
				}
				evaluated += bc.n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(evaluated), "ns/candidate")
			b.ReportMetric(float64(errs)/float64(b.N), "errors/op")
		})
	}
}
