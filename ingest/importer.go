package ingest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ImportSpec says how to read an imported file.
type ImportSpec struct {
	Kind string // "events" or "orders"
	// Format is jsonl, csv or xlsx; "" detects it from the content.
	Format string
	// Encoding of a text file: utf-8, gbk or gb18030; "" detects it.
	Encoding string
	// Sheet of a workbook; "" for the first.
	Sheet string
	// Preset names a platform export layout (imports.Presets), "auto"
	// picks the one that fits the header best, "" none.
	Preset string
	// Mapping maps columns to fields, over the preset's. Events: event,
	// type, messageId, userId, anonymousId, timestamp, properties.<key>,
	// traits.<key>, id.<identifier type>; without a preset, unmapped
	// columns become properties under their own name. Orders (one row
	// per order line; consecutive rows of one order are grouped):
	// channel, order_id, version, status, ordered_at, status_at, amount,
	// currency, province, city, address, store_id, leader_id,
	// buyer.<identifier>, line.sku, line.product_name, line.category,
	// line.quantity, line.unit_price, line.amount; unmapped columns are
	// ignored. A column mapped to "" is ignored.
	Mapping map[string]string
	// Event is the event name for rows without an event column.
	Event string
	// TempDir holds a workbook while it is read ("" for the system's).
	TempDir string
	// Stored, when set, tells which events of a chunk ClickHouse already
	// holds (StoredEvents); those count as duplicates and are not spooled
	// again, whatever the deduplication window remembers.
	Stored func(ctx context.Context, keys []EventKey) (map[string]bool, error)
	// OnReject, when set, receives every rejected row in order: its
	// line, the problem and the row's text, both masked.
	OnReject func(RejectedRow)
}

// RejectedRow is a refused row of an import, for a report: Text is the
// row as the file had it (at most 1 KB), mobile numbers as tokens and
// other long digit runs masked, as in dead letters.
type RejectedRow struct {
	Rejection
	Text string `json:"text,omitempty"`
}

// maxImportLine bounds one line (or CSV row) of an imported file.
const maxImportLine = 1 << 20

// Import reads a platform export or order file and spools its records in
// chunks. The file may be gzip-compressed and, as text, UTF-8 (with or
// without a byte-order mark) or GB18030/GBK (imports.Open); a workbook is
// read row by row. Bad lines are reported by line number (and
// dead-lettered); the rest are imported. A problem with the file as a
// whole (encoding, format, header, mapping) is a *Problem naming the field
// before anything is kept. Resending a file stores nothing twice: events
// are deduplicated by messageId (a table row without one gets one made of
// its content), orders by order id and version.
func (c *Collector) Import(ctx context.Context, source string, spec ImportSpec, r io.Reader) (ImportResult, error) {
	src, err := c.openImport(spec, r)
	if err != nil {
		return ImportResult{}, err
	}
	defer src.close()
	im := c.newChunker(source, "/v1/import/"+spec.Kind)
	im.onReject, im.stored = spec.OnReject, spec.Stored
	parser := &trackSpecParser{source: source, receivedAt: c.now().UTC(), protector: c.prot}
	for {
		row, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return im.out, err
		}
		im.out.Lines = row.line
		it := c.importItem(parser, spec.Kind, source, row)
		if err := im.addRow(ctx, it, row.text); err != nil {
			return im.out, err
		}
	}
	im.out.PhonesDropped = src.dropped()
	return im.out, im.flush(ctx)
}

// importItem parses one row (an order: its rows) into an item.
func (c *Collector) importItem(parser *trackSpecParser, kind, source string, row importRow) item {
	var rec *Record
	prob := row.prob
	if prob == nil {
		if kind == "events" {
			rec, prob = parser.parse(row.raw, "", "", nil)
		} else {
			rec, prob = c.parseOrder(row.raw, source, parser.receivedAt)
		}
	}
	it := c.item(rec, prob, row.raw)
	it.line = row.line
	return it
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
	texts            []string // a table row's text per item of chunk, for reports
	out              ImportResult
	onReject         func(RejectedRow)
	stored           func(context.Context, []EventKey) (map[string]bool, error)
}

func (c *Collector) newChunker(source, endpoint string) *chunker {
	return &chunker{c: c, source: source, endpoint: endpoint}
}

func (im *chunker) add(ctx context.Context, it item) error { return im.addRow(ctx, it, "") }

// addRow adds an item with the text of the row it came from, for reports.
func (im *chunker) addRow(ctx context.Context, it item, text string) error {
	im.chunk = append(im.chunk, it)
	im.texts = append(im.texts, text)
	if len(im.chunk) < importChunk {
		return nil
	}
	return im.flush(ctx)
}

func (im *chunker) flush(ctx context.Context) error {
	if err := im.dropStored(ctx); err != nil {
		return err
	}
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
	if im.onReject != nil && err == nil {
		im.report(res.Rejected)
	}
	im.chunk, im.texts = im.chunk[:0], im.texts[:0]
	return err
}

// dropStored removes from the chunk the events ClickHouse already holds
// (beyond the deduplication window) and counts them as duplicates.
func (im *chunker) dropStored(ctx context.Context) error {
	if im.stored == nil {
		return nil
	}
	var keys []EventKey
	for _, it := range im.chunk {
		if it.rec != nil && it.rec.Kind == KindEvent && it.key != "" {
			e := it.rec.Event
			keys = append(keys, EventKey{Source: e.Source, MessageID: e.MessageID, Event: e.Event, TS: e.TS})
		}
	}
	known, err := im.stored(ctx, keys)
	if err != nil || len(known) == 0 {
		return err
	}
	n := 0
	for i, it := range im.chunk {
		if it.rec != nil && it.rec.Kind == KindEvent && it.key != "" && known[it.rec.Event.MessageID] {
			im.out.Duplicates++
			continue
		}
		im.chunk[n], im.texts[n] = it, im.texts[i]
		n++
	}
	im.chunk, im.texts = im.chunk[:n], im.texts[:n]
	return nil
}

// report passes the chunk's rejections to onReject with their rows'
// text; accept lists them in the order of the chunk's refused items.
func (im *chunker) report(rejected []Rejection) {
	k := 0
	for i, it := range im.chunk {
		if it.problem == nil || k >= len(rejected) {
			continue
		}
		text := im.texts[i]
		if text == "" {
			text = string(it.raw)
		}
		if len(text) > maxReportText {
			text = strings.ToValidUTF8(text[:maxReportText], "")
		}
		im.onReject(RejectedRow{Rejection: rejected[k], Text: im.c.prot.ScrubPayload(text)})
		k++
	}
}

// maxReportText bounds a rejected row's text in a report.
const maxReportText = 1 << 10

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
