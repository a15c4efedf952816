package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/granarycdp/cdp/ingest/imports"
)

// importRow is one record of an imported file as JSON (an event, or an
// order made of its rows), or the problem reading it.
type importRow struct {
	raw  []byte
	line int // of its first row
	prob *Problem
	text string // the rows as the file had them (tables only)
}

// importSource yields the rows of an opened file.
type importSource struct {
	next    func() (importRow, error)
	close   func()
	dropped func() int
	// For previews: what was read.
	input *imports.Input
	plan  *imports.Plan
	table imports.Table
}

// openImport opens a file for spec: undoes gzip and the encoding, then
// reads JSON lines or a table through its plan. Problems with the file as
// a whole are *Problem naming the field.
func (c *Collector) openImport(spec ImportSpec, r io.Reader) (*importSource, error) {
	if spec.Kind != "events" && spec.Kind != "orders" {
		return nil, invalid("kind", "must be events or orders")
	}
	in, err := imports.Open(r, spec.Format, spec.Encoding)
	if err != nil {
		return nil, fileProblem(err)
	}
	src := &importSource{input: in, close: func() {}, dropped: func() int { return 0 }}
	if in.Format == "jsonl" {
		if spec.Preset != "" && spec.Preset != "auto" || len(spec.Mapping) > 0 {
			return nil, invalid("format", "a preset or mapping applies to CSV and .xlsx files; this file is JSON lines")
		}
		next := jsonLines(in.R)
		src.next = func() (importRow, error) {
			raw, line, prob, err := next()
			return importRow{raw: raw, line: line, prob: prob}, err
		}
		return src, nil
	}
	return src, src.openTable(spec)
}

// openTable reads the header of a CSV file or workbook and plans its
// mapping.
func (src *importSource) openTable(spec ImportSpec) error {
	var t imports.Table
	var err error
	if src.input.Format == "xlsx" {
		t, err = imports.OpenXLSX(src.input.R, spec.Sheet, spec.TempDir)
	} else {
		t, err = imports.OpenCSV(src.input.R)
	}
	if err != nil {
		return fileProblem(err)
	}
	preset, err := pickPreset(spec, t.Header())
	if err == nil {
		src.plan, err = imports.NewPlan(spec.Kind, t.Header(), preset, spec.Mapping)
	}
	if err != nil {
		t.Close()
		return fileProblem(err)
	}
	src.table = t
	fr := &fieldReader{t: t, plan: src.plan}
	src.close = func() { _ = t.Close() }
	src.dropped = func() int { return fr.dropped }
	if spec.Kind == "events" {
		src.next = tableEvents(fr, spec.Event)
	} else {
		src.next = tableOrders(fr)
	}
	return nil
}

// pickPreset returns spec's preset, the best fitting one for "auto"
// (none when none fits), or nil.
func pickPreset(spec ImportSpec, header []string) (*imports.Preset, error) {
	switch spec.Preset {
	case "":
		return nil, nil
	case "auto":
		if m := imports.Detect(header, spec.Kind); len(m) > 0 && m[0].Fits {
			return m[0].Preset, nil
		}
		return nil, nil
	}
	p, ok := imports.Lookup(spec.Preset)
	if !ok {
		var names []string
		for _, p := range imports.Presets() {
			names = append(names, p.Name)
		}
		return nil, &imports.Error{Field: "preset", Message: fmt.Sprintf("no preset %q (presets: %s)", spec.Preset, strings.Join(names, ", "))}
	}
	return p, nil
}

// fileProblem turns a file-level error of package imports into a Problem.
func fileProblem(err error) error {
	var fe *imports.Error
	if errors.As(err, &fe) {
		code := "invalid"
		if fe.Field == "encoding" || fe.Field == "format" {
			code = "unsupported_file"
		}
		return &Problem{Code: code, Field: fe.Field, Message: fe.Message}
	}
	return err
}

// fieldReader reads a table's rows as fields through a plan.
type fieldReader struct {
	t       imports.Table
	plan    *imports.Plan
	dropped int
}

// read returns the next row's fields, its line and text, a problem for a
// row that cannot be read, or io.EOF.
func (fr *fieldReader) read() (map[string]string, int, string, *Problem, error) {
	cells, line, err := fr.t.Next()
	var re *imports.RowError
	switch {
	case errors.As(err, &re):
		return nil, re.Line, re.Raw, &Problem{Code: re.Code, Field: re.Column, Message: re.Message}, nil
	case err != nil:
		return nil, line, "", nil, err
	}
	fields, dropped := fr.plan.Row(cells)
	fr.dropped += len(dropped)
	return fields, line, rowText(cells), nil, nil
}

