package ingest

import (
	"io"

	"github.com/granarycdp/cdp/ingest/imports"
)

// OpenJSONLines prepares a JSON-lines file (a chat archive) as Import
// does: gzip undone, a byte-order mark removed, GB18030/GBK decoded
// (encoding "" detects). A file that is not JSON lines in one of those
// encodings is a *Problem naming the field.
func OpenJSONLines(r io.Reader, format, encoding string) (io.Reader, error) {
	if format == "" {
		format = "jsonl"
	}
	in, err := imports.Open(r, format, encoding)
	if err != nil {
		return nil, fileProblem(err)
	}
	if in.Format != "jsonl" {
		return nil, &Problem{Code: "unsupported_file", Field: "format", Message: "this endpoint takes JSON lines; the file is " + in.Format}
	}
	return in.R, nil
}
