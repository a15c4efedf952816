package segments

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/expr-lang/expr/builtin"
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
	return buildSnapshot(universe, rows, map[string]*roaring.Bitmap{}, nil, DefaultCityTiers(), testNow)
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
		// the costliest shape the check accepts: a range of
		// MaxCandidateCost numbers scanned for a float
		{"costliest_accepted", fmt.Sprintf(`orders_total >= 1 && ltv / aov in 1..%d`, MaxCandidateCost), 100_000},
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

// longList is a list of n numbers written in a rule.
func longList(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "1"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TestRangeRuleRefusedAtCheckWithPosition: the issue's rule and every
// other way to build lists per customer (a range outside in, a range
// with computed ends, ranges and lists of more than MaxCandidateCost
// numbers, a pattern computed per customer) are refused by Check at the
// construct's line and column; a saved one still compiles (it runs under
// the VM's budget, TestSavedCostlyRuleStopsAtTheBudget). Conditions of
// the same shape within the budget are accepted.
func TestRangeRuleRefusedAtCheckWithPosition(t *testing.T) {
	for _, tc := range []struct {
		rule       string
		line, col  int
		messageHas string
	}{
		{issueRule, 1, 26, "the range orders_total..999999 builds a list of numbers for every customer"},
		{"orders_total >= 1 &&\n  max(1..300) > aov", 2, 7, "a range can only follow in"},
		{"orders_total >= 1 && ltv / aov in orders_total..999999", 1, 35, "must be whole numbers written in the rule"},
		{"orders_total >= 1 && ltv / aov in 1..100000", 1, 35, "lists of 100000 values"},
		{"orders_total >= 1 && (ltv / aov in 1..40) != (aov / ltv in 1..40)", 1, 60, "lists of 80 values"},
		{"orders_total >= 1 && ltv / aov in " + longList(300), 1, 35, "lists of 300 values"},
		{"orders_total >= 1 && max(" + longList(65) + ") < aov", 1, 26, "lists of 65 values"},
		{"orders_total >= 1 && province matches city", 1, 39, "the pattern after matches must be a text written in the rule"},
		{"tag(\"控糖\") && len(1..100000) > 0", 1, 18, "a range can only follow in"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			refusedAt(t, tc.rule, tc.line, tc.col, tc.messageHas)
			if strings.HasPrefix(tc.rule, "tag") {
				return // a constant: evaluated at check time, refused for saved rules too
			}
			if saved, err := compileUnbounded(tc.rule, table); err != nil || saved.unbounded == nil {
				t.Errorf("as a saved rule: %v; want it compiled with the refusal", err)
			}
		})
	}
	for _, rule := range []string{
		`orders_total >= 1 && ltv / aov in 1..5`,
		`orders_total >= 1 && (orders_total * 2) in -5..100000`,      // two comparisons
		`city in ` + strings.Replace(longList(300), "1", `"北京"`, -1), // a constant set
		`orders_total >= 1 && orders_total * 2 in ` + longList(300),
		`orders_total >= 1 && max([ltv, 300]) > 2 * aov`,
		`orders_total >= 1 && ltv / aov in ` + longList(MaxCandidateCost),
		`orders_total >= 1 && province + city matches "^(江苏|浙江)"`,
		`did("order", 90) >= 1 && upper(trim(city)) != lower(province)`,
	} {
		if _, err := compile(rule, table); err != nil {
			t.Errorf("%s: refused: %v", rule, err)
		}
	}
}

// TestEveryExprBuiltinIsDecided: each builtin of the expr version in use
// is either allowed in trait conditions or refused with a reason, so an
// upgrade that adds one fails here until it is decided; a refused one is
// refused at its position with the reason.
func TestEveryExprBuiltinIsDecided(t *testing.T) {
	for _, b := range builtin.Builtins {
		_, allowed := traitBuiltins[b.Name]
		_, refused := refusedBuiltins[b.Name]
		if allowed == refused {
			t.Errorf("builtin %s: allowed %v, refused %v; decide it in cost.go", b.Name, allowed, refused)
		}
	}
	if len(traitBuiltins)+len(refusedBuiltins) != len(builtin.Builtins) {
		t.Errorf("%d allowed + %d refused builtins, expr has %d", len(traitBuiltins), len(refusedBuiltins), len(builtin.Builtins))
	}
	_, err := compile(`orders_total >= 1 && len(repeat(city, orders_total)) > 3`, table)
	var re *RuleError
	if !errors.As(err, &re) || re.Column != 26 || !strings.Contains(re.Message, "repeat() cannot be used in segment rules: it builds a text") {
		t.Errorf("repeat: %v", err)
	}
}

// TestSavedCostlyRuleStopsAtTheBudget: the issue's rule saved before the
// check refused it still loads, but its evaluation stops at the first
// customer over MaxCandidateCost with ErrTooCostly instead of building a
// list of up to a million numbers per customer.
func TestSavedCostlyRuleStopsAtTheBudget(t *testing.T) {
	e := testEngine(population(t), nil)
	c, refusal, err := e.checkSaved(issueRule)
	if err != nil || refusal == nil {
		t.Fatalf("saved rule: %v, refusal %v", err, refusal)
	}
	_, err = e.Evaluate(context.Background(), c)
	if !errors.Is(err, ErrTooCostly) {
		t.Fatalf("evaluating the saved issue rule: %v, want ErrTooCostly", err)
	}
	// Within the budget a saved rule of the same shape runs.
	c, _, err = e.checkSaved(`orders_total >= 1 && len(orders_total..50) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	if bm, err := e.Evaluate(context.Background(), c); err != nil || bm.IsEmpty() {
		t.Fatalf("a saved rule within the budget: %v, %v", bm, err)
	}
}

// TestPerCandidateCheckStopsAtTheDeadline: the per-candidate loop looks
// at the request's context, so a costly condition (the costliest shape
// the check allows, over 100,000 candidates: ~0.3 s here) stops when the
// request's deadline passes or the request is cancelled.
func TestPerCandidateCheckStopsAtTheDeadline(t *testing.T) {
	c, err := compile(`orders_total >= 1 && ltv / aov in 1..64`, table)
	if err != nil {
		t.Fatal(err)
	}
	leaf := residualOf(t, c)
	snap := memSnapshot(100_000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = leaf.within(&evaluator{ctx: ctx, now: testNow, traits: snap}, snap.universe)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after %v: %v, want the deadline", time.Since(start), err)
	}
	t.Logf("stopped %v after the start, deadline 20ms", time.Since(start))
	start = time.Now()
	if _, err := leaf.within(&evaluator{ctx: context.Background(), now: testNow, traits: snap}, snap.universe); err != nil {
		t.Fatal(err)
	}
	t.Logf("a full run: %v", time.Since(start))

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err = leaf.within(&evaluator{ctx: ctx, now: testNow, traits: snap}, snap.universe); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
}
