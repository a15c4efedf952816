package analytics

import (
	"fmt"
	"slices"
	"strings"

	"github.com/granarycdp/cdp/schema"
)

// Funnel is a funnel's definition: ordered steps within a conversion
// window, entered by a first step in [From, To].
type Funnel struct {
	// Steps are 2 to MaxSteps actions.
	Steps []Step `json:"steps"`
	// Exclusion, when set, removes persons who did it between their
	// attempt's first step and its last (or, when they did not finish,
	// the end of the window).
	Exclusion *Step `json:"exclusion,omitempty"`
	// WindowHours is the conversion window from the first step (1 hour
	// to 180 days; 168 when 0).
	WindowHours int `json:"window_hours,omitempty"`
	// Order is "ordered" (the default: steps in order, other actions
	// between allowed; windowFunnel), "strict" (no other action of the
	// funnel between two steps; windowFunnel 'strict_order') or "any"
	// (the steps in any order within the window).
	Order string `json:"order,omitempty"`
	// From and To are Beijing days (YYYY-MM-DD, inclusive) in which the
	// first step must happen; To defaults to today, From to 30 days
	// before To.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Breakdown splits the funnel by a property of the person: channel
	// (the source or order channel of their first step), city or
	// city_tier (of their latest valid order naming a city), state (the
	// WeCom State tag they were acquired through) or segment (Segments).
	Breakdown string   `json:"breakdown,omitempty"`
	Segments  []string `json:"segments,omitempty"`
}

// Step is one action of a funnel: an event, a valid order or a WeCom
// action, with filters that must all hold.
type Step struct {
	// Kind is event, order or wecom.
	Kind string `json:"kind"`
	// Name is the event name (event), the WeCom change type
	// (add_external_contact, del_follow_user, ...) or chat (wecom);
	// ignored for orders. Empty: any of the kind.
	Name    string   `json:"name,omitempty"`
	Filters []Filter `json:"filters,omitempty"`
	// Label names the step in results (default: kind and name).
	Label string `json:"label,omitempty"`
}

// Filter is a condition on a field of a step's action. Fields: events
// source, topic, keyword, completion, property.<key> (a key of the
// event's properties); orders channel, city, province, amount, category,
// sku (of any line); wecom state, staff, keyword (a chat's text).
type Filter struct {
	Field string `json:"field"`
	// Op is in, not_in, contains (any of Values, case-insensitive), gte
	// or lte (one number).
	Op     string   `json:"op"`
	Values []string `json:"values"`
}

// Funnel limits.
const (
	MaxSteps         = 8
	MaxFilters       = 8
	MaxValues        = 100
	MaxSegments      = 10
	MaxWindowHours   = 180 * 24
	defaultWindowHrs = 7 * 24
)

// Funnel orders and breakdowns.
const (
	OrderOrdered = "ordered"
	OrderStrict  = "strict"
	OrderAny     = "any"
)

var breakdowns = []string{"", "channel", "city", "city_tier", "state", "segment"}

// lineFields are order fields read from the order's lines.
var lineFields = map[string]string{"category": "oc.categories", "sku": "oc.skus"}

var numericFields = map[string]bool{"completion": true, "amount": true}

// normalize fills defaults and checks the definition.
func (f *Funnel) normalize() error {
	if len(f.Steps) < 2 || len(f.Steps) > MaxSteps {
		return invalid("steps", "a funnel has 2 to %d steps, not %d", MaxSteps, len(f.Steps))
	}
	for i := range f.Steps {
		if err := f.Steps[i].normalize(fmt.Sprintf("steps[%d]", i)); err != nil {
			return err
		}
	}
	if f.Exclusion != nil {
		if err := f.Exclusion.normalize("exclusion"); err != nil {
			return err
		}
	}
	if f.WindowHours == 0 {
		f.WindowHours = defaultWindowHrs
	}
	if f.WindowHours < 1 || f.WindowHours > MaxWindowHours {
		return invalid("window_hours", "1 to %d hours, not %d", MaxWindowHours, f.WindowHours)
	}
	if f.Order == "" {
		f.Order = OrderOrdered
	}
	if !slices.Contains([]string{OrderOrdered, OrderStrict, OrderAny}, f.Order) {
		return invalid("order", "ordered, strict or any, not %q", f.Order)
	}
	if !slices.Contains(breakdowns, f.Breakdown) {
		return invalid("breakdown", "channel, city, city_tier, state or segment, not %q", f.Breakdown)
	}
	if f.Breakdown == "segment" {
		if len(f.Segments) == 0 || len(f.Segments) > MaxSegments {
			return invalid("segments", "a breakdown by segment names 1 to %d segments", MaxSegments)
		}
	} else if len(f.Segments) > 0 {
		return invalid("segments", "segments are for breakdown \"segment\"")
	}
	return nil
}

