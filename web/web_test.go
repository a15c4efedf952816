package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// TestDistHasIndexHTML fails when the committed console build is missing:
// run `make console` and commit web/dist.
func TestDistHasIndexHTML(t *testing.T) {
	b, err := fs.ReadFile(Assets(), "index.html")
	if err != nil {
		t.Fatalf("web/dist/index.html missing (%v): run `make console` and commit web/dist", err)
	}
	if !strings.Contains(string(b), `<div id="root">`) || !strings.Contains(string(b), "/assets/") {
		t.Fatalf("web/dist/index.html is not the console build:\n%s", b)
	}
	// Every asset index.html names is embedded.
	for _, ref := range strings.Split(string(b), `"/assets/`)[1:] {
		name := "assets/" + ref[:strings.IndexByte(ref, '"')]
		if _, err := fs.Stat(Assets(), name); err != nil {
			t.Errorf("index.html names %s, not in dist: rebuild with `make console`", name)
		}
	}
}

func TestHandlerServesFilesRoutesAndCaching(t *testing.T) {
	h := newHandler(fstest.MapFS{
		"index.html":          {Data: []byte(`<!doctype html><div id="root"></div><script src="/assets/app-1a2b.js"></script>`)},
		"assets/app-1a2b.js":  {Data: []byte(strings.Repeat("console.log(1);", 200))},
		"assets/app-1a2b.css": {Data: []byte("body{}")},
		"favicon.svg":         {Data: []byte("<svg/>")},
	})
	for _, tc := range []struct {
		path, ctype, cache string
		status             int
		body               string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", 200, `<div id="root">`},
		{"/segments/new", "text/html; charset=utf-8", "no-cache", 200, `<div id="root">`},
		{"/profiles/42", "text/html; charset=utf-8", "no-cache", 200, `<div id="root">`},
		{"/assets/app-1a2b.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200, "console.log(1);"},
		{"/assets/app-1a2b.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200, "body{}"},
		{"/favicon.svg", "image/svg+xml", "no-cache", 200, "<svg/>"},
		{"/assets/gone-9999.js", "", "", 404, ""},
		{"/../../web/web.go", "", "", 404, ""}, // never outside dist
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := rec.Header().Get("Cache-Control"); got != tc.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.path, got, tc.cache)
		}
		if !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s: body %.80q lacks %q", tc.path, rec.Body, tc.body)
		}
	}

	// gzip when asked, and a 304 for a known ETag.
	req := httptest.NewRequest("GET", "/assets/app-1a2b.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Body.Len() >= 3000 {
		t.Fatalf("gzip: encoding %q, %d bytes", rec.Header().Get("Content-Encoding"), rec.Body.Len())
	}
	req = httptest.NewRequest("GET", "/assets/app-1a2b.js", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	req.Header.Set("Accept-Encoding", "gzip")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d, want 405", rec.Code)
	}
}
