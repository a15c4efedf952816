package segments

import (
	"strings"

	"github.com/expr-lang/expr/ast"
)

// The language's functions: argument checking and the leaves they become.

// measure is a number per person that a rule compares: a numeric trait
// or a numeric function (did, bought, orders, spend, days_since_*,
// bucket). Values are integers in the measure's unit (fen for money).
type measure interface {
	// scale converts the rule's number to the measure's unit.
	scale() float64
	// between is the plan for "the value is in r".
	between(r intRange) Node
	// known is the plan for "the person has a value".
	known() Node
}

// maxArity is how many arguments each function takes at most: the
// checker types them, but variadic ones need this bound.
var maxArity = map[string]int{
	"tag": 1, "did": 3, "never": 3, "days_since_first": 1, "days_since_last": 1, "bought": 2,
	"lapsed": 2, "orders": 1, "spend": 1, "chat": 2, "did_then": 4, "in_segment": 1, "bucket": 2, "in_list": 2,
}

// boolCall compiles a call to a function that returns a condition.
func (c *compiler) boolCall(call *ast.CallNode) (Node, error) {
	name := calleeName(call)
	desc := call.String()
	if err := c.maxArgs(call, maxArity[name]); err != nil {
		return nil, err
	}
	switch name {
	case "tag":
		tag, err := c.text(call, 0, "the tag")
		if err != nil {
			return nil, err
		}
		c.kinds[KindTags] = true
		return c.gen.tagLeaf(desc, tag), nil
	case "never":
		src, days, err := c.source(call)
		if err != nil {
			return nil, err
		}
		return Not{Child: c.gen.existsLeaf("did"+strings.TrimPrefix(desc, "never")+" >= 1", src, days)}, nil
	case "lapsed":
		return c.lapsed(call)
	case "chat":
		return c.chat(call)
	case "did_then":
		return c.didThen(call)
	case "in_list":
		return c.list(call)
	case "in_segment":
		id, err := c.text(call, 0, "the segment id")
		if err != nil {
			return nil, err
		}
		c.segments[id] = true
		return &segmentLeaf{id: id}, nil
	}
	return nil, c.errorf(call, "%s(...) is not a condition", name)
}

func (c *compiler) lapsed(call *ast.CallNode) (Node, error) {
	item, err := c.text(call, 0, "the category or SKU")
	if err != nil {
		return nil, err
	}
	days, err := c.whole(call, 1, "days", 1, maxDays)
	if err != nil {
		return nil, err
	}
	c.kinds[KindOrders] = true
	return c.gen.lapsedLeaf(call.String(), item, days), nil
}

func (c *compiler) chat(call *ast.CallNode) (Node, error) {
	kw, err := c.text(call, 0, "the keyword")
	if err != nil {
		return nil, err
	}
	days, err := c.days(call, 1)
	if err != nil {
		return nil, err
	}
	c.eventWindow(call, 1, days, "every WeCom message", "WeCom messages")
	c.kinds[KindChats] = true
	return c.gen.chatLeaf(call.String(), kw, days), nil
}

func (c *compiler) didThen(call *ast.CallNode) (Node, error) {
	first, err := c.text(call, 0, "the first event")
	if err != nil {
		return nil, err
	}
	then, err := c.text(call, 1, "the second event")
	if err != nil {
		return nil, err
	}
	if first == then {
		return nil, c.errorf(call.Arguments[1], "did_then: the two events must differ")
	}
	within, err := c.whole(call, 2, "the days between them", 1, maxDays)
	if err != nil {
		return nil, err
	}
	days, err := c.days(call, 3)
	if err != nil {
		return nil, err
	}
	var events []string
	for _, s := range []string{first, then} {
		if s != orderEvent {
			events = append(events, s)
		}
		for _, k := range (source{event: s}).kinds() {
			c.kinds[k] = true
		}
	}
	if len(events) > 0 {
		every, plural := eventsOf(events...)
		c.eventWindow(call, 3, days, every, plural)
	}
	return c.gen.funnelLeaf(call.String(), first, then, within, days), nil
}

// measure compiles the numeric side of a comparison. ok is false when n
// is not a measure.
func (c *compiler) measure(n ast.Node) (measure, bool, error) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if spec, ok := traitSpecs[n.Value]; ok && !spec.categorical {
			c.kinds[KindOrders] = true
			return traitMeasure{name: n.Value, spec: spec}, true, nil
		}
	case *ast.CallNode:
		m, err := c.measureCall(n)
		return m, m != nil || err != nil, err
	}
	return nil, false, nil
}

