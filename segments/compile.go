package segments

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Record kinds: what a leaf reads. Compiled.Kinds tells which kinds a rule
// depends on; Engine.Invalidate and Engine.Refresh take them.
const (
	KindEvents = "events" // events table
	KindOrders = "orders" // orders and order_lines (and the traits derived from them)
	KindChats  = "chats"  // WeCom chat messages
	KindTags   = "tags"   // person_tags
	// KindTraits names the trait snapshot (city, ltv, ...), which is
	// derived from orders: invalidating orders invalidates it too.
	KindTraits = "traits"
	// KindPersons is merges and splits (the persons table): they can
	// change any leaf, and the set of all persons.
	KindPersons = "persons"
)

// orderEvent is the event name that stands for an order (not refunded or
// cancelled) in did, never, days_since_*, did_then.
const orderEvent = "order"

// maxDays bounds windows: ten years.
const maxDays = 3650

// MaxScanDays bounds the windows of the two tables that grow without
// bound and have no index a rule could use besides time: behaviour events
// (every view, play, like and search, kept for ever) and WeCom chat
// messages (searched by substring). A rule reads them only within a
// window of at most this many days; see unbounded in bounds.go.
const MaxScanDays = 365

const (
	minInt = math.MinInt64
	maxInt = math.MaxInt64
)

// intRange is an inclusive range of integers; minInt and maxInt stand
// for an open side.
type intRange struct{ lo, hi int64 }

func (r intRange) String() string {
	switch {
	case r.lo == minInt && r.hi == maxInt:
		return "is known"
	case r.lo == r.hi:
		return "== " + strconv.FormatInt(r.lo, 10)
	case r.hi == maxInt:
		return ">= " + strconv.FormatInt(r.lo, 10)
	case r.lo == minInt:
		return "<= " + strconv.FormatInt(r.hi, 10)
	}
	return fmt.Sprintf("in %d..%d", r.lo, r.hi)
}

// Compiled is a checked rule and its plan. It is immutable and safe for
// concurrent use.
type Compiled struct {
	source   string
	plan     Node
	kinds    []string
	segments []string
	// unbounded is the rule's first clause that would read without
	// bounds (nil when none): Engine.Check refuses such a rule; a stored
	// one still runs.
	unbounded *RuleError
}

// Source is the rule as written.
func (c *Compiled) Source() string { return c.source }

// Plan is the rule's plan of bitmap operations.
func (c *Compiled) Plan() Node { return c.plan }

// Kinds are the record kinds the rule reads (KindEvents, KindOrders,
// KindChats, KindTags), sorted: a record of another kind cannot change its
// members. Merges (KindPersons) can change any rule's members.
func (c *Compiled) Kinds() []string { return c.kinds }

// Segments are the segment ids the rule refers to with in_segment, sorted.
func (c *Compiled) Segments() []string { return c.segments }

// String explains the plan.
func (c *Compiled) String() string { return c.plan.String() }

// source is what a behaviour function counts: an event name (or "order")
// with property filters.
type source struct {
	event   string
	filters []filter
}

func (s source) kinds() []string {
	if s.event == orderEvent {
		return []string{KindOrders}
	}
	return []string{KindEvents}
}

// filter narrows a source: a column (or a key of the JSON properties when
// column is "") equal to one of values, or compared with number.
type filter struct {
	key     string
	column  string
	values  []string
	number  *float64
	atLeast bool // number is a minimum (completion)
}

// Filter keys with a column of their own; the rest are properties keys.
var (
	eventColumns = map[string]string{"topic": "topic", "keyword": "keyword", "completion": "completion", "source": "source"}
	orderColumns = map[string]string{"channel": "channel", "city": "city", "province": "province", "store_id": "store_id", "leader_id": "leader_id"}
)

// compiler walks a checked tree into a plan. One compiler compiles one
// rule.
type compiler struct {
	src       string
	gen       sqlGen
	kinds     map[string]bool
	segments  map[string]bool
	unbounded *RuleError // the first clause that reads without bounds
}

func newCompiler(src string, table func(string) string) *compiler {
	return &compiler{src: src, gen: sqlGen{table: table}, kinds: map[string]bool{}, segments: map[string]bool{}}
}

