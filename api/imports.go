package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/ingest"
)

// maxImportBytes bounds one uploaded file (a platform export or order
// file) as sent, compressed or not; larger exports are split.
const maxImportBytes = 256 << 20

// maxReportRows bounds the rejected rows an import's full report lists
// (report=all); every one is counted and dead-lettered all the same.
const maxReportRows = 100_000

// importParams are the settings an import reads from the query string or,
// in a multipart upload, from form fields sent before the file.
var importParams = []string{"format", "encoding", "preset", "mapping", "event", "sheet", "report", "rows", "kind"}

// importUpload is an import request's file and settings.
type importUpload struct {
	file   io.Reader
	params map[string]string
	stored func(context.Context, []ingest.EventKey) (map[string]bool, error)
}

// readUpload finds the file of an import request: the body itself, or the
// first file part of a multipart/form-data upload (what curl -F and
// browser forms send), whose framing is never read as data. A request
// body with Content-Encoding gzip is decompressed; a gzip file is
// recognised by its content. It answers the error itself and returns
// false on failure.
func readUpload(c *gin.Context) (*importUpload, bool) {
	body, ok := decodeContent(c, http.MaxBytesReader(c.Writer, c.Request.Body, maxImportBytes))
	if !ok {
		return nil, false
	}
	up := &importUpload{file: body, params: map[string]string{}}
	for _, p := range importParams {
		if v, ok := c.GetQuery(p); ok {
			up.params[p] = v
		}
	}
	mt, mp, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" {
		return up, true
	}
	if mp["boundary"] == "" {
		fail(c, http.StatusBadRequest, CodeInvalid, "multipart/form-data without a boundary", "Content-Type")
		return nil, false
	}
	return up, up.filePart(c, multipart.NewReader(body, mp["boundary"]))
}

// filePart reads the form fields before the file part (settings, unless
// the query string gave them) and makes the file part the upload's file.
func (up *importUpload) filePart(c *gin.Context, mr *multipart.Reader) bool {
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			fail(c, http.StatusBadRequest, CodeInvalid, "the multipart upload has no file part: send the file as a part with a filename (curl -F file=@export.csv)", "file")
			return false
		}
		if err != nil {
			uploadError(c, err)
			return false
		}
		if part.FileName() != "" || part.FormName() == "file" {
			up.file = part
			return true
		}
		v, err := io.ReadAll(io.LimitReader(part, 64<<10))
		if err != nil {
			uploadError(c, err)
			return false
		}
		if _, given := up.params[part.FormName()]; !given && isImportParam(part.FormName()) {
			up.params[part.FormName()] = string(v)
		}
	}
}

func isImportParam(name string) bool {
	for _, p := range importParams {
		if p == name {
			return true
		}
	}
	return false
}

// uploadError answers a failure to read the upload.
func uploadError(c *gin.Context, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fail(c, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("file larger than %d bytes; split it", tooLarge.Limit), "")
		return
	}
	fail(c, http.StatusBadRequest, CodeInvalid, "reading the upload: "+err.Error(), "file")
}

// spec builds the import settings for kind.
func (up *importUpload) spec(c *gin.Context, kind string) (ingest.ImportSpec, bool) {
	p := up.params
	spec := ingest.ImportSpec{Kind: kind, Format: p["format"], Encoding: p["encoding"], Preset: p["preset"],
		Event: p["event"], Sheet: p["sheet"], TempDir: os.TempDir(), Stored: up.stored}
	if m := p["mapping"]; m != "" {
		if err := json.Unmarshal([]byte(m), &spec.Mapping); err != nil {
			fail(c, http.StatusBadRequest, CodeInvalid, `mapping must be a JSON object {"column": "field"}`, "mapping")
			return spec, false
		}
	}
	return spec, true
}

// importFile takes a file of kind (events, orders, wecom-archive).
func (s *Server) importFile(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		up, ok := readUpload(c)
		if !ok {
			return
		}
		if s.db != nil {
			up.stored = ingest.StoredEvents(s.db)
		}
		spec, ok := up.spec(c, kind)
		if !ok {
			return
		}
		var rep *rejectReport
		if up.params["report"] == "all" {
			if rep, ok = s.newRejectReport(c); !ok {
				return
			}
			defer rep.close()
			spec.OnReject = rep.add
		}
		res, err := s.runImport(c, kind, spec, up.file)
		if err != nil {
			s.answerImportError(c, res, err)
			return
		}
		writeImportAnswer(c, res, rep)
	}
}

func (s *Server) runImport(c *gin.Context, kind string, spec ingest.ImportSpec, file io.Reader) (ingest.ImportResult, error) {
	ctx, source := c.Request.Context(), principal(c).Source
	if kind != "wecom-archive" {
		return s.collector.Import(ctx, source, spec, file)
	}
	r, err := ingest.OpenJSONLines(file, spec.Format, spec.Encoding)
	if err != nil {
		return ingest.ImportResult{}, err
	}
	return s.collector.ImportWeComArchive(ctx, source, r)
}

