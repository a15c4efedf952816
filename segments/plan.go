package segments

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Node is a node of a plan: And, Or, AndNot, Not, All, None or a Leaf.
// Plans are immutable.
type Node interface {
	String() string
}

// Leaf is a set of persons the engine computes: behaviour from ClickHouse,
// traits from the trait snapshot, another segment, a random bucket.
type Leaf interface {
	Node
	// Kinds are the record kinds the leaf reads.
	Kinds() []string
}

// And is the intersection of its children.
type And struct{ Children []Node }

// Or is the union of its children.
type Or struct{ Children []Node }

// AndNot is Left minus Right.
type AndNot struct{ Left, Right Node }

// Not is every person (the universe of canonical persons) minus Child.
type Not struct{ Child Node }

// All is every person.
type All struct{}

// None is nobody.
type None struct{}

func (n And) String() string    { return "(" + join(n.Children, " AND ") + ")" }
func (n Or) String() string     { return "(" + join(n.Children, " OR ") + ")" }
func (n AndNot) String() string { return "(" + n.Left.String() + " AND NOT " + n.Right.String() + ")" }
func (n Not) String() string    { return "NOT " + n.Child.String() }
func (All) String() string      { return "ALL" }
func (None) String() string     { return "NONE" }

func join(ns []Node, sep string) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.String()
	}
	return strings.Join(parts, sep)
}

// Walk calls fn for n and every node below it, parents first.
func Walk(n Node, fn func(Node)) {
	fn(n)
	switch n := n.(type) {
	case And:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case Or:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case AndNot:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case Not:
		Walk(n.Child, fn)
	}
}

// simplify flattens nested And and Or, folds All and None, removes double
// negations and turns the negated children of an And into one AndNot:
// And(a, b, Not c, Not d) = AndNot(And(a, b), Or(c, d)).
func simplify(n Node) Node {
	switch n := n.(type) {
	case And:
		return simplifyAnd(n.Children)
	case Or:
		return simplifyOr(n.Children)
	case Not:
		switch c := simplify(n.Child).(type) {
		case Not:
			return c.Child
		case All:
			return None{}
		case None:
			return All{}
		default:
			return Not{Child: c}
		}
	case AndNot:
		return simplifyAnd([]Node{n.Left, Not{Child: n.Right}})
	}
	return n
}

func simplifyAnd(children []Node) Node {
	var pos, neg []Node
	var add func(Node) bool
	add = func(c Node) bool {
		switch c := c.(type) {
		case None:
			return false
		case All:
		case And:
			for _, x := range c.Children {
				add(x)
			}
		case Not:
			neg = append(neg, c.Child)
		case AndNot:
			add(c.Left)
			neg = append(neg, c.Right)
		default:
			pos = append(pos, c)
		}
		return true
	}
	for _, c := range children {
		if !add(simplify(c)) {
			return None{}
		}
	}
	left := build(pos, func(ns []Node) Node { return And{Children: ns} }, All{})
	if len(neg) == 0 {
		return left
	}
	right := simplifyOr(neg)
	switch right.(type) {
	case None:
		return left
	case All:
		return None{}
	}
	if _, ok := left.(All); ok {
		return Not{Child: right}
	}
	return AndNot{Left: left, Right: right}
}

func simplifyOr(children []Node) Node {
	var out []Node
	for _, c := range children {
		switch c := simplify(c).(type) {
		case All:
			return All{}
		case None:
		case Or:
			out = append(out, c.Children...)
		default:
			out = append(out, c)
		}
	}
	return build(out, func(ns []Node) Node { return Or{Children: ns} }, None{})
}

func build(ns []Node, many func([]Node) Node, empty Node) Node {
	switch len(ns) {
	case 0:
		return empty
	case 1:
		return ns[0]
	}
	return many(ns)
}

// evaluator evaluates one plan. Bitmaps it gets from leaves are shared
// and frozen; it only mutates bitmaps it made itself ("owned").
type evaluator struct {
	ctx    context.Context
	e      *Engine
	now    time.Time
	stale  time.Duration // leaves this much out of date will do (estimates)
	traits *traitSnapshot
	sql    map[string]*roaring.Bitmap // by leaf key, prefetched
}

// evaluable is implemented by every leaf.
type evaluable interface {
	eval(ev *evaluator) (bm *roaring.Bitmap, owned bool, err error)
}

// eval returns n's members and whether the caller may mutate the bitmap.
func (ev *evaluator) eval(n Node) (*roaring.Bitmap, bool, error) {
	if err := ev.ctx.Err(); err != nil {
		return nil, false, err
	}
	switch n := n.(type) {
	case All:
		return ev.traits.universe, false, nil
	case None:
		return roaring.New(), true, nil
	case And:
		return ev.and(n.Children)
	case Or:
		return ev.or(n.Children)
	case AndNot:
		return ev.andNot(n.Left, n.Right)
	case Not:
		return ev.andNot(All{}, n.Child)
	case evaluable:
		return n.eval(ev)
	}
	panic("BUG: unknown plan node " + n.String())
}

// and intersects the children, smallest first; atoms evaluated per
// candidate run last, over what the others leave.
func (ev *evaluator) and(children []Node) (*roaring.Bitmap, bool, error) {
	var bms []*roaring.Bitmap
	var residual []*residualLeaf
	for _, c := range children {
		if r, ok := c.(*residualLeaf); ok {
			residual = append(residual, r)
			continue
		}
		bm, _, err := ev.eval(c)
		if err != nil {
			return nil, false, err
		}
		bms = append(bms, bm)
	}
	acc, owned := ev.traits.universe, false
	switch len(bms) {
	case 0:
	case 1:
		acc = bms[0]
	default:
		sort.Slice(bms, func(i, j int) bool { return bms[i].GetCardinality() < bms[j].GetCardinality() })
		acc, owned = roaring.FastAnd(bms...), true
	}
	for _, r := range residual {
		bm, err := r.within(ev, acc)
		if err != nil {
			return nil, false, err
		}
		acc, owned = bm, true
	}
	return acc, owned, nil
}

func (ev *evaluator) or(children []Node) (*roaring.Bitmap, bool, error) {
	bms := make([]*roaring.Bitmap, 0, len(children))
	for _, c := range children {
		bm, owned, err := ev.eval(c)
		if err != nil {
			return nil, false, err
		}
		if len(children) == 1 {
			return bm, owned, nil
		}
		bms = append(bms, bm)
	}
	return roaring.FastOr(bms...), true, nil
}

func (ev *evaluator) andNot(left, right Node) (*roaring.Bitmap, bool, error) {
	l, owned, err := ev.eval(left)
	if err != nil {
		return nil, false, err
	}
	if l.IsEmpty() {
		return l, owned, nil
	}
	r, _, err := ev.eval(right)
	if err != nil {
		return nil, false, err
	}
	if owned {
		l.AndNot(r)
		return l, true, nil
	}
	return roaring.AndNot(l, r), true, nil
}
