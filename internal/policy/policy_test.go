package policy

import (
	"maps"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		rule Rule
		want string // substring of the error
	}{
		{Rule{Path: ""}, `path pattern "" must start with "/"`},
		{Rule{Path: "admin"}, `path pattern "admin" must start with "/"`},
		{Rule{Path: "//"}, `path pattern "//" has an empty segment`},
		{Rule{Path: "/a//b"}, `path pattern "/a//b" has an empty segment`},
		{Rule{Path: "//*"}, `path pattern "//*" has an empty segment`},
		{Rule{Path: "/a//*"}, `path pattern "/a//*" has an empty segment`},
		{Rule{Path: "/pub*"}, `"*" is only allowed as the whole last segment`},
		{Rule{Path: "/*/a"}, `"*" is only allowed as the whole last segment`},
		{Rule{Path: "/a/**"}, `"*" is only allowed as the whole last segment`},
		{Rule{Path: "/a/{id"}, `invalid parameter "{id"`},
		{Rule{Path: "/a/{}"}, `invalid parameter "{}"`},
		{Rule{Path: "/a/{1d}"}, `invalid parameter "{1d}"`},
		{Rule{Path: "/a/{i-d}"}, `invalid parameter "{i-d}"`},
		{Rule{Path: "/a/x{id}"}, `a parameter must be a whole segment`},
		{Rule{Path: "/a/{id}x"}, `invalid parameter "{id}x"`},
		{Rule{Path: "/a/{id}/b/{id}"}, `repeats the parameter {id}`},
		{Rule{Path: "/a%2fb"}, `not %XX escapes`},
		{Rule{Path: "/a?b=1"}, `no query or fragment`},
		{Rule{Path: "/a#x"}, `no query or fragment`},
		{Rule{Path: "/a\\b"}, `backslashes`},
		{Rule{Path: "/a\tb"}, `control characters`},
		{Rule{Path: "/a/../b"}, `dot and empty segments`},
		{Rule{Path: "/a/./b"}, `dot and empty segments`},
		{Rule{Path: "/a/..;x"}, `dot and empty segments`},
		{Rule{Path: "/a/\xff"}, `not valid UTF-8`},
		{Rule{Path: "/x", Access: Access(42)}, "invalid access 42"},
		{Rule{Path: "/x", Methods: []string{"get"}}, `method "get": must be upper case`},
		{Rule{Path: "/x", Methods: []string{""}}, `method "": is empty`},
		{Rule{Path: "/x", Methods: []string{"GE T"}}, `method "GE T": is not an HTTP method token`},
		{Rule{Path: "/x", Host: "example.com:443"}, `host "example.com:443": has a port`},
		{Rule{Path: "/x", Host: "https://example.com"}, `host "https://example.com"`},
		{Rule{Path: "/x", Host: "a.*.example.com"}, `not a leading "*." wildcard`},
		{Rule{Path: "/x", Host: "*"}, `host "*"`},
		{Rule{Path: "/x", Host: "*."}, `host "*."`},
		{Rule{Path: "/x", Host: "a..b"}, `empty label`},
		{Rule{Path: "/x", Host: "café.example"}, `punycode`},
		{Rule{Name: "admin-area", Path: "/a//b"}, `rules[0] (admin-area): path pattern "/a//b"`},
	}
	for _, c := range cases {
		_, err := Compile([]Rule{c.rule}, Deny)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%+v) error = %v; want it to contain %q", c.rule, err, c.want)
		}
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile([]Rule{
		{Path: "/ok", Access: Public},
		{Path: "bad1", Access: Public},
		{Path: "/ok2", Methods: []string{"get"}, Host: "a:1"},
	}, Access(9))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"invalid default access 9", `rules[1]: path pattern "bad1"`, `rules[2]: method "get"`, `rules[2]: host "a:1"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestCompileAccepts(t *testing.T) {
	_, err := Compile([]Rule{
		{Path: "/"}, {Path: "/*"}, {Path: "/a/"}, {Path: "/a/*"}, {Path: "/{a}/{b_2}/*"},
		{Path: "/café"}, {Path: "/a;b"}, {Path: "/.well-known/*"}, {Path: "/..."},
		{Path: "/x", Host: "Example.COM."}, {Path: "/x", Host: "*.example.com"}, {Path: "/x", Host: "::1"},
		{Path: "/x", Host: "10.0.0.1"}, {Path: "/x", Host: "xn--caf-dma.example"},
		{Path: "/x", Methods: []string{"GET", "PROPFIND", "M-SEARCH"}},
	}, Public)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPatternMatching checks each pattern form against paths, one rule at a time.
func TestPatternMatching(t *testing.T) {
	cases := []struct {
		pattern string
		path    string
		match   bool
		params  map[string]string
	}{
		{"/health", "/health", true, nil},
		{"/health", "/health/x", false, nil},
		{"/health", "/healthz", false, nil},
		{"/health", "/", false, nil},
		{"/", "/", true, nil},
		{"/", "/a", false, nil},
		{"/docs/", "/docs/", true, nil},
		{"/docs/", "/docs/x", false, nil},
		{"/public/*", "/public", true, nil},
		{"/public/*", "/public/", true, nil},
		{"/public/*", "/public/a", true, nil},
		{"/public/*", "/public/a/b/c.css", true, nil},
		{"/public/*", "/publicity", false, nil},
		{"/public/*", "/publi", false, nil},
		{"/public/*", "/", false, nil},
		{"/public/*", "/other/public", false, nil},
		{"/*", "/", true, nil},
		{"/*", "/anything/at/all/", true, nil},
		{"/a/b/*", "/a", false, nil},
		{"/a/b/*", "/a/b", true, nil},
		{"/api/deals/{id}", "/api/deals/42", true, map[string]string{"id": "42"}},
		{"/api/deals/{id}", "/api/deals/café", true, map[string]string{"id": "café"}},
		{"/api/deals/{id}", "/api/deals", false, nil},
		{"/api/deals/{id}", "/api/deals/42/edit", false, nil},
		{"/api/deals/{id}/edit", "/api/deals/42/edit", true, map[string]string{"id": "42"}},
		{"/api/{kind}/{id}", "/api/deals/7", true, map[string]string{"kind": "deals", "id": "7"}},
		{"/t/{team}/files/*", "/t/red/files", true, map[string]string{"team": "red"}},
		{"/t/{team}/files/*", "/t/red/files/a/b", true, map[string]string{"team": "red"}},
		{"/t/{team}/files/*", "/t/red/filesx", false, nil},
		{"/{a}", "/x", true, map[string]string{"a": "x"}},
		{"/{a}", "/", false, nil}, // a parameter never matches an empty segment
		{"/café", "/café", true, nil},
		{"/a;b", "/a;b", true, nil},
	}
	for _, c := range cases {
		p := mustCompile(t, []Rule{{Path: c.pattern, Access: Public}}, Deny)
		d := p.Decide("example.com", "GET", c.path)
		if got := d.Rule == 0; got != c.match {
			t.Errorf("pattern %q, path %q: matched = %v (%+v); want %v", c.pattern, c.path, got, d, c.match)
			continue
		}
		if !c.match {
			continue
		}
		if d.Pattern != c.pattern || d.Access != Public || d.Default() {
			t.Errorf("pattern %q, path %q: decision %+v", c.pattern, c.path, d)
		}
		if got := d.Params(); !maps.Equal(got, c.params) {
			t.Errorf("pattern %q, path %q: params %v; want %v", c.pattern, c.path, got, c.params)
		}
		for name, want := range c.params {
			if got, ok := d.Param(name); !ok || got != want {
				t.Errorf("pattern %q, path %q: Param(%q) = %q, %v", c.pattern, c.path, name, got, ok)
			}
		}
		if _, ok := d.Param("nope"); ok {
			t.Errorf("pattern %q: Param(nope) found", c.pattern)
		}
	}
}

func TestFirstMatchWins(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "health", Path: "/health", Access: Public},
		{Name: "admin-deny", Path: "/admin/*", Access: Deny},
		{Name: "admin-login", Path: "/admin/login", Access: Public}, // shadowed by admin-deny
		{Name: "deal-delete", Path: "/api/deals/{id}", Methods: []string{"DELETE"}, Access: Deny},
		{Name: "deal-new", Path: "/api/deals/new", Access: Public},
		{Name: "deals", Path: "/api/deals/{id}", Access: SignedIn},
		{Name: "tenant-any", Path: "/{tenant}/settings", Access: Deny},
		{Name: "public", Path: "/public/*", Access: Public},
		{Name: "rest", Path: "/*", Access: SignedIn},
	}, Deny)
	cases := []struct {
		method, path string
		rule         string
		access       Access
	}{
		{"GET", "/health", "health", Public},
		{"GET", "/admin/login", "admin-deny", Deny},
		{"GET", "/admin", "admin-deny", Deny},
		{"DELETE", "/api/deals/new", "deal-delete", Deny},
		{"GET", "/api/deals/new", "deal-new", Public},
		{"GET", "/api/deals/42", "deals", SignedIn},
		{"DELETE", "/api/deals/42", "deal-delete", Deny},
		{"GET", "/public/settings", "tenant-any", Deny}, // rule order, not specificity: tenant-any (6) is before public (7)
		{"GET", "/public/style.css", "public", Public},
		{"GET", "/acme/settings", "tenant-any", Deny},
		{"GET", "/health/settings", "tenant-any", Deny},
		{"GET", "/other", "rest", SignedIn},
		{"GET", "/", "rest", SignedIn},
	}
	for _, c := range cases {
		d := p.Decide("example.com", c.method, c.path)
		if d.Name != c.rule || d.Access != c.access {
			t.Errorf("%s %s: %s/%v; want %s/%v", c.method, c.path, d.Name, d.Access, c.rule, c.access)
		}
	}
}

func TestDefault(t *testing.T) {
	for _, def := range []Access{Deny, SignedIn, Public} {
		p := mustCompile(t, []Rule{{Path: "/x", Access: Public}}, def)
		d := p.Decide("example.com", "GET", "/y")
		if d.Access != def || !d.Default() || d.Rule != -1 || d.Name != "default" || d.Pattern != "" {
			t.Errorf("default %v: %+v", def, d)
		}
		if p.Default() != def || p.Len() != 1 {
			t.Errorf("Default() = %v, Len() = %d", p.Default(), p.Len())
		}
	}
	empty := mustCompile(t, nil, Deny)
	if d := empty.Decide("h", "GET", "/"); d.Access != Deny || !d.Default() {
		t.Errorf("empty policy: %+v", d)
	}
}

func TestDecideRefusesUnnormalizedPaths(t *testing.T) {
	p := mustCompile(t, []Rule{{Path: "/*", Access: Public}}, Public)
	for _, path := range []string{"", "x", "*", "http://a/"} {
		if d := p.Decide("h", "GET", path); d.Access != Deny || d.Name != "invalid path" {
			t.Errorf("Decide(%q) = %+v; want deny", path, d)
		}
	}
}

func TestRuleNames(t *testing.T) {
	p := mustCompile(t, []Rule{{Path: "/a", Access: Public}, {Name: "policy.yaml:12", Path: "/b", Access: Public}}, Deny)
	if d := p.Decide("h", "GET", "/a"); d.Name != "rules[0]" || d.Rule != 0 {
		t.Errorf("unnamed rule: %+v", d)
	}
	if d := p.Decide("h", "GET", "/b"); d.Name != "policy.yaml:12" || d.Rule != 1 {
		t.Errorf("named rule: %+v", d)
	}
}

func TestHosts(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "exact", Host: "Admin.Example.com", Path: "/*", Access: SignedIn},
		{Name: "wild", Host: "*.example.com", Path: "/*", Access: Public},
		{Name: "ip", Host: "10.0.0.1", Path: "/*", Access: Public},
		{Name: "ipv6", Host: "::1", Path: "/*", Access: Public},
	}, Deny)
	cases := map[string]string{
		"admin.example.com":  "exact",
		"ADMIN.EXAMPLE.COM":  "exact",
		"admin.example.com.": "exact",
		"app.example.com":    "wild",
		"APP.Example.Com":    "wild",
		"app.example.com.":   "wild",
		"example.com":        "default",
		"a.b.example.com":    "default", // one label only
		".example.com":       "default",
		"evilexample.com":    "default",
		"example.com.evil":   "default",
		"app.example.co":     "default",
		"10.0.0.1":           "ip",
		"10.0.0.10":          "default",
		"::1":                "ipv6",
		"":                   "default",
	}
	for host, want := range cases {
		if d := p.Decide(host, "GET", "/"); d.Name != want {
			t.Errorf("host %q: rule %s; want %s", host, d.Name, want)
		}
	}
}

func TestMethods(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "read", Methods: []string{"GET"}, Path: "/doc", Access: Public},
		{Name: "write", Methods: []string{"POST", "PUT", "PATCH", "DELETE"}, Path: "/doc", Access: SignedIn},
		{Name: "dav", Methods: []string{"PROPFIND"}, Path: "/doc", Access: Deny},
		{Name: "other", Path: "/doc", Access: SignedIn},
	}, Deny)
	cases := map[string]string{
		"GET":      "read",
		"HEAD":     "read", // GET implies HEAD
		"POST":     "write",
		"DELETE":   "write",
		"PROPFIND": "dav",
		"OPTIONS":  "other",
		"BREW":     "other",
		"":         "other",
	}
	for method, want := range cases {
		if d := p.Decide("h", method, "/doc"); d.Name != want {
			t.Errorf("%q: rule %s; want %s", method, d.Name, want)
		}
	}
}

// TestLenientReadings checks that spellings a lenient upstream treats as the same
// resource cannot reach a less strict rule.
func TestLenientReadings(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "health", Path: "/health", Access: Public},
		{Name: "admin", Path: "/admin/*", Access: Deny},
		{Name: "export", Path: "/api/export", Access: Deny},
		{Name: "delete", Methods: []string{"DELETE"}, Path: "/api/items/{id}", Access: Deny},
		{Name: "Reports", Path: "/Reports/*", Access: SignedIn},
		{Name: "docs-dir", Path: "/docs/", Access: Deny},
		{Name: "Static", Path: "/Static/*", Access: Public},
		{Name: "rest", Path: "/*", Access: Public},
	}, Deny)
	cases := []struct {
		method, path string
		access       Access
		rule         string
		variant      Variant
	}{
		// exact spellings
		{"GET", "/health", Public, "health", 0},
		{"GET", "/admin/users", Deny, "admin", 0},
		{"GET", "/api/export", Deny, "export", 0},
		{"GET", "/Static/logo.png", Public, "Static", 0},
		// case: the upper-case spelling reaches the deny rule
		{"GET", "/ADMIN/users", Deny, "admin", VariantCaseInsensitive},
		{"GET", "/Admin", Deny, "admin", VariantCaseInsensitive},
		{"GET", "/api/EXPORT", Deny, "export", VariantCaseInsensitive},
		// Unicode folds that some platforms apply: "ſ" upper-cases to "S", the Kelvin sign lower-cases to "k"
		{"GET", "/api/export", Deny, "export", 0},
		{"GET", "/api/expo\u0280t", Public, "rest", 0}, // ʀ is not r
		{"GET", "/api/export\u017f", Public, "rest", 0},
		{"GET", "/admin/x", Deny, "admin", 0},
		{"GET", "/\u212aey", Public, "rest", 0},
		// a rule written in upper case covers the lower-case spelling too
		{"GET", "/reports/q1", SignedIn, "Reports", VariantCaseInsensitive},
		{"GET", "/REPORTS/q1", SignedIn, "Reports", VariantCaseInsensitive},
		{"GET", "/static/logo.png", Public, "rest", 0},
		// a case-insensitive reading never makes a public rule stricter than it is
		{"GET", "/Health", Public, "rest", 0},
		// trailing slash: /api/export/ reaches /api/export
		{"GET", "/api/export/", Deny, "export", VariantTrailingSlash},
		{"GET", "/api/EXPORT/", Deny, "export", VariantCaseInsensitive | VariantTrailingSlash},
		{"GET", "/health/", Public, "rest", 0},
		{"GET", "/docs", Deny, "docs-dir", VariantTrailingSlash}, // a pattern's slash counts too
		// path parameters: /api/export;x=1 reaches /api/export (Tomcat, Spring)
		{"GET", "/api/export;jsessionid=1", Deny, "export", VariantPathParams},
		{"GET", "/admin;x/users", Deny, "admin", VariantPathParams},
		{"GET", "/api;x/export;y", Deny, "export", VariantPathParams},
		{"GET", "/api/EXPORT;x/", Deny, "export", VariantCaseInsensitive | VariantTrailingSlash | VariantPathParams},
		// method case
		{"DELETE", "/api/items/7", Deny, "delete", 0},
		{"delete", "/api/items/7", Deny, "delete", VariantMethodCase},
		{"Delete", "/api/items/7", Deny, "delete", VariantMethodCase},
		{"get", "/api/items/7", Public, "rest", 0},
	}
	for _, c := range cases {
		d := p.Decide("example.com", c.method, c.path)
		if d.Access != c.access || d.Name != c.rule || d.Variant != c.variant {
			t.Errorf("%s %s: %v by %s (%v); want %v by %s (%v)", c.method, c.path, d.Access, d.Name, d.Variant, c.access, c.rule, c.variant)
		}
	}
}

func TestUnicodeCaseFolding(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "keys", Path: "/keys/*", Access: Deny},
		{Name: "list", Path: "/list", Access: Deny},
		{Name: "rest", Path: "/*", Access: Public},
	}, Deny)
	for _, path := range []string{
		"/\u212aeys/1", // KELVIN SIGN: lower-cases to k
		"/KEYS/1",
		"/li\u017ft", // LATIN SMALL LETTER LONG S: upper-cases to S
		"/L\u0131ST", // LATIN SMALL LETTER DOTLESS I: upper-cases to I
	} {
		if d := p.Decide("h", "GET", path); d.Access != Deny {
			t.Errorf("%q: %v by %s; want deny", path, d.Access, d.Name)
		}
	}
}

func TestParamsFollowTheDecidingReading(t *testing.T) {
	p := mustCompile(t, []Rule{
		{Name: "deal", Path: "/api/deals/{id}", Access: Deny},
		{Name: "rest", Path: "/*", Access: Public},
	}, Deny)
	cases := []struct{ path, id string }{
		{"/api/deals/AbC", "AbC"},
		{"/API/Deals/AbC", "AbC"},     // case-insensitive reading, value as sent
		{"/api/deals/7/", "7"},        // trailing-slash reading
		{"/api/deals/7;v=1", "7;v=1"}, // the exact reading decides: value as sent
		{"/api;x/deals/7", "7"},
	}
	for _, c := range cases {
		d := p.Decide("h", "GET", c.path)
		if d.Name != "deal" {
			t.Errorf("%s: rule %s", c.path, d.Name)
			continue
		}
		if id, ok := d.Param("id"); !ok || id != c.id {
			t.Errorf("%s: id = %q, %v; want %q", c.path, id, ok, c.id)
		}
	}
}

func TestVariantString(t *testing.T) {
	for v, want := range map[Variant]string{
		0:                                        "exact",
		VariantCaseInsensitive:                   "case-insensitive",
		VariantTrailingSlash | VariantPathParams: "trailing-slash+path-params",
		VariantMethodCase | VariantCaseInsensitive: "case-insensitive+method-case",
		Variant(0x80):                          "Variant(0x80)",
		VariantCaseInsensitive | Variant(0x40): "case-insensitive+Variant(0x40)",
	} {
		if got := v.String(); got != want {
			t.Errorf("Variant(%#x).String() = %q; want %q", uint8(v), got, want)
		}
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, benchRules(1000), Deny)
	for _, c := range []struct{ method, path string }{
		{"GET", "/app99/api/items/42"},
		{"GET", "/App99/API/Items/42/"},
		{"delete", "/app99/api/items/42;x"},
		{"GET", "/nothing"},
		{"GET", "/app9/users/" + strings.Repeat("Ü", 100) + "/files/x"}, // longer than the fold buffer
	} {
		var d Decision
		allocs := testing.AllocsPerRun(100, func() { d = p.Decide("x.example.com", c.method, c.path) })
		if allocs != 0 && !strings.Contains(c.path, "Ü") {
			t.Errorf("Decide(%s %s): %v allocations, want 0", c.method, c.path, allocs)
		}
		if allocs := testing.AllocsPerRun(100, func() { _, _ = d.Param("id") }); allocs != 0 {
			t.Errorf("Param: %v allocations, want 0", allocs)
		}
	}
}

// TestBenchRules pins down what the benchmark measures, so that a broken index
// cannot make it fast by answering wrongly.
func TestBenchRules(t *testing.T) {
	rules := benchRules(1000)
	p := mustCompile(t, rules, Deny)
	for _, c := range []struct {
		host, method, path string
		rule               int
		access             Access
	}{
		{"app.example.com", "GET", "/app99/api/items/42", 997, SignedIn},
		{"x.example.com", "GET", "/app98/users/u1/files/a/b/c.txt", 988, SignedIn},
		{"app.example.com", "GET", "/nothing/here/at/all", -1, Deny},
		// The exact readings of these match no rule, so the default (deny) is the
		// strictest answer.
		{"app.example.com", "GET", "/App99/API/items/42", -1, Deny},
		{"app.example.com", "GET", "/app99/api/items/42/", -1, Deny},
		{"app.example.com", "DELETE", "/app99/api/items/42", 992, Deny},
		{"admin.example.com", "GET", "/app99/admin/x", 994, SignedIn},
		{"app.example.com", "GET", "/app99/admin/x", 995, Deny},
	} {
		d := p.Decide(c.host, c.method, c.path)
		if d.Rule != c.rule || d.Access != c.access {
			t.Errorf("%s %s %s: rule %d %v; want rule %d %v", c.host, c.method, c.path, d.Rule, d.Access, c.rule, c.access)
		}
		if want := reference(rules, Deny, c.host, c.method, c.path); want != d.Access {
			t.Errorf("%s %s %s: reference says %v", c.host, c.method, c.path, want)
		}
	}
}