// compile parses, checks and compiles a rule, and refuses one that would
// read without bounds (the *RuleError names the clause and how to bound
// it).
func compile(rule string, table func(string) string) (*Compiled, error) {
	c, err := compileUnbounded(rule, table)
	if err != nil {
		return nil, err
	}
	if c.unbounded != nil {
		return nil, c.unbounded
	}
	return c, nil
}

// compileUnbounded is compile without the refusal of unbounded reads:
// for rules saved before the bounds existed, which keep running.
func compileUnbounded(rule string, table func(string) string) (*Compiled, error) {
	tree, err := parse(rule)
	if err != nil {
		return nil, err
	}
	c := newCompiler(rule, table)
	plan, err := c.cond(tree.Node)
	if err != nil {
		return nil, err
	}
	segs := make([]string, 0, len(c.segments))
	for s := range c.segments {
		segs = append(segs, s)
	}
	sort.Strings(segs)
	plan = simplify(plan)
	unbounded := c.unbounded
	if unbounded == nil {
		unbounded = unnarrowed(plan)
	}
	return &Compiled{source: rule, plan: plan, kinds: sortedKinds(c.kinds), segments: segs, unbounded: unbounded}, nil
}

func (c *compiler) errorf(n ast.Node, format string, args ...any) error {
	return positioned(c.src, n, format, args...)
}

// cond compiles a boolean node: logical operators become plan nodes,
// anything else is an atom.
func (c *compiler) cond(n ast.Node) (Node, error) {
	switch n := n.(type) {
	case *ast.BoolNode:
		if n.Value {
			return All{}, nil
		}
		return None{}, nil
	case *ast.UnaryNode:
		if (n.Operator == "!" || n.Operator == "not") && !isInfixNot(n) {
			x, err := c.cond(n.Node)
			if err != nil {
				return nil, err
			}
			return Not{Child: x}, nil
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, err := c.cond(n.Left)
			if err != nil {
				return nil, err
			}
			r, err := c.cond(n.Right)
			if err != nil {
				return nil, err
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return And{Children: []Node{l, r}}, nil
			}
			return Or{Children: []Node{l, r}}, nil
		}
	case *ast.CallNode:
		return c.boolCall(n)
	case *ast.ConditionalNode: // its own position is past the expression; point at the condition
		return nil, c.errorf(n.Cond, "conditional expressions (?:, if/else) are not supported in segment rules; combine conditions with &&, || and !")
	case *ast.VariableDeclaratorNode, *ast.SequenceNode:
		return nil, c.errorf(n, "variables and sequences are not supported in segment rules")
	}
	return c.atom(n)
}

// isInfixNot tells `x not in y` (a negated comparison, parsed as a "not"
// at the same position as its operator) from `not (x in y)`.
func isInfixNot(u *ast.UnaryNode) bool {
	b, ok := u.Node.(*ast.BinaryNode)
	return ok && u.Operator == "not" && b.Location() == u.Location()
}

// atom compiles a condition that is not a logical combination.
func (c *compiler) atom(n ast.Node) (Node, error) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "==", "!=", "<", "<=", ">", ">=":
			if plan, ok, err := c.comparison(n); ok || err != nil {
				return plan, err
			}
		case "in":
			if plan, ok, err := c.membership(n, false); ok || err != nil {
				return plan, err
			}
		}
	case *ast.UnaryNode:
		if b, ok := n.Node.(*ast.BinaryNode); ok && isInfixNot(n) && b.Operator == "in" {
			if plan, ok, err := c.membership(b, true); ok || err != nil {
				return plan, err
			}
		}
	}
	return c.traitAtom(n)
}

// comparison compiles `measure op number` (either way round). ok is false
// when neither side is a measure compared with a number.
func (c *compiler) comparison(b *ast.BinaryNode) (Node, bool, error) {
	m, lit, op := b.Left, b.Right, b.Operator
	x, isNum := number(lit)
	if !isNum {
		if x, isNum = number(m); !isNum {
			return nil, false, nil
		}
		m, lit, op = lit, m, flip(op)
	}
	meas, ok, err := c.measure(m)
	if !ok || err != nil {
		return nil, ok, err
	}
	return compare(meas, op, x), true, nil
}