// answerImportError answers a failed import: 413 for a file over the
// limit, 415 for an encoding or format not supported, else as ingest.
func (s *Server) answerImportError(c *gin.Context, res ingest.ImportResult, err error) {
	var tooLarge *http.MaxBytesError
	var prob *ingest.Problem
	switch {
	case errors.As(err, &tooLarge):
		fail(c, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("file larger than %d bytes; split it", tooLarge.Limit), "")
	case errors.As(err, &prob) && prob.Code == "unsupported_file":
		fail(c, http.StatusUnsupportedMediaType, prob.Code, prob.Message, prob.Field)
	case res.Lines > 0 && (errors.Is(err, ingest.ErrBusy) || errors.Is(err, ingest.ErrNoSpace)):
		// Chunks before the failure are kept, each record whole; the
		// client resends the file and they are not stored twice.
		status, code, after := http.StatusServiceUnavailable, CodeUnavailable, "5"
		if errors.Is(err, ingest.ErrNoSpace) {
			status, code, after = http.StatusInsufficientStorage, CodeNoSpace, "10"
		}
		c.Header("Retry-After", after)
		fail(c, status, code, fmt.Sprintf("the platform could not keep more of this file (%v) after line %d; %d records before it were kept, "+
			"each whole: resend the whole file later and those are not stored twice", err, res.Lines, res.Accepted+res.Duplicates), "")
	default:
		s.answerIngest(c, res.Result, err)
	}
}

// importPreview maps and validates the first rows of a file (rows, at
// most ingest.MaxPreviewRows) and writes nothing.
func (s *Server) importPreview(c *gin.Context) {
	up, ok := readUpload(c)
	if !ok {
		return
	}
	kind := up.params["kind"]
	if kind != "orders" && kind != "events" {
		fail(c, http.StatusBadRequest, CodeInvalid, "kind must be orders or events", "kind")
		return
	}
	spec, ok := up.spec(c, kind)
	if !ok {
		return
	}
	n := 20
	if v := up.params["rows"]; v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			fail(c, http.StatusBadRequest, CodeInvalid, "rows must be a positive number", "rows")
			return
		}
	}
	pv, err := s.collector.Preview(c.Request.Context(), principal(c).Source, spec, up.file, n)
	if err != nil {
		s.answerImportError(c, ingest.ImportResult{}, err)
		return
	}
	c.JSON(http.StatusOK, pv)
}

// rejectReport keeps an import's rejected rows in a temporary file, as
// JSON lines, up to maxReportRows, so that the answer can list them all
// without the import holding them in memory.
type rejectReport struct {
	f         *os.File
	w         *bufio.Writer
	n         int
	truncated bool
	err       error
}

func (s *Server) newRejectReport(c *gin.Context) (*rejectReport, bool) {
	f, err := os.CreateTemp("", "cdp-import-report-*.jsonl")
	if err != nil {
		s.internal(c, fmt.Errorf("import report: %w", err))
		return nil, false
	}
	return &rejectReport{f: f, w: bufio.NewWriter(f)}, true
}

func (r *rejectReport) add(row ingest.RejectedRow) {
	if r.n >= maxReportRows {
		r.truncated = true
		return
	}
	b, err := json.Marshal(row)
	if err == nil {
		_, err = r.w.Write(append(b, '\n'))
	}
	if err != nil && r.err == nil {
		r.err = err
	}
	r.n++
}

func (r *rejectReport) close() {
	r.f.Close()
	os.Remove(r.f.Name())
}

// ImportAnswer is the answer of a file import: counts, the first
// rejections (ingest.MaxListedRejections) and, with report=all, every
// rejected row (at most maxReportRows) with its text, masked.
type ImportAnswer struct {
	Success         bool                 `json:"success"`
	Lines           int                  `json:"lines"`
	Accepted        int                  `json:"accepted"`
	Duplicates      int                  `json:"duplicates"`
	Rejected        []ingest.Rejection   `json:"rejected"`
	RejectedCount   int                  `json:"rejected_count"`
	PhonesDropped   int                  `json:"phones_dropped"`
	ReportTruncated bool                 `json:"report_truncated,omitempty"`
	Report          []ingest.RejectedRow `json:"report,omitempty"`
}

// writeImportAnswer writes an import's answer; a report's rows are
// streamed from its file into the answer's report array.
func writeImportAnswer(c *gin.Context, res ingest.ImportResult, rep *rejectReport) {
	ans := ImportAnswer{Success: true, Lines: res.Lines, Accepted: res.Accepted, Duplicates: res.Duplicates,
		Rejected: res.Rejected, RejectedCount: res.RejectedCount, PhonesDropped: res.PhonesDropped}
	if ans.Rejected == nil {
		ans.Rejected = []ingest.Rejection{}
	}
	if rep == nil || rep.flush() != nil {
		c.JSON(http.StatusOK, ans)
		return
	}
	ans.ReportTruncated = rep.truncated
	b, _ := json.Marshal(ans)
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := bufio.NewWriter(c.Writer)
	w.Write(b[:len(b)-1])
	w.WriteString(`,"report":[`)
	sc := bufio.NewScanner(rep.f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for i := 0; sc.Scan(); i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(sc.Bytes())
	}
	w.WriteString("]}")
	w.Flush()
}

// flush writes the report out and rewinds it for reading.
func (r *rejectReport) flush() error {
	if r.err != nil {
		return r.err
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	_, err := r.f.Seek(0, io.SeekStart)
	return err
}
