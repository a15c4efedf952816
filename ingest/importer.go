package ingest

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ImportSpec says how to read an imported file.
type ImportSpec struct {
	Kind   string // "events" or "orders"
	Format string // "jsonl" or "csv"
	// Mapping maps CSV columns to fields. Events: event, type, messageId,
	// userId, anonymousId, timestamp, properties.<key>, traits.<key>,
	// id.<identifier type>; unmapped columns become properties under their
	// own name. Orders (one row per order line; consecutive rows of one
	// order are grouped): channel, order_id, version, status, ordered_at,
	// status_at, amount, currency, province, city, store_id, leader_id,
	// buyer.<identifier>, line.sku, line.product_name, line.category,
	// line.quantity, line.unit_price, line.amount; unmapped columns are
	// ignored.
	Mapping map[string]string
	// Event is the event name for CSV rows without an event column.
	Event string
}

// maxImportLine bounds one line (or CSV row) of an imported file.
const maxImportLine = 1 << 20

// Import reads a platform export or order file and spools its records in
// chunks. Bad lines are reported by line number (and dead-lettered); the
// rest are imported. Resending a file stores nothing twice: events are
// deduplicated by messageId (give files one), orders by order id and
// version.
func (c *Collector) Import(ctx context.Context, source string, spec ImportSpec, r io.Reader) (ImportResult, error) {
	if spec.Kind != "events" && spec.Kind != "orders" {
		return ImportResult{}, invalid("kind", "must be events or orders")
	}
	var next func() (raw []byte, line int, prob *Problem, err error)
	switch spec.Format {
	case "jsonl", "":
		next = jsonLines(r)
	case "csv":
		var err error
		if next, err = csvRows(r, spec); err != nil {
			return ImportResult{}, err
		}
	default:
		return ImportResult{}, invalid("format", "must be jsonl or csv")
	}
	im := c.newChunker(source, "/v1/import/"+spec.Kind)
	parser := &trackSpecParser{source: source, receivedAt: c.now().UTC(), protector: c.prot}
	for {
		raw, line, prob, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return im.out, err
		}
		im.out.Lines = line
		var rec *Record
		if prob == nil {
			if spec.Kind == "events" {
				rec, prob = parser.parse(raw, "", "", nil)
			} else {
				rec, prob = c.parseOrder(raw, source, parser.receivedAt)
			}
		}
		it := c.item(rec, prob, raw)
		it.line = line
		if err := im.add(ctx, it); err != nil {
			return im.out, err
		}
	}
	return im.out, im.flush(ctx)
}

// MaxListedRejections bounds the rejections an import's answer lists (the
// first ones, by line); RejectedCount counts them all, and every bad line
// is dead-lettered (cdp.ingest_dead_letters). Keeping every rejection let
// a 585 KB file of bad lines hold 41 MB until the answer was written.
const MaxListedRejections = 100

// importChunk is how many records one spool append takes during an import:
// large enough to amortise the fsync, small enough to bound memory.
const importChunk = 2000

// chunker spools an import's items in chunks and sums the results.
type chunker struct {
	c                *Collector
	source, endpoint string
	chunk            []item
	out              ImportResult
}

func (c *Collector) newChunker(source, endpoint string) *chunker {
	return &chunker{c: c, source: source, endpoint: endpoint}
}

func (im *chunker) add(ctx context.Context, it item) error {
	im.chunk = append(im.chunk, it)
	if len(im.chunk) < importChunk {
		return nil
	}
	return im.flush(ctx)
}

func (im *chunker) flush(ctx context.Context) error {
	if len(im.chunk) == 0 {
		return nil
	}
	res, err := im.c.accept(ctx, im.source, im.endpoint, im.chunk)
	im.out.Accepted += res.Accepted
	im.out.Duplicates += res.Duplicates
	im.out.RejectedCount += len(res.Rejected)
	if room := MaxListedRejections - len(im.out.Rejected); room > 0 {
		im.out.Rejected = append(im.out.Rejected, res.Rejected[:min(room, len(res.Rejected))]...)
	}
	im.chunk = im.chunk[:0]
	return err
}

// jsonLines yields each non-empty line; a track type is implied for events
// without one.
func jsonLines(r io.Reader) func() ([]byte, int, *Problem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxImportLine)
	line := 0
	return func() ([]byte, int, *Problem, error) {
		for sc.Scan() {
			line++
			b := sc.Bytes()
			if len(strings.TrimSpace(string(b))) == 0 {
				continue
			}
			raw := append([]byte(nil), b...)
			if !utf8.Valid(raw) {
				return raw, line, &Problem{Code: "invalid_utf8", Message: "line is not valid UTF-8"}, nil
			}
			return withDefaultType(raw), line, nil, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, line + 1, nil, invalid("", "line %d is longer than %d bytes", line+1, maxImportLine)
			}
			return nil, line, nil, err
		}
		return nil, line, nil, io.EOF
	}
}

// withDefaultType adds "type":"track" to a JSON object without a type, so
// export lines need not repeat it. Orders ignore it (no such field there
// is needed, so it is only added when "event" is present).
func withDefaultType(raw []byte) []byte {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, "{") && !strings.Contains(s, `"type"`) && strings.Contains(s, `"event"`) {
		return []byte(`{"type":"track",` + s[1:])
	}
	return raw
}

// csvRows yields each CSV row as a JSON message (events) or each group of
// consecutive rows of one order as a JSON order.
func csvRows(r io.Reader, spec ImportSpec) (func() ([]byte, int, *Problem, error), error) {
	t, err := openCSV(r, spec)
	if err != nil {
		return nil, err
	}
	if spec.Kind == "events" {
		return csvEvents(t, spec.Event), nil
	}
	return csvOrders(t), nil
}

