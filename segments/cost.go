package segments

import (
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Per-candidate cost. A trait condition the plan cannot answer with
// bitmaps (ltv >= 2 * aov) runs in the expr VM once per candidate
// customer, so whatever it builds it builds a million times for a million
// customers: `orders_total >= 1 && len(orders_total..999999) > 0` built a
// list of up to a million numbers per customer, 4 ms each (an hour of a
// core per million customers). Three controls bound it:
//
//   - at check time, a trait condition may build lists of at most
//     MaxCandidateCost numbers in all: a range a..b only after `in`, with
//     ends written as whole numbers (x in 1..5), counts b-a+1; a list
//     [a, b, c] counts its length; `matches` takes a pattern written in
//     the rule (a pattern computed per customer is a regular expression
//     compiled per customer). Builtins are an allow-list
//     (traitBuiltins, every other expr builtin is refused with its
//     reason in refusedBuiltins): none of the allowed ones loops over
//     anything but its arguments, and expr's loops (all, map, filter,
//     reduce, sortBy, groupBy, ...) and repeat are refused. A refusal is
//     a *RuleError at the construct, like an unbounded read (bounds.go),
//     so rules saved before it keep loading.
//   - at run time, every VM run has expr's memory budget set to
//     MaxCandidateCost (one unit per element of a list or range the VM
//     builds): a saved rule that the check would refuse stops at its
//     first costly customer with ErrTooCostly instead of running.
//   - the per-candidate loop checks the request's context every
//     ctxCheckEvery candidates, so a request that ends (deadline, client
//     gone) stops the work.

// MaxCandidateCost bounds the values a per-customer condition may put in
// lists and ranges, in expr's memory units (one per element). Measured
// (BenchmarkPerCandidate, 2 shared cores): the rule, up to a
// million elements, cost 4.1-5.2 ms and 8 MB a customer; the costliest
// condition the check accepts (a ratio scanned against a range of 64)
// costs 750 B, 13 allocations and 2.5-6 us a customer, against 150 B, 2
// allocations and 1.2-5.6 us for ltv >= 2 * aov in the same runs: at most
// about twice an ordinary condition. A condition a marketer writes
// (ltv / aov in 1..5, max([ltv, 300])) uses a handful; lists after in
// that become constant sets count nothing.
const MaxCandidateCost = 64

// ctxCheckEvery is how many candidates the per-candidate loop checks
// between looks at the request's context: at 2.5-6 us each, a request
// that ends stops the loop within ~6 ms; a look costs ~20 ns, under
// 0.001% of the loop.
const ctxCheckEvery = 1024

// ErrTooCostly: a per-customer condition went over MaxCandidateCost for a
// customer (a rule saved before the check refused such conditions).
var ErrTooCostly = errors.New("segments: the rule's per-customer condition is too costly")

// traitBuiltins are expr's builtins allowed in trait conditions: pure
// functions of their arguments whose work is linear in them (a text of a
// trait, a list written in the rule).
var traitBuiltins = map[string]bool{
	"len": true, "upper": true, "lower": true, "trim": true, "trimPrefix": true, "trimSuffix": true,
	"hasPrefix": true, "hasSuffix": true, "abs": true, "ceil": true, "floor": true, "round": true,
	"min": true, "max": true,
}

// refusedBuiltins are the other builtins of expr v1.17, each with why a
// segment rule cannot use it (TestEveryExprBuiltinIsDecided holds the two
// lists equal to expr's, so an upgrade that adds one must decide it).
var refusedBuiltins = func() map[string]string {
	const (
		loop  = "loops over a list for every customer"
		build = "builds values for every customer"
		clock = "depends on the time it is evaluated, not on the customer"
		conv  = "converts values, which segment rules do not need"
		bits  = "works on bits, which segment rules do not need"
	)
	m := map[string]string{"repeat": "builds a text of any length for every customer",
		"now": clock, "duration": clock, "date": clock, "timezone": clock}
	for _, n := range []string{"all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast",
		"findLastIndex", "count", "sum", "groupBy", "sortBy", "reduce", "mean", "median", "first", "last", "get",
		"take", "keys", "values", "toPairs", "fromPairs", "reverse", "uniq", "concat", "flatten", "sort", "indexOf",
		"lastIndexOf", "join"} {
		m[n] = loop
	}
	for _, n := range []string{"split", "splitAfter", "replace", "toJSON", "fromJSON", "toBase64", "fromBase64"} {
		m[n] = build
	}
	for _, n := range []string{"type", "int", "float", "string"} {
		m[n] = conv
	}
	for _, n := range []string{"bitand", "bitor", "bitxor", "bitnand", "bitnot", "bitshl", "bitshr", "bitushr"} {
		m[n] = bits
	}
	return m
}()

// candidateCost returns the first construct of a trait condition that
// would cost more per candidate than the check allows (nil when none).
// Lists and ranges that expr's optimizer turns into constants count
// nothing: after `in`, a range with whole-number ends compared with a
// whole number becomes two comparisons, and a list of texts (or of whole
// numbers compared with a whole number) becomes a constant set. The VM's
// budget counts the rest the same way (OpRange, OpArray), so a condition
// the check accepts never fails it (FuzzCompileRule holds this).
func (c *compiler) candidateCost(n ast.Node) *RuleError {
	afterIn := map[ast.Node]bool{} // ranges and lists that are the right side of `in`
	free := map[ast.Node]bool{}    // those the optimizer makes constant
	ast.Walk(&n, visitFunc(func(x ast.Node) {
		b, ok := x.(*ast.BinaryNode)
		if !ok || b.Operator != "in" {
			return
		}
		afterIn[b.Right] = true
		intLeft := b.Left.Type() != nil && b.Left.Type().Kind() == reflect.Int
		switch r := b.Right.(type) {
		case *ast.BinaryNode:
			free[r] = intLeft
		case *ast.ArrayNode:
			free[r] = len(r.Nodes) > 0 && (all[*ast.StringNode](r.Nodes) || intLeft && all[*ast.IntegerNode](r.Nodes))
		}
	}))
	var found *RuleError
	total := 0
	add := func(x ast.Node, units int, what string) {
		if total += units; total > MaxCandidateCost && found == nil {
			found = positioned(c.src, x, "%s makes this condition build lists of %d values for every customer it checks, "+
				"more than %d; compare with bounds instead, e.g. x >= 1 && x <= 100", what, total, MaxCandidateCost)
		}
	}
	ast.Walk(&n, visitFunc(func(x ast.Node) {
		if found != nil {
			return
		}
		switch x := x.(type) {
		case *ast.BinaryNode:
			switch x.Operator {
			case "..":
				lo, okLo := wholeNumber(x.Left)
				hi, okHi := wholeNumber(x.Right)
				switch {
				case !afterIn[x]:
					found = positioned(c.src, leftmost(x), "the range %s builds a list of numbers for every customer; "+
						"a range can only follow in, e.g. x in 1..5", x.String())
				case !okLo || !okHi:
					found = positioned(c.src, leftmost(x), "the ends of the range %s must be whole numbers written in the rule, "+
						"or it builds a list for every customer; compare with bounds instead, e.g. x >= 1 && x <= 100", x.String())
				case !free[x]:
					add(leftmost(x), int(max(hi-lo+1, 0)), "the range "+x.String()) // |lo|, |hi| <= 2^53: no overflow
				}
			case "matches":
				if _, ok := x.Right.(*ast.StringNode); !ok {
					found = positioned(c.src, x.Right, "the pattern after matches must be a text written in the rule "+
						"(another one is compiled for every customer), e.g. province matches \"^(江苏|浙江)$\"")
				}
			}
		case *ast.ArrayNode:
			if !free[x] {
				add(x, len(x.Nodes), "the list")
			}
		}
	}))
	return found
}

// all tells whether every node is a T.
func all[T ast.Node](ns []ast.Node) bool {
	for _, n := range ns {
		if _, ok := n.(T); !ok {
			return false
		}
	}
	return true
}

// wholeNumber reads an integer literal (with an optional sign).
func wholeNumber(n ast.Node) (int64, bool) {
	x, ok := number(n)
	if !ok || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, false
	}
	if _, isFloat := leftmostLiteral(n).(*ast.FloatNode); isFloat {
		return 0, false
	}
	return int64(x), true
}

func leftmostLiteral(n ast.Node) ast.Node {
	for {
		u, ok := n.(*ast.UnaryNode)
		if !ok {
			return n
		}
		n = u.Node
	}
}

// visitFunc adapts a function to ast.Visitor.
type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }

// newVM is a VM for one trait condition, its memory budget set so that
// a run over MaxCandidateCost fails (expr fails when the memory used
// reaches the budget).
func newVM() *vm.VM { return &vm.VM{MemoryBudget: MaxCandidateCost + 1} }

// budgetError turns expr's "memory budget exceeded" (a panic inside the
// VM, recovered into a *file.Error with that message) into ErrTooCostly.
func budgetError(src string, err error) error {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Message == "memory budget exceeded" {
		return fmt.Errorf("%w: %s builds lists of more than %d values for a customer", ErrTooCostly, src, MaxCandidateCost)
	}
	return err
}
