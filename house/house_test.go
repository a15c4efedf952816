package house

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	maxFuncLines = 80
	maxFileLines = 600
)

// root is the module root, one folder up from this package.
var root = filepath.Join("..")

// sources returns the non-test Go files of the module (not web/ node
// modules, not testdata).
func sources(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d Go files under %s", len(files), root)
	}
	return files
}

// TestSizes keeps functions and files small enough to read in one go.
func TestSizes(t *testing.T) {
	fset := token.NewFileSet()
	for _, path := range sources(t) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s: %d lines (at most %d): split it by concern", path, n, maxFileLines)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var name string
			switch fn := n.(type) {
			case *ast.FuncDecl:
				if fn.Body == nil {
					return true
				}
				name = fn.Name.Name
			case *ast.FuncLit:
				name = "func literal"
			default:
				return true
			}
			lines := fset.Position(n.End()).Line - fset.Position(n.Pos()).Line + 1
			if lines > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines (at most %d)", path, fset.Position(n.Pos()).Line, name, lines, maxFuncLines)
			}
			return true
		})
	}
}

// TestDomainRulesWrittenOnce finds hand-written copies of the fragments in
// schema/domain.go: each must be used, not retyped.
func TestDomainRulesWrittenOnce(t *testing.T) {
	home := filepath.Join(root, "schema", "domain.go")
	copies := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"the person → OneID mapping (schema.Canonical)", regexp.MustCompile(`SELECT person_id, canonical FROM`)},
		{"the valid-order rule (schema.ValidOrder)", regexp.MustCompile(`'refunded', 'cancelled'`)},
		{"the valid-order rule in Go (schema.ValidOrderStatus)", regexp.MustCompile(`[Ss]tatus [!=]= "(refunded|cancelled)"`)},
		{"the phone vault read (schema.Vault)", regexp.MustCompile(`(any|argMax)\((masked|ciphertext)|pii_vault.*FINAL`)},
		{"the Beijing time zone (schema.Beijing)", regexp.MustCompile(`time\.FixedZone\(|time\.LoadLocation\("Asia/Shanghai"\)`)},
	}
	for _, path := range sources(t) {
		if path == home {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			for _, c := range copies {
				if c.re.MatchString(line) {
					t.Errorf("%s:%d: a copy of %s: %s", path, i+1, c.what, strings.TrimSpace(line))
				}
			}
		}
	}
}

// TestDocLinks checks that every relative Markdown link in the README and
// docs/ names a file that exists.
func TestDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links %s, which does not exist", doc, target)
			}
		}
	}
}

// TestNoNodeLocalStatementOnAFrontTable: on a sharded cluster a platform
// table t is a Distributed front over each node's t_local
// (docs/scale-out.md). A Distributed table takes no mutation, OPTIMIZE,
// TRUNCATE or EXCHANGE, and a table made AS it is another front over the
// same local tables (what it is given lands in t). Such statements name
// db.Local(t) and run on every node (db.EachNode). This finds them written
// with db.Table(t).
func TestNoNodeLocalStatementOnAFrontTable(t *testing.T) {
	front := regexp.MustCompile(`"(ALTER TABLE|OPTIMIZE TABLE|TRUNCATE TABLE|TRUNCATE|EXCHANGE TABLES)[^"]*"\s*\+\s*[\w.]*\.Table\(|" AS "\s*\+\s*[\w.]*\.Table\(`)
	for _, path := range sources(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			// A scratch table AS a front with its own ENGINE is a copy
			// of the columns only, which is fine.
			if front.MatchString(line) && !strings.Contains(line, "ENGINE") {
				t.Errorf("%s:%d: a node-local statement on a Distributed front table: name db.Local(table) and run it with db.EachNode: %s", path, i+1, strings.TrimSpace(line))
			}
		}
	}
}
