package api

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

// TestReadAllReadsTheWholeBodyWhateverTheHint checks readBody's reader
// against io.ReadAll: with a starting buffer smaller than, equal to and
// larger than the body, read in one piece or a byte at a time, and with
// a reader that fails midway.
func TestReadAllReadsTheWholeBodyWhateverTheHint(t *testing.T) {
	body := bytes.Repeat([]byte(`{"batch":[{"type":"track"}]}`), 100)
	for _, hint := range []int{0, 1, 512, len(body) - 1, len(body), len(body) + 1, 4 * len(body)} {
		for name, r := range map[string]io.Reader{"whole": bytes.NewReader(body), "bytewise": iotest.OneByteReader(bytes.NewReader(body))} {
			got, err := readAll(r, hint)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("hint %d, %s: %d bytes, %v; want the %d-byte body", hint, name, len(got), err, len(body))
			}
		}
	}
	got, err := readAll(iotest.TimeoutReader(bytes.NewReader(body)), len(body)+1)
	if err == nil || !bytes.Equal(got, body[:len(got)]) {
		t.Errorf("failing reader: %d bytes, %v; want a prefix and the error", len(got), err)
	}
}

func TestBodySizeHintFollowsContentLength(t *testing.T) {
	for _, tc := range []struct {
		length int64
		enc    string
		want   int
	}{
		{-1, "", 512}, // chunked: unknown
		{0, "", 512},
		{1000, "", 1001},
		{1000, "gzip", 4001},
		{9000, "", 5001},     // declared past the limit: limit+1
		{2000, "gzip", 5001}, // inflated past the limit: limit+1
	} {
		r := &http.Request{ContentLength: tc.length, Header: http.Header{}}
		if tc.enc != "" {
			r.Header.Set("Content-Encoding", tc.enc)
		}
		if got := bodySizeHint(r, 5000); got != tc.want {
			t.Errorf("length %d %q: hint %d, want %d", tc.length, tc.enc, got, tc.want)
		}
	}
}