// rowText writes a row as a CSV line, for reports and dead letters.
func rowText(cells []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(cells)
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// tableEvents yields each row as a JSON tracking-spec message.
func tableEvents(fr *fieldReader, defaultEvent string) func() (importRow, error) {
	return func() (importRow, error) {
		f, line, text, prob, err := fr.read()
		if err != nil || prob != nil {
			return importRow{line: line, prob: prob, text: text}, err
		}
		b, err := json.Marshal(eventFromCSV(f, defaultEvent))
		return importRow{raw: b, line: line, text: text}, err
	}
}

// tableOrders yields each run of consecutive rows of one order (same
// channel and order_id) as a JSON order with a line per row, numbered by
// its first row.
func tableOrders(fr *fieldReader) func() (importRow, error) {
	var pending map[string]string
	var pendingProb *Problem
	pendingLine, pendingText := 0, ""
	return func() (importRow, error) {
		if pendingProb != nil {
			row := importRow{line: pendingLine, prob: pendingProb, text: pendingText}
			pendingProb = nil
			return row, nil
		}
		var order *tableOrder
		first, texts := 0, []string{}
		emit := func() (importRow, error) {
			b, err := json.Marshal(order)
			return importRow{raw: b, line: first, text: strings.Join(texts, "\n")}, err
		}
		for {
			f, line, text, prob, err := pending, pendingLine, pendingText, (*Problem)(nil), error(nil)
			if f == nil {
				f, line, text, prob, err = fr.read()
			}
			pending = nil
			if prob != nil && order != nil {
				// The order read so far goes first; the bad row next.
				pendingProb, pendingLine, pendingText = prob, line, text
				return emit()
			}
			if prob != nil {
				return importRow{line: line, prob: prob, text: text}, nil
			}
			if err == io.EOF && order != nil {
				return emit()
			}
			if err != nil {
				return importRow{line: line}, err
			}
			if order != nil && (f["order_id"] != order.OrderID || f["channel"] != order.Channel) {
				pending, pendingLine, pendingText = f, line, text
				return emit()
			}
			if order == nil {
				order, first = orderFromFields(f), line
			}
			texts = append(texts, text)
			if l, ok := lineFromFields(f); ok {
				order.Lines = append(order.Lines, l)
			}
		}
	}
}

// tableOrder is an order read from a table's rows, written as the JSON
// the order parser reads. A struct rather than a map: encoding a map
// sorts its keys and reflects on every value, which took a quarter of a
// CSV import's CPU.
type tableOrder struct {
	Channel   string            `json:"channel,omitempty"`
	OrderID   string            `json:"order_id,omitempty"`
	Version   json.RawMessage   `json:"version,omitempty"`
	Status    string            `json:"status,omitempty"`
	OrderedAt string            `json:"ordered_at,omitempty"`
	StatusAt  string            `json:"status_at,omitempty"`
	Amount    string            `json:"amount,omitempty"`
	Currency  string            `json:"currency,omitempty"`
	Province  string            `json:"province,omitempty"`
	City      string            `json:"city,omitempty"`
	StoreID   string            `json:"store_id,omitempty"`
	LeaderID  string            `json:"leader_id,omitempty"`
	Buyer     map[string]string `json:"buyer,omitempty"`
	Lines     []tableLine       `json:"lines"`
}

type tableLine struct {
	SKU         string `json:"sku,omitempty"`
	ProductName string `json:"product_name,omitempty"`
	Category    string `json:"category,omitempty"`
	Quantity    string `json:"quantity,omitempty"`
	UnitPrice   string `json:"unit_price,omitempty"`
	Amount      string `json:"amount,omitempty"`
}

// orderFromFields is the order of a row's fields (its first line aside).
func orderFromFields(f map[string]string) *tableOrder {
	o := &tableOrder{Channel: f["channel"], OrderID: f["order_id"], Status: f["status"], OrderedAt: f["ordered_at"], StatusAt: f["status_at"],
		Amount: f["amount"], Currency: f["currency"], Province: f["province"], City: f["city"], StoreID: f["store_id"], LeaderID: f["leader_id"],
		Lines: []tableLine{}}
	if v, ok := f["version"]; ok {
		// A version that is not a number is passed as a string, which the
		// order parser refuses naming version.
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			o.Version = json.RawMessage(strconv.FormatUint(n, 10))
		} else {
			o.Version, _ = json.Marshal(v)
		}
	}
	for k, v := range f {
		if id, ok := strings.CutPrefix(k, "buyer."); ok {
			if o.Buyer == nil {
				o.Buyer = map[string]string{}
			}
			o.Buyer[id] = v
		}
	}
	return o
}

// lineFromFields is a row's order line, if it has any line field.
func lineFromFields(f map[string]string) (tableLine, bool) {
	l := tableLine{SKU: f["line.sku"], ProductName: f["line.product_name"], Category: f["line.category"],
		Quantity: f["line.quantity"], UnitPrice: f["line.unit_price"], Amount: f["line.amount"]}
	return l, l != tableLine{}
}

// csvRows yields the records of a CSV file read through spec's mapping.
func csvRows(r io.Reader, spec ImportSpec) (func() (importRow, error), error) {
	spec.Format = "csv"
	src, err := (&Collector{}).openImport(spec, r)
	if err != nil {
		return nil, err
	}
	return src.next, nil
}
