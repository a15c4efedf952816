package segments

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func table(name string) string { return "`cdp`.`" + name + "`" }

func TestRuleErrorsArePositioned(t *testing.T) {
	for _, tc := range []struct {
		rule       string
		line, col  int
		messageHas string
	}{
		{"ltv >", 1, 5, "unexpected token"},
		{"", 1, 1, "empty"},
		{"  \n ", 1, 1, "empty"},
		{"ltv > 300 &&\n  city_tier == \"1\"", 2, 13, "mismatched types"},
		{"ltv > 300 &&\n  nosuch > 1", 2, 3, "unknown name nosuch"},
		{`did("video_complete", "30") >= 1`, 1, 23, "days must be a whole number"},
		{`city == "上海" && did("浏览", 0) >= 1`, 1, 27, "days must be a whole number from 1 to 3650"},
		{"city == \"上海\"\n  && bought(\"低GI大米\", 99999) >= 1", 2, 22, "days must be"},
		{`did("x", 30) + 1 > 2`, 1, 1, "did(...) must be compared with a number"},
		{`did("x") + 1`, 1, 10, "must be a condition"},
		{`tag("控糖") ? true : false`, 1, 1, "conditional expressions"},
		{`did_then("a", "a", 7)`, 1, 15, "must differ"},
		{`did("video_complete", 30, {"topic": 1}) >= 1`, 1, 37, `filter "topic"`},
		{`did("video_complete", 30, "控糖") >= 1`, 1, 27, "filters must be a map"},
		{`did("order", 30, {"topic": "控糖"}) >= 1`, 1, 28, "orders can be filtered by"},
		{`did("a", 30, {}, 1) >= 1`, 1, 18, "at most 3 arguments"},
		{`bought("低GI大米", 30, 60) >= 1`, 1, 21, "at most 2 arguments"},
		{`chat("血糖", 30, 60)`, 1, 16, "at most 2 arguments"},
		{`orders(30, 60) >= 1`, 1, 12, "at most 1 argument"},
		{`tag("")`, 1, 5, "non-empty text"},
		{`chat("血糖", "30")`, 1, 12, "cannot use string"},
		{`bucket(0) < 1`, 1, 8, "number of buckets"},
		{`did("a") in ["x"]`, 1, 10, "cannot use int"},
		{`did("a") in [1, "x"]`, 1, 17, "expected a number"},
		{`did("a") in [1, ltv]`, 1, 17, "expected a number"},
		{`[1, 2][0] == 1`, 1, 7, "member accesses"},
		{`city == "上海" || now() != nil`, 1, 17, "now() cannot be used"},
		{`tag("a") && did == nil`, 1, 13, "did is a function"},
		{`all([1], # > 0)`, 1, 10, "predicates"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			refusedAt(t, tc.rule, tc.line, tc.col, tc.messageHas)
		})
	}
}

// refusedAt compiles rule and fails the test unless it is refused with
// a *RuleError at line:col whose message contains has.
func refusedAt(t *testing.T, rule string, line, col int, has string) *RuleError {
	t.Helper()
	_, err := compile(rule, table)
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a *RuleError", err)
	}
	if re.Line != line || re.Column != col || !strings.Contains(re.Message, has) {
		t.Fatalf("got %d:%d %q, want %d:%d containing %q", re.Line, re.Column, re.Message, line, col, has)
	}
	return re
}

func TestTraitSpecsNameEveryTraitsField(t *testing.T) {
	typ := reflect.TypeFor[Traits]()
	if typ.NumField() != len(traitSpecs) {
		t.Errorf("Traits has %d fields, traitSpecs %d", typ.NumField(), len(traitSpecs))
	}
	for i := range typ.NumField() {
		if _, ok := traitSpecs[typ.Field(i).Tag.Get("expr")]; !ok {
			t.Errorf("Traits.%s has no traitSpec", typ.Field(i).Name)
		}
	}
}

func TestPlansAreSimplified(t *testing.T) {
	for _, tc := range []struct{ rule, plan string }{
		{`tag("a") && !tag("b") && !tag("c")`, `(tag("a") AND NOT (tag("b") OR tag("c")))`},
		{`!!tag("a")`, `tag("a")`},
		{`!tag("a") && !tag("b")`, `NOT (tag("a") OR tag("b"))`},
		{`tag("a") && true`, `tag("a")`},
		{`tag("a") || true`, `ALL`},
		{`(tag("a") || tag("b")) || tag("c")`, `(tag("a") OR tag("b") OR tag("c"))`},
		{`ltv > 300 && ltv <= 500`, `(ltv >= 300.01 AND ltv <= 500)`},
		{`did("x", 7) < 2`, `NOT did("x", 7) >= 2`},
		{`never("x", 7)`, `NOT did("x", 7) >= 1`},
		{`did("x", 7) in 2..5`, `did("x", 7) in 2..5`},
		{`lapsed("低GI大米", 60) && city == "上海"`,
			`(lapsed("低GI大米", 60) AND city == "上海")`},
	} {
		c, err := compile(tc.rule, table)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != tc.plan {
			t.Errorf("%s\n got: %s\nwant: %s", tc.rule, c, tc.plan)
		}
	}
}

// TestGoldenSQL checks the SQL of every kind of behaviour leaf against
// testdata/sql/*.sql (go test -run GoldenSQL -update rewrites them).
func TestGoldenSQL(t *testing.T) {
	for name, rule := range map[string]string{
		"did_filters":            `did("video_complete", 30, {"topic": "控糖", "completion": 0.9, "video_id": ["v1", "v2"]}) >= 2`,
		"did_exists":             `did("search", 7, {"keyword": "低GI大米"}) >= 1`,
		"did_order_channel":      `did("order", 90, {"channel": "tmall"}) in 2..5`,
		"never":                  `never("video_play", 90)`,
		"days_since_last":        `days_since_last("order") <= 60`,
		"days_since_first":       `days_since_first("order") > 30`,
		"days_since_last_events": `days_since_last("video_play") in 3..7`,
		"bought":                 `bought("低GI大米", 365) >= 2`,
		"lapsed":                 `lapsed("低GI大米", 60)`,
		"orders":                 `orders(90) >= 2`,
		"spend":                  `spend(365) > 300`,
		"chat":                   `chat("血糖", 30)`,
		"tag":                    `tag("控糖")`,
		"did_then":               `did_then("video_complete", "order", 7, 30)`,
		"did_then_events":        `did_then("search", "video_complete", 1, 30)`,
		"in_list":                `in_list("lst_0123456789ab", "funnel drop-offs")`,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := compile(rule, table)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString("-- rule: " + rule + "\n-- plan: " + c.String() + "\n\n")
			Walk(c.Plan(), func(n Node) {
				if l, ok := n.(*sqlLeaf); ok {
					b.WriteString(l.golden())
					b.WriteString("\n")
				}
			})
			golden(t, filepath.Join("testdata", "sql", name+".sql"), b.String())
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the generated SQL (run with -update after checking the change):\n%s", path, got)
	}
}
