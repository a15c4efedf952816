package imports

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Preset maps one platform export's layout to our fields. Presets are data
// files (presets/<name>.json, embedded at build): adding one is adding a
// file, which TestPresetsAreValid checks and a sample under testdata tests.
type Preset struct {
	Name    string            `json:"name"`
	Title   map[string]string `json:"title"` // by locale: zh-CN, en
	Kind    string            `json:"kind"`  // orders or events
	Channel string            `json:"channel,omitempty"`
	// Event names the event of a row without an event column (events).
	Event string `json:"event,omitempty"`
	// Fields lists, per field, the header names an export may give it, in
	// order of preference: the first present in the header is read, and
	// a later one fills a row whose earlier one is empty.
	Fields map[string][]string `json:"fields"`
	// Latest lists fields that take the latest time of their columns
	// rather than the first non-empty one (status_at: the time of the
	// last status change an export shows).
	Latest []string `json:"latest,omitempty"`
	// Required are the fields a header must give for the preset to apply.
	Required []string `json:"required"`
	// Values maps a field's export values to ours (订单状态 交易成功 to
	// completed); a value not listed is passed on as it is, and refused
	// by the validation naming the field.
	Values map[string]map[string]string `json:"values,omitempty"`
	// Defaults gives fields a value for rows whose columns leave them
	// empty (a POS export's sales are completed orders).
	Defaults map[string]string `json:"defaults,omitempty"`
	// Notes and Sources document the layout: what the export masks and
	// where the header names come from.
	Notes   map[string]string `json:"notes,omitempty"`
	Sources []string          `json:"sources,omitempty"`
}

//go:embed presets/*.json
var presetFiles embed.FS

var presets = mustLoadPresets()

func mustLoadPresets() map[string]*Preset {
	out := map[string]*Preset{}
	entries, err := presetFiles.ReadDir("presets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := presetFiles.ReadFile(path.Join("presets", e.Name()))
		if err != nil {
			panic(err)
		}
		var p Preset
		if err := json.Unmarshal(b, &p); err != nil {
			panic(fmt.Sprintf("imports: preset %s: %v", e.Name(), err))
		}
		if err := p.check(); err != nil {
			panic(fmt.Sprintf("imports: preset %s: %v", e.Name(), err))
		}
		out[p.Name] = &p
	}
	return out
}

// OrderFields are the fields an order import maps columns to. address is
// a whole shipping address, from which province and city are taken.
var OrderFields = []string{"order_id", "channel", "version", "status", "ordered_at", "status_at", "amount", "currency",
	"province", "city", "address", "store_id", "leader_id", "buyer.phone", "buyer.unionid", "buyer.openid",
	"buyer.douyin_openid", "buyer.tmall_ouid", "buyer.member_no", "buyer.wecom_external_userid", "buyer.email", "buyer.user_id",
	"line.sku", "line.product_name", "line.category", "line.quantity", "line.unit_price", "line.amount"}

// EventFields are the fields an event import maps columns to, besides
// properties.<key>, traits.<key> and id.<identifier type>.
var EventFields = []string{"event", "type", "messageId", "userId", "anonymousId", "timestamp",
	"id.douyin_openid", "id.unionid", "id.openid", "id.phone", "id.member_no", "id.tmall_ouid", "id.wecom_external_userid",
	"properties.video_id", "properties.topic", "properties.completion_ratio", "properties.duration_s",
	"properties.keyword", "properties.text", "properties.room_id", "properties.stay_s", "properties.author_id"}

// ValidField tells whether field is one an import of kind can map to.
func ValidField(kind, field string) bool {
	if kind == "events" {
		for _, p := range []string{"properties.", "traits.", "id."} {
			if rest, ok := strings.CutPrefix(field, p); ok && rest != "" {
				return true
			}
		}
		return slices.Contains(EventFields, field)
	}
	return slices.Contains(OrderFields, field)
}

func (p *Preset) check() error {
	if p.Name == "" || p.Kind != "orders" && p.Kind != "events" {
		return fmt.Errorf("needs a name and kind orders or events")
	}
	if p.Title["zh-CN"] == "" || p.Title["en"] == "" {
		return fmt.Errorf("needs a title in zh-CN and en")
	}
	for f, cols := range p.Fields {
		if !ValidField(p.Kind, f) || len(cols) == 0 {
			return fmt.Errorf("field %q is not an %s field or has no columns", f, p.Kind)
		}
	}
	for f := range p.Defaults {
		if !ValidField(p.Kind, f) {
			return fmt.Errorf("default for %q, not an %s field", f, p.Kind)
		}
	}
	for _, f := range append(append([]string{}, p.Required...), p.Latest...) {
		if _, ok := p.Fields[f]; !ok {
			return fmt.Errorf("required or latest field %q has no columns", f)
		}
	}
	if len(p.Required) == 0 {
		return fmt.Errorf("needs required fields")
	}
	return nil
}

// Presets returns every preset, by name.
func Presets() []*Preset {
	out := make([]*Preset, 0, len(presets))
	for _, p := range presets {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the preset called name.
func Lookup(name string) (*Preset, bool) {
	p, ok := presets[name]
	return p, ok
}

// Match is how well a preset fits a header: Score is the share of its
// fields the header gives (0..1); Fits says every required one is there.
type Match struct {
	Preset *Preset
	Score  float64
	Fits   bool
}

// Detect ranks the presets of kind ("" for any) against a header, the
// best first; a preset fits when the header gives its required fields.
func Detect(header []string, kind string) []Match {
	var out []Match
	for _, p := range Presets() {
		if kind != "" && p.Kind != kind {
			continue
		}
		found := 0
		for _, cols := range p.Fields {
			if firstPresent(header, cols) >= 0 {
				found++
			}
		}
		fits := true
		for _, f := range p.Required {
			fits = fits && firstPresent(header, p.Fields[f]) >= 0
		}
		out = append(out, Match{Preset: p, Score: float64(found) / float64(len(p.Fields)), Fits: fits})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Fits != out[j].Fits {
			return out[i].Fits
		}
		return out[i].Score > out[j].Score
	})
	return out
}

func firstPresent(header, names []string) int {
	for _, n := range names {
		for i, h := range header {
			if h == n {
				return i
			}
		}
	}
	return -1
}