func (s *Step) normalize(at string) error {
	kinds := sourcesOf(s.Kind)
	if len(kinds) == 0 {
		return invalid(at+".kind", "event, order or wecom, not %q", s.Kind)
	}
	if s.Kind == "order" {
		s.Name = ""
	}
	if s.Name != "" && !namePattern.MatchString(s.Name) {
		return invalid(at+".name", "a name of letters, digits and _.:- up to 64 characters, not %q", s.Name)
	}
	if s.Label == "" {
		s.Label = strings.TrimSpace(s.Kind + " " + s.Name)
	}
	if len(s.Filters) > MaxFilters {
		return invalid(at+".filters", "at most %d filters", MaxFilters)
	}
	for j, fl := range s.Filters {
		if err := fl.check(s.Kind, fmt.Sprintf("%s.filters[%d]", at, j)); err != nil {
			return err
		}
	}
	return nil
}

func (fl Filter) check(kind, at string) error {
	if _, ok := fieldExpr(kind, sourcesOf(kind)[0], fl.Field); !ok && !anySource(kind, fl.Field) {
		return invalid(at+".field", "%s actions have no field %q", kind, fl.Field)
	}
	if len(fl.Values) == 0 || len(fl.Values) > MaxValues {
		return invalid(at+".values", "1 to %d values", MaxValues)
	}
	switch fl.Op {
	case "in", "not_in", "contains":
	case "gte", "lte":
		if len(fl.Values) != 1 {
			return invalid(at+".values", "%s takes one number", fl.Op)
		}
		var x float64
		if _, err := fmt.Sscanf(fl.Values[0], "%g", &x); err != nil {
			return invalid(at+".values", "%s takes a number, not %q", fl.Op, fl.Values[0])
		}
	default:
		return invalid(at+".op", "in, not_in, contains, gte or lte, not %q", fl.Op)
	}
	return nil
}

// sourcesOf are the action sources of a kind.
func sourcesOf(kind string) []schema.ActionSource {
	var out []schema.ActionSource
	for _, src := range schema.ActionSources(func(n string) string { return n }) {
		if src.Kind == kind {
			out = append(out, src)
		}
	}
	return out
}

func anySource(kind, field string) bool {
	for _, src := range sourcesOf(kind) {
		if _, ok := fieldExpr(kind, src, field); ok {
			return true
		}
	}
	return false
}

// fieldExpr is the SQL of a field of a source's rows (alias a, order
// lines oc), or false when the source has no such field.
func fieldExpr(kind string, src schema.ActionSource, field string) (string, bool) {
	if e, ok := src.Fields[field]; ok {
		return e, true
	}
	if kind == "order" {
		if e, ok := lineFields[field]; ok {
			return e, true
		}
	}
	if key, ok := strings.CutPrefix(field, "property."); ok && kind == "event" && propertyKey.MatchString(key) {
		return "JSONExtractString(a.properties, '" + key + "')", true
	}
	return "", false
}

// Describe says in words which people of a funnel a list holds: the
// steps with their filters, the range and window, the step and outcome
// (and breakdown value). Saved lists carry it (segments' in_list), so
// that the sensitivity check sees every term the people were selected by.
func Describe(f Funnel, step int, outcome string, value *string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "funnel %s..%s, window %dh, order %s:", f.From, f.To, f.WindowHours, f.Order)
	for i, st := range f.Steps {
		fmt.Fprintf(&b, " %d. %s", i+1, describeStep(st))
	}
	if f.Exclusion != nil {
		b.WriteString("; excluding " + describeStep(*f.Exclusion))
	}
	fmt.Fprintf(&b, "; %s at step %d", outcome, step)
	if value != nil {
		fmt.Fprintf(&b, "; %s = %s", f.Breakdown, *value)
	}
	return b.String()
}

func describeStep(st Step) string {
	out := strings.TrimSpace(st.Kind + " " + st.Name)
	for _, fl := range st.Filters {
		out += fmt.Sprintf(" [%s %s %s]", fl.Field, fl.Op, strings.Join(fl.Values, ", "))
	}
	return out
}
