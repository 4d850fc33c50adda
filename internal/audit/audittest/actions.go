// Package audittest lists, from the source, the audit actions the gateway's code can
// record, so that a test can prove that each one is recorded (e2e TestAuditCoverage):
// an action added later without a step that records it then fails that test by name.
package audittest

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Action is an audit action the code can record.
type Action struct {
	Name  string   // as records carry it, e.g. "login.success"
	Where []string // the places (file:line, relative to the root) that name it
}

// Actions parses the non-test Go files of the module at root and returns the actions
// they can record, sorted by name:
//
//   - every constant whose name starts with Action and whose value is a string (a
//     literal, or literals joined with +); a constant that names another Action
//     constant is that one's alias and adds nothing;
//   - every string literal given as the action of audit.Event (Event inside package
//     audit);
//   - every string literal set as the Action of a store.AuditRecord literal, or
//     assigned to a field named Action.
//
// An Action constant whose value it cannot read (another constant, a function call)
// is an error that names it: write the action as a literal there.
//
// Test files are skipped, and so are testdata and the test-support packages (a
// directory whose name starts or ends with "test": storetest, testenv, risktest…),
// whose fixtures write records of made-up actions the gateway never records.
func Actions(root string) ([]Action, error) {
	found := map[string][]string{}
	var errs []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		l := lister{fset: fset, file: filepath.ToSlash(rel), pkg: f.Name.Name, found: found}
		ast.Inspect(f, l.visit)
		errs = append(errs, l.errs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit actions: %w", err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("listing audit actions: %s", strings.Join(errs, "; "))
	}
	out := make([]Action, 0, len(found))
	for name, where := range found {
		out = append(out, Action{Name: name, Where: where})
	}
	slices.SortFunc(out, func(a, b Action) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// skipDir tells the directories whose code is not the gateway's: hidden ones,
// testdata, and test-support packages.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" ||
		strings.HasPrefix(name, "test") || strings.HasSuffix(name, "test")
}

// lister collects the actions of one file.
type lister struct {
	fset  *token.FileSet
	file  string
	pkg   string
	found map[string][]string
	errs  []string
}

func (l *lister) add(name string, at token.Pos) {
	l.found[name] = append(l.found[name], fmt.Sprintf("%s:%d", l.file, l.fset.Position(at).Line))
}

func (l *lister) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.GenDecl:
		if n.Tok == token.CONST {
			for _, spec := range n.Specs {
				l.constSpec(spec.(*ast.ValueSpec))
			}
		}
	case *ast.CallExpr:
		if l.isAuditEvent(n.Fun) && len(n.Args) > 0 {
			if s, ok := stringLit(n.Args[0]); ok {
				l.add(s, n.Args[0].Pos())
			}
		}
	case *ast.CompositeLit:
		if isAuditRecord(n.Type) {
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Action") {
					if s, ok := stringLit(kv.Value); ok {
						l.add(s, kv.Value.Pos())
					}
				}
			}
		}
	case *ast.AssignStmt:
		for i, lhs := range n.Lhs {
			if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Action" && i < len(n.Rhs) {
				if s, ok := stringLit(n.Rhs[i]); ok {
					l.add(s, n.Rhs[i].Pos())
				}
			}
		}
	}
	return true
}

// constSpec lists the Action constants of one const spec.
func (l *lister) constSpec(spec *ast.ValueSpec) {
	for i, name := range spec.Names {
		if !strings.HasPrefix(name.Name, "Action") || i >= len(spec.Values) {
			continue // not an action, or an implicit (iota) repetition
		}
		v := spec.Values[i]
		if s, ok := stringLit(v); ok {
			l.add(s, name.Pos())
			continue
		}
		switch v := v.(type) {
		case *ast.BasicLit:
			continue // a number: not an action
		case *ast.Ident:
			if strings.HasPrefix(v.Name, "Action") {
				continue // an alias of an action listed where it is defined
			}
		case *ast.SelectorExpr:
			if strings.HasPrefix(v.Sel.Name, "Action") {
				continue
			}
		}
		l.errs = append(l.errs, fmt.Sprintf("%s:%d: cannot read the value of const %s: write the action as a string literal",
			l.file, l.fset.Position(name.Pos()).Line, name.Name))
	}
}

// isAuditEvent tells a call of audit.Event (or of Event inside package audit).
func (l *lister) isAuditEvent(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == "Event" && isIdent(f.X, "audit")
	case *ast.Ident:
		return f.Name == "Event" && l.pkg == "audit"
	}
	return false
}

// isAuditRecord tells the type store.AuditRecord (AuditRecord inside package store).
func isAuditRecord(typ ast.Expr) bool {
	switch t := typ.(type) {
	case *ast.SelectorExpr:
		return t.Sel.Name == "AuditRecord" && isIdent(t.X, "store")
	case *ast.Ident:
		return t.Name == "AuditRecord"
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// stringLit evaluates a string literal, or string literals joined with +.
func stringLit(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := stringLit(e.X)
		b, ok2 := stringLit(e.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return stringLit(e.X)
	}
	return "", false
}
