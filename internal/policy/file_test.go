package policy

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with the current output")

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestCheckFileGolden runs CheckFile on every testdata/check/*.yaml and compares
// its findings with the .golden file next to it. It also checks that ParseFile
// reports exactly the errors among them, and that what it accepts compiles.
func TestCheckFileGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/check/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(file)
			findings := CheckFile(name, data)
			var b strings.Builder
			var wantErrs []string
			for _, f := range findings {
				line := f.Format(name)
				b.WriteString(line + "\n")
				if !f.Warning {
					wantErrs = append(wantErrs, line)
				}
			}

			rules, err := ParseFile(name, data)
			var gotErrs []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *FileError
					if !errors.As(e, &fe) || fe.File != name {
						t.Errorf("error %v is not a *FileError of %s", e, name)
					}
					gotErrs = append(gotErrs, e.Error())
				}
			}
			if !reflect.DeepEqual(gotErrs, wantErrs) {
				t.Errorf("ParseFile errors:\n%s\nCheckFile errors:\n%s", strings.Join(gotErrs, "\n"), strings.Join(wantErrs, "\n"))
			}
			if err == nil {
				if _, err := Compile(rules, Deny); err != nil {
					t.Errorf("ParseFile accepted rules that Compile refuses: %v", err)
				}
				fmt.Fprintf(&b, "-- ok: %d rules\n", len(rules))
			} else {
				fmt.Fprintf(&b, "-- errors: %d\n", len(gotErrs))
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", b.String())
		})
	}
}

func TestParseFileRules(t *testing.T) {
	data, err := os.ReadFile("testdata/check/clean.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseFile("clean.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Name: "clean.yaml:3", Path: "/", Access: Public},
		{Name: "clean.yaml:5", Path: "/static/*", Access: Public},
		{Name: "clean.yaml:7 who am I", Path: "/api/me", Access: SignedIn},
		{Name: "clean.yaml:10", Path: "/api/deals", Methods: []string{"GET"}, Access: RequirePermission, Require: "deals:read", Scope: ScopeTenant},
		{Name: "clean.yaml:14", Path: "/api/users/{user}/deals/{id}", Methods: []string{"PUT", "PATCH"}, Access: RequirePermission,
			Require: "deals:edit", OwnerParam: "user"},
		{Name: "clean.yaml:18", Path: "/api/teams/{team}/deals/{id}", Methods: []string{"DELETE"}, Access: RequirePermission,
			Require: "deals:delete", Scope: ScopeTeam, TeamParam: "team", MFA: true},
		{Name: "clean.yaml:24", Path: "/admin/*", Host: "*.example.com", Access: Deny},
		{Name: "clean.yaml:27", Path: "/settings", Access: SignedIn, MFA: true},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n%+v\nwant\n%+v", rules, want)
	}

	p, err := Compile(rules, Deny)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide("example.com", "GET", "/api/me"); d.Name != "clean.yaml:7 who am I" || d.Access != SignedIn {
		t.Errorf("decision %+v", d)
	}
	if d := p.Decide("example.com", "GET", "/nowhere"); d.Access != Deny || !d.Default() {
		t.Errorf("no rule matches: %+v", d)
	}
}

// TestParseFileReportsAll: one error per problem, each at its own position and
// naming the offending value.
func TestParseFileReportsAll(t *testing.T) {
	src := "rules:\n" +
		"  - path: nope\n" +
		"    access: public\n" +
		"  - path: /ok\n" +
		"    require: deals\n" +
		"    scope: wide\n"
	_, err := ParseFile("p.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`p.yaml:2:11: path "nope" must start with "/"`,
		`p.yaml:5:14: require: permission "deals": want resource:action`,
		`p.yaml:6:12: unknown scope "wide"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("%d errors, want 3:\n%v", n, err)
	}
}

func TestParseFileAliases(t *testing.T) {
	src := "rules:\n" +
		"  - path: /a\n" +
		"    methods: &writes [POST, PUT]\n" +
		"    access: deny\n" +
		"  - path: /b\n" +
		"    methods: *writes\n" +
		"    access: signed_in\n"
	rules, err := ParseFile("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rules[1].Methods, []string{"POST", "PUT"}) {
		t.Errorf("aliased methods: %v", rules[1].Methods)
	}
}

func TestFindingFormat(t *testing.T) {
	for _, c := range []struct {
		f    Finding
		want string
	}{
		{Finding{Line: 3, Col: 7, Msg: "bad"}, "f.yaml:3:7: bad"},
		{Finding{Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{Finding{Line: 9, Col: 5, Msg: "odd", Warning: true}, "f.yaml:9:5: warning: odd"},
	} {
		if got := c.f.Format("f.yaml"); got != c.want {
			t.Errorf("Format = %q, want %q", got, c.want)
		}
	}
}

// TestPatternCovers checks the shadowing relation against the matcher: whenever
// covers says a covers b, every path b matches under any reading is matched by a
// under the same reading.
func TestPatternCovers(t *testing.T) {
	rng := newRand(7)
	lits := []string{"a", "b", "A", "x;y"}
	g := &randGen{rng: rng, lits: lits, paramOneIn: 3, endOneIn: 3}
	randPattern, randPath := g.pattern, g.path
	covered := 0
	for range 3000 {
		a, err := parsePattern(randPattern())
		if err != nil {
			t.Fatal(err)
		}
		b, err := parsePattern(randPattern())
		if err != nil {
			t.Fatal(err)
		}
		if !a.covers(b) {
			continue
		}
		covered++
		for range 50 {
			path := randPath()
			for v := range Variant(8) {
				if b.miss(path, v, false) == "" && a.miss(path, v, true) != "" {
					t.Fatalf("%s covers %s, but %s matches only the latter under the %v reading", a.raw, b.raw, path, v)
				}
			}
		}
	}
	if covered < 100 {
		t.Errorf("only %d covering pairs: the test says little", covered)
	}
}
