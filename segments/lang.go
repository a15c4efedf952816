// Package segments selects audiences: a rule written in the segment
// language (an expr-lang expression, see LANGUAGE.md) is parsed and
// type-checked against a typed environment, compiled to a plan of bitmap
// operations (And, Or, AndNot, Not) over leaves, and evaluated over
// roaring bitmaps of canonical person ids.
//
// Leaves come from three places:
//   - behaviour (did, bought, chat, ...) is computed by ClickHouse and read
//     back as a groupBitmap state; these bitmaps are cached per leaf and
//     kept current with Invalidate and Refresh;
//   - traits (city, ltv, ...) come from an in-memory snapshot: one bitmap
//     per value for city, province and city tier, a bit-sliced index for
//     each numeric trait;
//   - in_segment asks a SegmentResolver the caller provides.
//
// Only an atom that combines several traits arithmetically (ltv > 2 * aov)
// is evaluated per candidate, by the expr VM, over the persons the rest of
// its conjunction leaves.
//
// Bitmaps shared inside the engine (cached leaves, trait indexes) are
// frozen snapshots: nothing mutates them after they are published; a change
// clones, patches and swaps. Bitmaps the Engine returns belong to the
// caller.
package segments

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// RuleError is a problem in a rule, positioned for a console. Line and
// Column are 1-based and count characters (a Chinese character is one
// column).
type RuleError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// MaxRuleLength bounds a rule's source, in bytes: a rule is typed by a
// marketer, 4 KB is about 60 lines of conditions.
const MaxRuleLength = 4096

// Traits are the per-person values a rule can compare. The struct is the
// checker's view of them (types and names); values live in the trait
// snapshot, never in a Traits.
type Traits struct {
	// City and Province are those of the person's latest order that
	// names a city.
	City     string `expr:"city"`
	Province string `expr:"province"`
	// CityTier is the tier of City (1: 北京 上海 广州 深圳; 2: new first
	// tier; 3, 4 below), from Options.CityTiers.
	CityTier int `expr:"city_tier"`
	// LTV is the lifetime value in yuan (person_traits.lifetime_value):
	// the total of orders not refunded or cancelled; 0 without orders.
	LTV float64 `expr:"ltv"`
	// AOV is the average order value in yuan; only persons with orders.
	AOV float64 `expr:"aov"`
	// OrdersTotal counts orders not refunded or cancelled; 0 without.
	OrdersTotal int `expr:"orders_total"`
	// DaysSinceLastOrder is whole days since the latest such order; only
	// persons with orders.
	DaysSinceLastOrder int `expr:"days_since_last_order"`
}

// Env is the rule language's environment for the type checker: the
// traits and the functions. It is never instantiated with values; the
// compiler turns each function call into a leaf of the plan.
type Env struct {
	Traits
	Tag            func(name string) bool                                     `expr:"tag"`
	Did            func(event string, args ...any) int                        `expr:"did"`
	Never          func(event string, args ...any) bool                       `expr:"never"`
	DaysSinceFirst func(event string) int                                     `expr:"days_since_first"`
	DaysSinceLast  func(event string) int                                     `expr:"days_since_last"`
	Bought         func(item string, days ...int) int                         `expr:"bought"`
	Lapsed         func(item string, days int) bool                           `expr:"lapsed"`
	Orders         func(days ...int) int                                      `expr:"orders"`
	Spend          func(days ...int) float64                                  `expr:"spend"`
	Chat           func(keyword string, days ...int) bool                     `expr:"chat"`
	DidThen        func(first, then string, withinDays int, days ...int) bool `expr:"did_then"`
	InSegment      func(segmentID string) bool                                `expr:"in_segment"`
	InList         func(listID string, about ...string) bool                  `expr:"in_list"`
	Bucket         func(n int, salt ...string) int                            `expr:"bucket"`
}

// parse parses and type-checks a rule; the tree is checked, with types
// on every node. Problems are *RuleError.
func parse(rule string) (*parser.Tree, error) {
	if len(rule) > MaxRuleLength {
		return nil, &RuleError{Line: 1, Column: 1, Message: fmt.Sprintf("the rule is longer than %d bytes", MaxRuleLength)}
	}
	if strings.TrimSpace(rule) == "" {
		return nil, &RuleError{Line: 1, Column: 1, Message: "the rule is empty"}
	}
	if !utf8.ValidString(rule) {
		return nil, &RuleError{Line: 1, Column: 1, Message: "the rule is not valid UTF-8"}
	}
	tree, err := checker.ParseCheck(rule, checkConfig())
	if err == nil {
		return tree, nil
	}
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		return nil, &RuleError{Line: fe.Line, Column: fe.Column + 1, Message: fe.Message}
	}
	if tree != nil && tree.Node != nil {
		// The checker's final "expected bool" has no position: point at
		// the root, the operator that decides the rule's type.
		return nil, positioned(rule, tree.Node, "the rule must be a condition (true or false), not a %s", typeName(tree.Node))
	}
	return nil, &RuleError{Line: 1, Column: 1, Message: err.Error()}
}

// checkConfig builds the checker's configuration. A Config caches
// reflection results as it checks, so each check gets its own.
func checkConfig() *conf.Config {
	c := conf.CreateNew()
	expr.Env(Env{})(c)
	expr.AsBool()(c)
	return c
}

// compileTraitProgram compiles a trait-only sub-expression for the expr
// VM, run with a Traits as its environment.
func compileTraitProgram(src string) (*vmProgram, error) {
	p, err := expr.Compile(src, expr.Env(Traits{}), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &vmProgram{src: src, prog: p}, nil
}

// positioned makes a RuleError at a node's position in src.
func positioned(src string, n ast.Node, format string, args ...any) *RuleError {
	line, col := lineColumn(src, n.Location().From)
	return &RuleError{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// lineColumn converts a rune offset (expr's positions) to a 1-based line
// and column.
func lineColumn(src string, offset int) (line, col int) {
	line, col = 1, 1
	i := 0
	for _, r := range src {
		if i == offset {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i++
	}
	return line, col
}

func typeName(n ast.Node) string {
	switch n.Type().Kind() {
	case reflect.Int, reflect.Int64:
		return "whole number"
	case reflect.Float64:
		return "number"
	case reflect.String:
		return "text"
	}
	return n.Type().String()
}
