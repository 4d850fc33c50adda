package gatehouse

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestInternalHasNoCaddyImports keeps the domain independent of Caddy: only
// caddymodule/ may import it (ARCHITECTURE.md). It also keeps math/rand out of the
// domain, where every token and code must come from crypto/rand.
func TestInternalHasNoCaddyImports(t *testing.T) {
	checked := 0
	err := filepath.WalkDir("internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/caddyserver/") {
				t.Errorf("%s imports %s: only caddymodule/ may import Caddy", path, p)
			}
			if (p == "math/rand" || p == "math/rand/v2") && !strings.HasSuffix(path, "_test.go") {
				t.Errorf("%s imports %s: use crypto/rand", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked: is the walk broken?", checked)
	}
}