func (c *compiler) measureCall(call *ast.CallNode) (measure, error) {
	desc := call.String()
	if !isMeasureFunc[calleeName(call)] {
		return nil, nil
	}
	if err := c.maxArgs(call, maxArity[calleeName(call)]); err != nil {
		return nil, err
	}
	switch calleeName(call) {
	case "did":
		src, days, err := c.source(call)
		if err != nil {
			return nil, err
		}
		return countMeasure{unit: 1, leaf: func(r intRange) Node {
			return c.gen.countLeaf(desc+" "+r.String(), src, days, r)
		}}, nil
	case "bought":
		item, err := c.text(call, 0, "the category or SKU")
		if err != nil {
			return nil, err
		}
		days, err := c.days(call, 1)
		if err != nil {
			return nil, err
		}
		c.kinds[KindOrders] = true
		return countMeasure{unit: 1, leaf: func(r intRange) Node {
			return c.gen.boughtLeaf(desc+" "+r.String(), item, days, r)
		}}, nil
	case "orders", "spend":
		return c.orderMeasure(call)
	case "days_since_first", "days_since_last":
		return c.recencyMeasure(call)
	case "bucket":
		return c.bucketMeasure(call)
	}
	return nil, nil
}

func (c *compiler) orderMeasure(call *ast.CallNode) (measure, error) {
	desc := call.String()
	days, err := c.days(call, 0)
	if err != nil {
		return nil, err
	}
	c.kinds[KindOrders] = true
	if calleeName(call) == "orders" {
		return countMeasure{unit: 1, leaf: func(r intRange) Node {
			return c.gen.countLeaf(desc+" "+r.String(), source{event: orderEvent}, days, r)
		}}, nil
	}
	return countMeasure{unit: 100, leaf: func(r intRange) Node {
		return c.gen.spendLeaf(desc+" "+r.String()+" (fen)", days, r)
	}}, nil
}

func (c *compiler) recencyMeasure(call *ast.CallNode) (measure, error) {
	desc := call.String()
	ev, err := c.text(call, 0, "the event name")
	if err != nil {
		return nil, err
	}
	src := source{event: ev}
	for _, k := range src.kinds() {
		c.kinds[k] = true
	}
	agg := "max"
	if calleeName(call) == "days_since_first" {
		agg = "min"
	}
	return recencyMeasure{leaf: func(r intRange) Node {
		days := recencyWindow(agg, r)
		c.recencyBounds(call, ev, agg, r, days)
		return c.gen.recencyLeaf(desc+" "+r.String(), src, agg, days, r)
	}}, nil
}

func (c *compiler) bucketMeasure(call *ast.CallNode) (measure, error) {
	n, err := c.whole(call, 0, "the number of buckets", 1, 1<<20)
	if err != nil {
		return nil, err
	}
	var salt string
	if len(call.Arguments) > 1 {
		if salt, err = c.text(call, 1, "the salt"); err != nil {
			return nil, err
		}
	}
	return bucketMeasure{n: n, salt: salt}, nil
}

// countMeasure is a count (or a sum) of records: every person has one,
// zero when they have no records, so ranges that include zero are
// complements of the leaf above them.
type countMeasure struct {
	unit float64
	leaf func(intRange) Node // r.lo >= 1
}

func (m countMeasure) scale() float64 { return m.unit }
func (m countMeasure) known() Node    { return All{} }

func (m countMeasure) between(r intRange) Node {
	r.lo = max(r.lo, 0)
	switch {
	case r.hi < r.lo:
		return None{}
	case r.lo > 0:
		return m.leaf(r)
	case r.hi == maxInt:
		return All{}
	}
	return Not{Child: m.leaf(intRange{lo: r.hi + 1, hi: maxInt})}
}

// recencyMeasure is whole days since a person's first or last record of
// a kind; persons without such records have no value.
type recencyMeasure struct {
	leaf func(intRange) Node
}

func (m recencyMeasure) scale() float64 { return 1 }
func (m recencyMeasure) known() Node    { return m.leaf(intRange{lo: minInt, hi: maxInt}) }
func (m recencyMeasure) between(r intRange) Node {
	return m.leaf(r)
}

// traitMeasure is a numeric trait, answered by its bit-sliced index.
type traitMeasure struct {
	name string
	spec traitSpec
}

func (m traitMeasure) scale() float64          { return m.spec.scale }
func (m traitMeasure) known() Node             { return &knownLeaf{trait: m.name} }
func (m traitMeasure) between(r intRange) Node { return &rangeLeaf{trait: m.name, r: r} }

// bucketMeasure is bucket(n, salt): a deterministic hash of the person id
// modulo n.
type bucketMeasure struct {
	n    int
	salt string
}