// membership compiles `measure in [numbers]` and `measure in a..b`;
// negated is `not in`: persons with a value outside the list.
func (c *compiler) membership(b *ast.BinaryNode, negated bool) (Node, bool, error) {
	meas, ok, err := c.measure(b.Left)
	if !ok || err != nil {
		return nil, ok, err
	}
	var in Node
	switch r := b.Right.(type) {
	case *ast.ArrayNode:
		var alts []Node
		for _, el := range r.Nodes {
			x, isNum := number(el)
			if !isNum {
				return nil, true, c.errorf(el, "expected a number")
			}
			alts = append(alts, compare(meas, "==", x))
		}
		in = Or{Children: alts}
	case *ast.BinaryNode:
		lo, okLo := number(r.Left)
		hi, okHi := number(r.Right)
		if r.Operator != ".." || !okLo || !okHi {
			return nil, true, c.errorf(r, "expected a list of numbers [1, 2] or a range 1..5")
		}
		in = between(meas, lo, hi)
	default:
		return nil, true, c.errorf(b.Right, "expected a list of numbers [1, 2] or a range 1..5")
	}
	if negated {
		return AndNot{Left: meas.known(), Right: in}, true, nil
	}
	return in, true, nil
}

// number reads a numeric literal (with an optional sign).
func number(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.UnaryNode:
		x, ok := number(n.Node)
		switch {
		case ok && n.Operator == "-":
			return -x, true
		case ok && n.Operator == "+":
			return x, true
		}
	}
	return 0, false
}

func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// compare turns `measure op x` into a plan. != is "has a value, and not
// this one"; the other operators select a range of values.
func compare(m measure, op string, x float64) Node {
	x = math.Round(x*m.scale()*1e6) / 1e6 // 300.1 yuan is 30010 fen, not 30010.000000000004
	if op == "!=" {
		return AndNot{Left: m.known(), Right: compare(m, "==", x/m.scale())}
	}
	r, ok := rangeOf(op, x)
	if !ok {
		return None{}
	}
	return m.between(r)
}

// between is the plan for `measure in lo..hi`: one range, so that a
// measure read in a window (days_since_last) gets both bounds at once.
func between(m measure, lo, hi float64) Node {
	a, okLo := rangeOf(">=", math.Round(lo*m.scale()*1e6)/1e6)
	b, okHi := rangeOf("<=", math.Round(hi*m.scale()*1e6)/1e6)
	if !okLo || !okHi || a.lo > b.hi {
		return None{}
	}
	return m.between(intRange{lo: a.lo, hi: b.hi})
}

// rangeOf is the integer range of values v with `v op x`.
func rangeOf(op string, x float64) (intRange, bool) {
	const limit = 9e18 // inside int64
	x = math.Max(-limit, math.Min(limit, x))
	r := intRange{lo: minInt, hi: maxInt}
	switch op {
	case ">":
		r.lo = int64(math.Floor(x)) + 1
	case ">=":
		r.lo = int64(math.Ceil(x))
	case "<":
		r.hi = int64(math.Ceil(x)) - 1
	case "<=":
		r.hi = int64(math.Floor(x))
	case "==":
		if x != math.Trunc(x) {
			return r, false
		}
		r.lo, r.hi = int64(x), int64(x)
	default:
		panic("BUG: rangeOf " + op)
	}
	return r, r.lo <= r.hi
}

