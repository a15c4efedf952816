// Package web serves the marketers' console: a single-page application
// (React, Ant Design, ECharts) built from web/console into web/dist and
// embedded in the binary, so `go build` and `go test` never need Node.
// Rebuild the assets with `make console` after changing web/console.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// Assets is the built console (index.html at its root).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("BUG: embedded dist missing: " + err.Error())
	}
	return sub
}

// file is an embedded asset with its validator and, for text types worth
// it, a gzip copy made on first request.
type file struct {
	body  []byte
	etag  string
	ctype string

	gzOnce sync.Once
	gz     []byte
}

// Handler serves the console from the embedded assets:
//   - a file that exists is served with its content type; hashed files
//     under /assets/ are cached for a year (their name changes with their
//     content), everything else must be revalidated;
//   - any other GET for a path without a file extension is a client-side
//     route and gets index.html (never cached, so a new build is picked
//     up at once), or sidebar.html under /sidebar (the staff sidebar);
//   - a missing file with an extension (/assets/old-1234.js) is a 404, so
//     a stale page fails loudly instead of parsing HTML as JavaScript.
func Handler() http.Handler { return newHandler(Assets()) }

func newHandler(assets fs.FS) http.Handler {
	h := &handler{assets: assets, files: map[string]*file{}}
	return h
}

type handler struct {
	assets fs.FS
	mu     sync.Mutex
	files  map[string]*file
}

func (h *handler) load(name string) *file {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.files[name]; ok {
		return f
	}
	body, err := fs.ReadFile(h.assets, name)
	if err != nil {
		h.files[name] = nil
		return nil
	}
	sum := sha256.Sum256(body)
	ctype := contentType(name)
	f := &file{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
	h.files[name] = f
	return f
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".woff2":
		return "font/woff2"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") || strings.HasPrefix(ctype, "image/svg")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	page, _, _ := strings.Cut(name, "/")
	f := h.load(name)
	if f == nil {
		if path.Ext(name) != "" {
			http.NotFound(w, r)
			return
		}
		name = "index.html" // a client-side route
		if page == "sidebar" {
			name = "sidebar.html" // the staff sidebar, a page of its own
		}
		if f = h.load(name); f == nil {
			http.Error(w, "console not built: run `make console`", http.StatusNotFound)
			return
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(name, "assets/") {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	if name == "index.html" || name == "sidebar.html" {
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
	}
	body := f.body
	etag := f.etag
	if compressible(f.ctype) && len(body) > 1024 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		f.gzOnce.Do(func() {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(f.body)
			zw.Close()
			f.gz = b.Bytes()
		})
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	if compressible(f.ctype) {
		hd.Add("Vary", "Accept-Encoding")
	}
	hd.Set("ETag", etag)
	// ServeContent answers If-None-Match with 304 and handles Range and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
