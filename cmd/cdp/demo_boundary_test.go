package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDemoPackagesStayOnTheDemoPath keeps the boundary that lets the demo's
// generator (gen) and WeCom stand-in (wecomtest) live in the production
// binary: only the demo's files (demo*.go) and the benchmarks' (bench*.go)
// import them, so `cdp serve` without --demo=auto, `cdp migrate` and
// `cdp engine` never reach them.
func TestDemoPackagesStayOnTheDemoPath(t *testing.T) {
	demoOnly := map[string]bool{
		"github.com/granarycdp/cdp/gen":                    true,
		"github.com/granarycdp/cdp/ingest/wecom/wecomtest": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "demo") || strings.HasPrefix(f, "bench") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); demoOnly[path] {
				t.Errorf("%s imports %s: only the demo's and the benchmarks' files (demo*.go, bench*.go) may", f, path)
			}
		}
	}
}
