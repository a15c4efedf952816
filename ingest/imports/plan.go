package imports

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Plan is how the rows of one table become fields: for each field, the
// columns it is read from in order of preference, and the value rules of
// the preset, if any.
type Plan struct {
	Kind   string
	Preset *Preset // nil for a mapping alone
	header []string
	fields map[string][]int
	latest map[string]bool
	// props: unmapped columns of an event file without a preset become
	// properties under their own name.
	props bool
}

// Column is one header column and the field it feeds; Fallback marks a
// column read only when the field's first column is empty in a row.
type Column struct {
	Name     string `json:"name"`
	Field    string `json:"field"`
	Fallback bool   `json:"fallback,omitempty"`
}

// NewPlan maps a header for an import of kind. The preset (nil for none)
// gives each field the first of its columns the header has, then the
// others as fallbacks; mapping (column to field, "" to ignore the column)
// overrides it: a field mapped there is read from the mapped columns only,
// and a mapped column feeds nothing else. A mapping naming a column the
// header lacks, or a field kind has not, is an *Error naming it.
func NewPlan(kind string, header []string, p *Preset, mapping map[string]string) (*Plan, error) {
	if p != nil && p.Kind != kind {
		return nil, fail("preset", "preset %s imports %s, not %s", p.Name, p.Kind, kind)
	}
	pl := &Plan{Kind: kind, Preset: p, header: header, fields: map[string][]int{}, latest: map[string]bool{}, props: kind == "events" && p == nil}
	if p != nil {
		for f, names := range p.Fields {
			for _, n := range names {
				if i := slices.Index(header, n); i >= 0 && !slices.Contains(pl.fields[f], i) {
					pl.fields[f] = append(pl.fields[f], i)
				}
			}
		}
		for _, f := range p.Latest {
			pl.latest[f] = true
		}
	}
	return pl, pl.override(mapping)
}

func (pl *Plan) override(mapping map[string]string) error {
	mapped := map[string][]int{}
	for col, f := range mapping {
		i := slices.Index(pl.header, col)
		if i < 0 {
			return fail("mapping."+col, "no such column in the header (%s)", strings.Join(pl.header, ", "))
		}
		if f != "" && !ValidField(pl.Kind, f) {
			return fail("mapping."+col, "%q is not a field of %s imports", f, pl.Kind)
		}
		for g, cols := range pl.fields {
			pl.fields[g] = slices.DeleteFunc(cols, func(c int) bool { return c == i })
		}
		if f != "" {
			mapped[f] = append(mapped[f], i)
		}
	}
	for f, cols := range mapped {
		slices.Sort(cols)
		pl.fields[f] = cols
	}
	for f, cols := range pl.fields {
		if len(cols) == 0 {
			delete(pl.fields, f)
		}
	}
	if pl.Preset != nil {
		for _, f := range pl.Preset.Required {
			if len(pl.fields[f]) == 0 {
				return fail("preset", "preset %s needs a column for %s (one of %s); the header has none", pl.Preset.Name, f, strings.Join(pl.Preset.Fields[f], ", "))
			}
		}
	}
	return nil
}

// Columns lists the header with the field each column feeds.
func (pl *Plan) Columns() []Column {
	out := make([]Column, len(pl.header))
	for i, h := range pl.header {
		out[i].Name = h
		if pl.props && h != "" {
			out[i].Field = "properties." + h
		}
	}
	for f, cols := range pl.fields {
		for k, i := range cols {
			cur := out[i]
			if cur.Field == "" || pl.props && cur.Field == "properties."+cur.Name || cur.Fallback && k == 0 {
				out[i].Field, out[i].Fallback = f, k > 0
			}
		}
	}
	return out
}

// Has tells whether some column feeds field.
func (pl *Plan) Has(field string) bool { return len(pl.fields[field]) > 0 }

