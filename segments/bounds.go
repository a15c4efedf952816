package segments

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Unbounded rules. A rule is refused at check time (a *RuleError at the
// clause, ending with a bounded rewrite after "e.g. ") when one of its clauses would cost a
// scan that grows without bound, whatever the audience:
//
//   - behaviour events without a window: did, never, did_then and
//     days_since_first/days_since_last over an event name (not "order").
//     The events table keeps every view, play, like and search for ever;
//     its sorting key (event, toDate(ts), ts) and monthly partitions
//     bound a read only by time, so "ever" reads the event's whole
//     history. days_since_last(e) compared with an upper bound
//     (<= 30, in 3..7) is bounded: the compiler turns the bound into a
//     window. days_since_first(e) always needs the whole history.
//   - chat without a window: a substring search of every WeCom message
//     ever archived (the table is sorted by msgid; only the window's
//     months can be skipped).
//   - a window over events or chats longer than MaxScanDays.
//   - a trait condition evaluated customer by customer (ltv >= 2 * aov)
//     that nothing narrows: it is narrowed only as a direct operand of an
//     && whose other operands include a condition that selects customers;
//     alone, under !, or inside || it runs over every customer.
//
// Orders, order lines and tags stay bounded for all time: a customer has
// a few orders a year and a few tags, and the trait index already reads
// every order. So bought("低GI大米") >= 1, lapsed, orders(), spend(),
// days_since_last("order") and tag(...) are accepted without a window.

// eventWindow records a clause reading events or chats in a window of
// days (argument daysArg; 0 is all time) when the window is missing or
// too long. every and plural name the records: `every "search" event`,
// `"search" events`.
func (c *compiler) eventWindow(call *ast.CallNode, daysArg int, days int, every, plural string) {
	switch {
	case days == 0:
		c.refuse(call, "%s reads %s ever recorded; add a window in days (at most %d), e.g. %s",
			call.String(), every, MaxScanDays, withArg(call, daysArg, "90"))
	case days > MaxScanDays:
		c.refuse(call.Arguments[daysArg], "%s reads %d days of %s; behaviour events and chats are read at most %d days back, e.g. %s",
			call.String(), days, plural, MaxScanDays, withArg(call, daysArg, strconv.Itoa(MaxScanDays)))
	}
}

// refuse records the first unbounded clause.
func (c *compiler) refuse(n ast.Node, format string, args ...any) {
	c.refused(positioned(c.src, n, format, args...))
}

// refused records a refusal unless one came first.
func (c *compiler) refused(re *RuleError) {
	if c.unbounded == nil {
		c.unbounded = re
	}
}

// eventsOf names the events a clause reads, for messages: `every
// "search" event` and `"search" events`.
func eventsOf(names ...string) (every, plural string) {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	list := strings.Join(q, " and ")
	return "every " + list + " event", list + " events"
}

// withArg renders call with argument i set to (or, when missing, added
// as) arg: the rewrite a message suggests.
func withArg(call *ast.CallNode, i int, arg string) string {
	args := make([]string, 0, len(call.Arguments)+1)
	for _, a := range call.Arguments {
		args = append(args, a.String())
	}
	if i < len(args) {
		args[i] = arg
	} else {
		args = append(args, arg)
	}
	return calleeName(call) + "(" + strings.Join(args, ", ") + ")"
}

// recencyWindow is the window that bounds days_since_last(e) in r: whole
// days since the last record at most r.hi means the last record lies in
// the last r.hi+1 days, so no other rows matter. 0 when r has no upper
// bound.
func recencyWindow(agg string, r intRange) int {
	if agg != "max" || r.hi == maxInt || r.hi >= maxDays {
		return 0
	}
	return int(max(r.hi+1, 1)) // hi < 0: records in the future, all inside a day's window
}

// recencyBounds records days_since_first/last(event) in r when it would
// read the event's whole history.
func (c *compiler) recencyBounds(call *ast.CallNode, ev, agg string, r intRange, days int) {
	if ev == orderEvent {
		return
	}
	clause := call.String()
	if r.lo != minInt || r.hi != maxInt {
		clause += " " + r.String()
	}
	switch {
	case agg == "min":
		c.refuse(call, "%s looks for the first %q event ever recorded, which reads all of them; behaviour events are read within "+
			"a window of at most %d days: count them in one instead, e.g. did(%q, %d) >= 1", call.String(), ev, MaxScanDays, ev, MaxScanDays)
	case days == 0 && r.lo != minInt && r.hi == maxInt && r.lo >= 1 && r.lo <= MaxScanDays:
		c.refuse(call, "%s reads every %q event ever recorded; bound it with windows of at most %d days, e.g. did(%q, %d) >= 1 && never(%q, %d)",
			clause, ev, MaxScanDays, ev, MaxScanDays, ev, r.lo)
	case days == 0:
		c.refuse(call, "%s reads every %q event ever recorded; compare it with an upper bound of at most %d days "+
			"or count in a window instead, e.g. did(%q, %d) >= 1", clause, ev, MaxScanDays-1, ev, MaxScanDays)
	case days > MaxScanDays:
		c.refuse(call, "%s reads %d days of %q events; behaviour events are read at most %d days back, e.g. days_since_last(%q) <= %d",
			clause, days, ev, MaxScanDays, ev, MaxScanDays-1)
	}
}

// unnarrowed returns the refusal of the first per-customer trait
// condition in a simplified plan that nothing narrows (nil when none):
// the evaluator runs such a condition only over what the other operands
// of its && leave, so one that is not a direct operand of an && with a
// set-valued operand runs over every customer.
func unnarrowed(plan Node) *RuleError {
	var found *RuleError
	var walk func(n Node, narrowed bool)
	walk = func(n Node, narrowed bool) {
		if found != nil {
			return
		}
		switch n := n.(type) {
		case *residualLeaf:
			if !narrowed {
				found = n.at
			}
		case And:
			sets := false
			for _, c := range n.Children {
				if _, ok := c.(*residualLeaf); !ok {
					sets = true
				}
			}
			for _, c := range n.Children {
				walk(c, sets)
			}
		case Or:
			for _, c := range n.Children {
				walk(c, false)
			}
		case AndNot:
			walk(n.Left, false)
			walk(n.Right, false)
		case Not:
			walk(n.Child, false)
		}
	}
	walk(plan, false)
	return found
}

// leftmost is the node where an expression's text starts (a binary
// node's own position is its operator's), for pointing at a clause.
func leftmost(n ast.Node) ast.Node {
	for {
		switch x := n.(type) {
		case *ast.BinaryNode:
			n = x.Left
		case *ast.UnaryNode:
			if !isInfixNot(x) {
				return n
			}
			n = x.Node
		default:
			return n
		}
	}
}
