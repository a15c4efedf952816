package segments

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzCandidates are the traits of the customers a fuzzed rule is
// checked for: none known, and a typical one.
var fuzzCandidates = []Traits{
	{},
	{City: "上海", Province: "上海", CityTier: 1, LTV: 350.5, AOV: 116.83, OrdersTotal: 3, DaysSinceLastOrder: 12},
}

// FuzzCompileRule: any text is either compiled or refused with a
// *RuleError positioned inside the rule, never a panic; a rule Check
// accepts checks a customer within the per-candidate budget (its VM
// programs never fail with ErrTooCostly), and one only a saved rule may
// have (compileUnbounded) runs or fails with an error, never a panic.
func FuzzCompileRule(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "sql", "*.sql"))
	for _, path := range golden {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		first, _, _ := strings.Cut(string(raw), "\n")
		f.Add(strings.TrimPrefix(first, "-- rule: "))
	}
	for _, rule := range []string{
		flagship,
		issueRule,
		`did("order", 90) >= 1 && ltv / orders_total > 150 && !tag("控糖")`,
		`orders_total >= 1 && ltv / aov in 1..64 && max([ltv, 300]) > 2 * aov`,
		`orders_total >= 1 && ltv / aov in 1..65`,
		`orders_total >= 1 && (orders_total * 2) in -5..100000`,
		`city in ["北京", "上海"] && province matches "^(江苏|浙江)$"`,
		`orders_total >= 1 && len(repeat(city, 1000000)) > 0`,
		`orders_total >= 1 && len(map(1..1000000, # * 2)) > 0`,
		`orders_total >= 1 && reduce(1..orders_total, # + #acc) > 0`,
		`orders_total >= 1 && province matches city + ".*"`,
		`orders_total >= 1 && orders_total % (orders_total - orders_total) == 0`,
		`bucket(100, "a") < 10 && ltv ** 300 > aov`,
		`days_since_last("video_play") in 3..7 && did_then("search", "order", 7, 30)`,
		`((((((((ltv > 1))))))))`,
		`let x = 1; x > 0`,
	} {
		f.Add(rule)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		c, err := compile(rule, table)
		if err != nil {
			positionedIn(t, rule, err)
		} else {
			for _, p := range vmPrograms(c.plan) {
				for _, env := range fuzzCandidates {
					if _, err := p.run(&env); errors.Is(err, ErrTooCostly) {
						t.Fatalf("accepted %q, but %s went over the budget: %v", rule, p.src, err)
					}
				}
			}
		}
		saved, err := compileUnbounded(rule, table)
		if err != nil {
			positionedIn(t, rule, err)
			return
		}
		for _, p := range vmPrograms(saved.plan) {
			for _, env := range fuzzCandidates {
				_, _ = p.run(&env) // expr recovers its panics into errors; ours would crash here
			}
		}
	})
}

// positionedIn fails unless err is a *RuleError inside rule's text.
func positionedIn(t *testing.T, rule string, err error) {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("%q: %T %v, want a *RuleError", rule, err, err)
	}
	lines := strings.Split(rule, "\n")
	if re.Line < 1 || re.Line > len(lines) || re.Column < 1 || re.Column > utf8.RuneCountInString(lines[re.Line-1])+1 || re.Message == "" {
		t.Fatalf("%q: refused at %d:%d %q, outside the rule", rule, re.Line, re.Column, re.Message)
	}
}

// vmPrograms are the programs a plan runs in the expr VM.
func vmPrograms(plan Node) []*vmProgram {
	var out []*vmProgram
	Walk(plan, func(n Node) {
		switch l := n.(type) {
		case *residualLeaf:
			out = append(out, l.prog)
		case *categoryLeaf:
			out = append(out, l.prog)
		}
	})
	return out
}