// Row maps one row's cells to fields, cleaned as exports need: ="…" and
// apostrophes removed, export values mapped (订单状态), times to ISO-8601
// (Beijing time when the export gives no zone), amounts without ¥ and
// thousands separators, province and city from a whole address, a line's
// unit price from its amount and quantity when the export has no price,
// and an events row's messageId, when no column gives one, from its
// content, so that importing a file again stores nothing twice. A masked
// or virtual buyer phone is dropped (never an identifier); dropped lists
// the fields dropped.
func (pl *Plan) Row(cells []string) (fields map[string]string, dropped []string) {
	fields = map[string]string{}
	for f, cols := range pl.fields {
		if v := pl.value(f, cols, cells); v != "" {
			fields[f] = v
		}
	}
	if pl.props {
		for i, h := range pl.header {
			if v := CleanCell(cells[i]); h != "" && v != "" && !pl.feeds(i) {
				fields["properties."+h] = v
			}
		}
	}
	for _, f := range []string{"buyer.phone", "buyer.mobile", "id.phone", "traits.phone"} {
		if v, ok := fields[f]; ok && PhoneUnusable(v) {
			delete(fields, f)
			dropped = append(dropped, f)
		}
	}
	pl.derive(fields, cells)
	return fields, dropped
}

func (pl *Plan) feeds(i int) bool {
	for _, cols := range pl.fields {
		if slices.Contains(cols, i) {
			return true
		}
	}
	return false
}

// value is a field's value in a row: the first non-empty of its columns
// (the latest time for a Latest field), normalised.
func (pl *Plan) value(f string, cols []int, cells []string) string {
	var best time.Time
	v := ""
	for _, i := range cols {
		c := CleanCell(cells[i])
		if c == "" {
			continue
		}
		if !pl.latest[f] {
			v = c
			break
		}
		if t, ok := ParseTime(c); ok && t.After(best) {
			best, v = t, c
		} else if v == "" && !ok {
			v = c
		}
	}
	if v == "" {
		return ""
	}
	if pl.Preset != nil {
		if m, ok := pl.Preset.Values[f][v]; ok {
			v = m
		}
	}
	return normalise(f, v)
}

// normalise writes times as ISO-8601 and amounts as plain decimals; a
// value it cannot read is left as it is, for the validation to refuse
// naming the field.
func normalise(f, v string) string {
	switch f {
	case "ordered_at", "status_at", "timestamp":
		if t, ok := ParseTime(v); ok {
			return t.Format(time.RFC3339Nano)
		}
	case "properties.completion_ratio":
		if p, ok := strings.CutSuffix(v, "%"); ok {
			if d, err := decimal.NewFromString(strings.TrimSpace(p)); err == nil {
				return d.Div(decimal.NewFromInt(100)).String()
			}
		}
	case "amount", "line.amount", "line.unit_price", "line.quantity":
		if a, ok := ParseAmount(v); ok {
			return a
		}
	}
	return v
}

// derive fills what a row implies: the channel of the preset, province
// and city from an address, a unit price, an event's messageId.
func (pl *Plan) derive(fields map[string]string, cells []string) {
	if pl.Preset != nil {
		for f, v := range pl.Preset.Defaults {
			if fields[f] == "" {
				fields[f] = v
			}
		}
	}
	if pl.Preset != nil && pl.Preset.Channel != "" && fields["channel"] == "" {
		fields["channel"] = pl.Preset.Channel
	}
	if pl.Preset != nil && pl.Preset.Event != "" && fields["event"] == "" {
		fields["event"] = pl.Preset.Event
	}
	if a, ok := fields["address"]; ok {
		delete(fields, "address")
		p, c := SplitAddress(a)
		if fields["province"] == "" && p != "" {
			fields["province"] = p
		}
		if fields["city"] == "" && c != "" {
			fields["city"] = c
		}
	}
	if _, ok := fields["line.unit_price"]; !ok {
		amt, err1 := decimal.NewFromString(fields["line.amount"])
		qty, err2 := decimal.NewFromString(fields["line.quantity"])
		if err1 == nil && err2 == nil && qty.IsPositive() {
			fields["line.unit_price"] = amt.DivRound(qty, 2).String()
		}
	}
	if pl.Kind == "events" && fields["messageId"] == "" {
		h := sha256.Sum256([]byte(strings.Join(cells, "\x1f")))
		fields["messageId"] = "row-" + hex.EncodeToString(h[:16])
	}
}