func (m bucketMeasure) scale() float64 { return 1 }
func (m bucketMeasure) known() Node    { return All{} }
func (m bucketMeasure) between(r intRange) Node {
	r.lo, r.hi = max(r.lo, 0), min(r.hi, int64(m.n-1))
	switch {
	case r.hi < r.lo:
		return None{}
	case r.lo == 0 && r.hi == int64(m.n-1):
		return All{}
	}
	return &bucketLeaf{n: m.n, salt: m.salt, r: r}
}

// Argument readers. Each returns a positioned error naming what was
// expected.

func (c *compiler) text(call *ast.CallNode, i int, what string) (string, error) {
	if i >= len(call.Arguments) {
		return "", c.errorf(call, "%s: missing %s", calleeName(call), what)
	}
	s, ok := call.Arguments[i].(*ast.StringNode)
	if !ok || strings.TrimSpace(s.Value) == "" {
		return "", c.errorf(call.Arguments[i], "%s: %s must be a non-empty text in quotes", calleeName(call), what)
	}
	return s.Value, nil
}

// days reads an optional window in days (0 when absent: all time).
func (c *compiler) days(call *ast.CallNode, i int) (int, error) {
	if i >= len(call.Arguments) {
		return 0, nil
	}
	return c.whole(call, i, "days", 1, maxDays)
}

func (c *compiler) whole(call *ast.CallNode, i int, what string, lo, hi int) (int, error) {
	if i >= len(call.Arguments) {
		return 0, c.errorf(call, "%s: missing %s", calleeName(call), what)
	}
	n, ok := call.Arguments[i].(*ast.IntegerNode)
	if !ok || n.Value < lo || n.Value > hi {
		return 0, c.errorf(call.Arguments[i], "%s: %s must be a whole number from %d to %d", calleeName(call), what, lo, hi)
	}
	return n.Value, nil
}

func (c *compiler) maxArgs(call *ast.CallNode, n int) error {
	if len(call.Arguments) > n {
		plural := "s"
		if n == 1 {
			plural = ""
		}
		return c.errorf(call.Arguments[n], "%s takes at most %d argument%s", calleeName(call), n, plural)
	}
	return nil
}

// source reads did/never's arguments: event, optional days, optional
// filters.
func (c *compiler) source(call *ast.CallNode) (source, int, error) {
	ev, err := c.text(call, 0, "the event name")
	if err != nil {
		return source{}, 0, err
	}
	days, err := c.days(call, 1)
	if err != nil {
		return source{}, 0, err
	}
	src := source{event: ev}
	if ev != orderEvent {
		every, plural := eventsOf(ev)
		c.eventWindow(call, 1, days, every, plural)
	}
	if len(call.Arguments) > 2 {
		if src.filters, err = c.filters(call.Arguments[2], ev == orderEvent); err != nil {
			return source{}, 0, err
		}
	}
	for _, k := range src.kinds() {
		c.kinds[k] = true
	}
	return src, days, nil
}

// filters reads a map literal of property filters.
func (c *compiler) filters(n ast.Node, order bool) ([]filter, error) {
	m, ok := n.(*ast.MapNode)
	if !ok {
		return nil, c.errorf(n, `filters must be a map such as {"topic": "控糖"}`)
	}
	var out []filter
	for _, p := range m.Pairs {
		pair := p.(*ast.PairNode)
		k, ok := pair.Key.(*ast.StringNode)
		if !ok || k.Value == "" || len(k.Value) > 64 {
			return nil, c.errorf(pair.Key, "a filter key must be a text of 1 to 64 bytes")
		}
		f, err := c.filterValue(k.Value, pair.Value, order)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (c *compiler) filterValue(key string, v ast.Node, order bool) (filter, error) {
	f := filter{key: key, column: eventColumns[key]}
	if order {
		if f.column = orderColumns[key]; f.column == "" {
			return f, c.errorf(v, "orders can be filtered by channel, city, province, store_id or leader_id, not %q", key)
		}
	}
	if x, ok := number(v); ok && !order && key != "topic" && key != "keyword" && key != "source" {
		f.number, f.atLeast = &x, key == "completion"
		return f, nil
	}
	switch v := v.(type) {
	case *ast.StringNode:
		f.values = []string{v.Value}
	case *ast.ArrayNode:
		for _, el := range v.Nodes {
			s, ok := el.(*ast.StringNode)
			if !ok {
				return f, c.errorf(el, "filter %q: expected a text in quotes", key)
			}
			f.values = append(f.values, s.Value)
		}
		if len(f.values) == 0 {
			return f, c.errorf(v, "filter %q: the list is empty", key)
		}
	default:
		return f, c.errorf(v, "filter %q: expected a text, a list of texts or (for completion) a number", key)
	}
	if key == "completion" {
		return f, c.errorf(v, "filter completion: expected a number from 0 to 1 (the minimum completion ratio)")
	}
	return f, nil
}