// traitAtom compiles a condition over traits only: one categorical trait
// (city, province, city_tier) is evaluated per distinct value; a single
// numeric trait compared with a number was handled by comparison; the rest
// (several traits, arithmetic) is evaluated per candidate by the VM.
func (c *compiler) traitAtom(n ast.Node) (Node, error) {
	refs, err := c.traitRefs(n)
	if err != nil {
		return nil, err
	}
	if costly := c.candidateCost(n); costly != nil {
		if len(refs) == 0 {
			return nil, costly // a constant, evaluated here and now
		}
		c.refused(costly)
	}
	prog, err := compileTraitProgram(n.String())
	if err != nil {
		return nil, c.errorf(n, "%v", err)
	}
	switch {
	case len(refs) == 0:
		ok, err := prog.run(&Traits{})
		if err != nil {
			return nil, c.errorf(n, "%v", err)
		}
		if ok {
			return All{}, nil
		}
		return None{}, nil
	case len(refs) == 1 && traitSpecs[refs[0]].categorical:
		c.kinds[KindOrders] = true
		return &categoryLeaf{trait: refs[0], prog: prog}, nil
	}
	c.kinds[KindOrders] = true
	return &residualLeaf{traits: refs, prog: prog, at: c.errorf(leftmost(n), "%s is checked customer by customer, and nothing beside it "+
		"narrows the customers it is checked for, so it would run over every customer: join it with && to a condition that "+
		"selects customers, e.g. did(\"order\", 90) >= 1 && %s", n.String(), n.String()).(*RuleError)}, nil
}

// traitRefs lists the traits a trait-only expression reads. It refuses
// language functions inside expressions, and node kinds the VM path does
// not take (a positioned error, never skipped).
func (c *compiler) traitRefs(n ast.Node) ([]string, error) {
	v := &refVisitor{refs: map[string]bool{}}
	ast.Walk(&n, v)
	if v.call != nil {
		name := calleeName(v.call)
		if isMeasureFunc[name] {
			return nil, c.errorf(v.call, "%s(...) must be compared with a number, e.g. %s(...) >= 1", name, name)
		}
		return nil, c.errorf(v.call, "%s(...) is a condition of its own; combine it with &&, || and !", name)
	}
	if v.bad != nil {
		return nil, c.errorf(v.bad, "%s", v.why)
	}
	refs := make([]string, 0, len(v.refs))
	for r := range v.refs {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return refs, nil
}

// refVisitor collects the traits an expression reads, its first call of
// a language function and its first unsupported node.
type refVisitor struct {
	refs map[string]bool
	call *ast.CallNode
	bad  ast.Node
	why  string
}

func (v *refVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if _, ok := traitSpecs[x.Value]; ok {
			v.refs[x.Value] = true
		} else {
			v.reject(x, x.Value+" is a function: call it, e.g. "+x.Value+"(...)")
		}
	case *ast.CallNode:
		if v.call == nil {
			v.call = x
		}
	case *ast.BuiltinNode:
		if !traitBuiltins[x.Name] {
			why := x.Name + "() cannot be used in segment rules"
			if r, ok := refusedBuiltins[x.Name]; ok {
				why += ": it " + r
			}
			v.reject(x, why)
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode,
		*ast.UnaryNode, *ast.BinaryNode, *ast.ArrayNode:
	default:
		v.reject(x, unsupportedNode(x)+" are not supported in segment rules")
	}
}

func (v *refVisitor) reject(n ast.Node, why string) {
	if v.bad == nil {
		v.bad, v.why = n, why
	}
}

// unsupportedNode names a node kind for a marketer.
func unsupportedNode(n ast.Node) string {
	switch n.(type) {
	case *ast.ConditionalNode:
		return "conditional expressions (?:, if/else)"
	case *ast.MemberNode, *ast.ChainNode:
		return "member accesses (a.b, a[0])"
	case *ast.SliceNode:
		return "slices (a[1:2])"
	case *ast.MapNode, *ast.PairNode:
		return "maps outside did(...) and never(...)"
	case *ast.PredicateNode, *ast.PointerNode:
		return "predicates (#, all(), any(), filter())"
	case *ast.VariableDeclaratorNode, *ast.SequenceNode:
		return "variables and sequences"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", n), "*ast.") + " expressions"
}

func calleeName(n *ast.CallNode) string {
	if id, ok := n.Callee.(*ast.IdentifierNode); ok {
		return id.Value
	}
	return n.Callee.String()
}

// isMeasureFunc are the functions that return numbers.
var isMeasureFunc = map[string]bool{
	"did": true, "days_since_first": true, "days_since_last": true, "bought": true,
	"orders": true, "spend": true, "bucket": true,
}
