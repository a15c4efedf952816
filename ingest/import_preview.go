package ingest

import (
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/granarycdp/cdp/ingest/imports"
)

// Preview is what an import of a file would do with its first rows,
// written nowhere: what was detected, how each column maps, and each row
// as it would be stored or the reason it would be refused.
type Preview struct {
	Format   string `json:"format"`
	Encoding string `json:"encoding,omitempty"`
	BOM      bool   `json:"bom"`
	Gzip     bool   `json:"gzip"`
	// Preset is the preset applied ("" for none); Presets ranks all of
	// the kind's against the header.
	Preset  string           `json:"preset"`
	Presets []PresetMatch    `json:"presets"`
	Columns []imports.Column `json:"columns"`
	// Fields are the fields a column of this kind may map to.
	Fields []string     `json:"fields"`
	Rows   []PreviewRow `json:"rows"`
	// PhonesDropped counts masked or virtual phones among the rows.
	PhonesDropped int `json:"phones_dropped"`
}

// PresetMatch is how well a preset fits the file's header.
type PresetMatch struct {
	Name  string            `json:"name"`
	Title map[string]string `json:"title"`
	Score float64           `json:"score"`
	Fits  bool              `json:"fits"`
	Notes map[string]string `json:"notes,omitempty"`
}

// PreviewRow is one record of the preview: Record is the event or order
// as it would be stored (identifiers as keyed hashes, mobile numbers as
// tokens), or Problem why it would be refused.
type PreviewRow struct {
	Line    int             `json:"line"`
	Record  json.RawMessage `json:"record,omitempty"`
	Problem *Problem        `json:"problem,omitempty"`
	Text    string          `json:"text,omitempty"`
}

// MaxPreviewRows bounds a preview.
const MaxPreviewRows = 200

// Preview reads the first n records (at most MaxPreviewRows) of a file as
// Import would, and returns them mapped and validated without writing
// anything: no spool, no dead letter, no deduplication key. It reads no
// further than those records (and, for a workbook, the file).
func (c *Collector) Preview(ctx context.Context, source string, spec ImportSpec, r io.Reader, n int) (*Preview, error) {
	n = max(1, min(n, MaxPreviewRows))
	src, err := c.openImport(spec, r)
	if err != nil {
		return nil, err
	}
	defer src.close()
	pv := &Preview{Format: src.input.Format, Encoding: src.input.Encoding, BOM: src.input.BOM, Gzip: src.input.Gzip,
		Presets: []PresetMatch{}, Columns: []imports.Column{}, Fields: []string{}, Rows: []PreviewRow{}}
	if src.plan != nil {
		pv.fromPlan(src.plan, src.table.Header())
	}
	parser := &trackSpecParser{source: source, receivedAt: c.now().UTC(), protector: c.prot}
	for len(pv.Rows) < n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		pv.Rows = append(pv.Rows, c.previewRow(parser, spec.Kind, source, row))
	}
	pv.PhonesDropped = src.dropped()
	return pv, nil
}

// fromPlan fills in the mapping and the presets' fit.
func (pv *Preview) fromPlan(plan *imports.Plan, header []string) {
	pv.Columns = plan.Columns()
	if plan.Preset != nil {
		pv.Preset = plan.Preset.Name
	}
	pv.Fields = imports.OrderFields
	if plan.Kind == "events" {
		pv.Fields = imports.EventFields
	}
	for _, m := range imports.Detect(header, plan.Kind) {
		pv.Presets = append(pv.Presets, PresetMatch{Name: m.Preset.Name, Title: m.Preset.Title, Score: m.Score, Fits: m.Fits, Notes: m.Preset.Notes})
	}
}

// previewRow validates a row as Import would and shows the stored form.
func (c *Collector) previewRow(parser *trackSpecParser, kind, source string, row importRow) PreviewRow {
	it := c.importItem(parser, kind, source, row)
	out := PreviewRow{Line: row.line}
	if it.problem != nil {
		m := it.problem.Masked()
		out.Problem = &m
		text := row.text
		if text == "" {
			text = string(row.raw)
		}
		if len(text) > maxReportText {
			text = strings.ToValidUTF8(text[:maxReportText], "")
		}
		out.Text = c.prot.ScrubPayload(text)
		return out
	}
	var v any = it.rec.Event
	if it.rec.Kind == KindOrder {
		v = it.rec.Order
	}
	out.Record, _ = json.Marshal(v)
	return out
}