// csvTable reads the rows of an imported CSV file as fields named by the
// import's mapping.
type csvTable struct {
	cr     *csv.Reader
	header []string
	spec   ImportSpec
	line   int // of the row read last
}

// openCSV reads the header row and checks that every mapped column is in
// it.
func openCSV(r io.Reader, spec ImportSpec) (*csvTable, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, invalid("file", "CSV header row unreadable: %v", err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	for col := range spec.Mapping {
		if !contains(header, col) {
			return nil, invalid("mapping."+col, "no such column in the CSV header (%s)", strings.Join(header, ", "))
		}
	}
	return &csvTable{cr: cr, header: header, spec: spec, line: 1}, nil
}

// target returns the field column col maps to, "" for an ignored column.
// Unmapped columns of events become properties under their own name.
func (t *csvTable) target(col string) string {
	if f, ok := t.spec.Mapping[col]; ok {
		return f
	}
	if t.spec.Kind == "events" {
		return "properties." + col
	}
	return ""
}

// read returns the next row's non-empty fields and its line number, a
// problem for a row that cannot be imported, or io.EOF.
func (t *csvTable) read() (map[string]string, int, *Problem, error) {
	row, err := t.cr.Read()
	t.line++
	line := t.line
	if err == io.EOF {
		return nil, line, nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, pe.Line, &Problem{Code: "invalid_csv", Message: pe.Err.Error()}, nil
	}
	if err != nil {
		return nil, line, nil, err
	}
	if len(row) != len(t.header) {
		return nil, line, &Problem{Code: "invalid_csv", Message: fmt.Sprintf("%d columns, the header has %d", len(row), len(t.header))}, nil
	}
	fields := map[string]string{}
	for i, v := range row {
		if !utf8.ValidString(v) {
			return nil, line, &Problem{Code: "invalid_utf8", Field: t.header[i], Message: "not valid UTF-8"}, nil
		}
		if f := t.target(t.header[i]); f != "" && v != "" {
			fields[f] = v
		}
	}
	return fields, line, nil, nil
}

// csvEvents yields each row as a JSON tracking-spec message.
func csvEvents(t *csvTable, defaultEvent string) func() ([]byte, int, *Problem, error) {
	return func() ([]byte, int, *Problem, error) {
		f, line, prob, err := t.read()
		if err != nil || prob != nil {
			return nil, line, prob, err
		}
		b, err := json.Marshal(eventFromCSV(f, defaultEvent))
		return b, line, nil, err
	}
}

// csvOrders yields each run of consecutive rows of one order (same channel
// and order_id) as a JSON order with a line per row, numbered by its first
// row.
func csvOrders(t *csvTable) func() ([]byte, int, *Problem, error) {
	var pending map[string]string
	pendingLine := 0
	return func() ([]byte, int, *Problem, error) {
		var order map[string]any
		first := 0
		for {
			f, line, prob, err := pending, pendingLine, (*Problem)(nil), error(nil)
			if f == nil {
				f, line, prob, err = t.read()
			}
			pending = nil
			if prob != nil {
				return nil, line, prob, nil
			}
			if err == io.EOF {
				if order != nil {
					b, err := json.Marshal(order)
					return b, first, nil, err
				}
				return nil, line, nil, io.EOF
			}
			if err != nil {
				return nil, line, nil, err
			}
			if order != nil && (f["order_id"] != order["order_id"] || f["channel"] != order["channel"]) {
				pending, pendingLine = f, line
				b, err := json.Marshal(order)
				return b, first, nil, err
			}
			if order == nil {
				order, first = orderFromCSV(f), line
			}
			if l := lineFromCSV(f); l != nil {
				order["lines"] = append(order["lines"].([]map[string]any), l)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func eventFromCSV(f map[string]string, defaultEvent string) map[string]any {
	m := map[string]any{"type": "track"}
	props, traits := map[string]any{}, map[string]any{}
	var ext []map[string]string
	for k, v := range f {
		switch {
		case strings.HasPrefix(k, "properties."):
			props[strings.TrimPrefix(k, "properties.")] = csvValue(v)
		case strings.HasPrefix(k, "traits."):
			traits[strings.TrimPrefix(k, "traits.")] = v
		case strings.HasPrefix(k, "id."):
			ext = append(ext, map[string]string{"type": strings.TrimPrefix(k, "id."), "id": v})
		default:
			m[k] = v
		}
	}
	if _, ok := m["event"]; !ok && defaultEvent != "" {
		m["event"] = defaultEvent
	}
	if len(props) > 0 {
		m["properties"] = props
	}
	if len(traits) > 0 {
		m["traits"] = traits
	}
	if len(ext) > 0 {
		m["context"] = map[string]any{"externalIds": ext}
	}
	return m
}

// csvValue keeps numbers numeric in properties (completion ratios, prices).
func csvValue(v string) any {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.HasPrefix(v, "0") || v == "0" {
		if err == nil {
			return f
		}
	}
	return v
}

func orderFromCSV(f map[string]string) map[string]any {
	o := map[string]any{"lines": []map[string]any{}}
	buyer := map[string]any{}
	for k, v := range f {
		switch {
		case strings.HasPrefix(k, "buyer."):
			buyer[strings.TrimPrefix(k, "buyer.")] = v
		case strings.HasPrefix(k, "line."):
		case k == "version":
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				o[k] = n
			} else {
				o[k] = v // refused by the order parser, naming version
			}
		default:
			o[k] = v
		}
	}
	if len(buyer) > 0 {
		o["buyer"] = buyer
	}
	return o
}

func lineFromCSV(f map[string]string) map[string]any {
	l := map[string]any{}
	for k, v := range f {
		if name, ok := strings.CutPrefix(k, "line."); ok {
			l[name] = v
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l
}
