package policy

import (
	"bytes"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/policies"
)

// Fuzz targets of the route policy: the decision on a normalised path, and the
// policy-file reader. Their seed corpora are the f.Add seeds below and the files under
// testdata/fuzz/<target>/; `make fuzz` runs each for longer.

// fuzzPolicies are the policies FuzzDecide decides with: the worked CRM example
// (permissions, owner and team parameters, methods) and one with hosts, wildcards,
// a trailing-slash pattern, a path parameter in a literal and mixed-case literals, so
// that every lenient reading of a request is in play.
func fuzzPolicies(tb testing.TB) []*Policy {
	tb.Helper()
	data, err := policies.FS.ReadFile("crm.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	rules, err := ParseFile("crm.yaml", data)
	if err != nil {
		tb.Fatal(err)
	}
	return []*Policy{
		mustCompile(tb, rules, Deny),
		mustCompile(tb, []Rule{
			{Path: "/admin/*", Access: Deny},
			{Path: "/Reports/{id}", Host: "*.example.com", Access: RequirePermission, Require: "reports:read", MFA: true},
			{Path: "/api/{x}", Methods: []string{"GET"}, Access: Public},
			{Path: "/docs/", Access: Public},
			{Path: "/legacy;jsessionid/*", Access: Deny},
			{Path: "/app/*", Host: "app.example.com", Access: SignedIn},
			{Path: "/*", Access: SignedIn},
		}, Deny),
	}
}

// FuzzDecide checks the decision on any request the gateway can see: only a path
// NormalizePath accepts reaches Decide, and on it the decision is well formed (a rule
// of the policy or the default, its parameters segments of the path), and is the same
// for the path normalised again from its escaped spelling, for the host in any ASCII
// case and with a trailing dot. A path that is not normalised (not absolute) is denied.
func FuzzDecide(f *testing.F) {
	for _, s := range [][3]string{
		{"app.example.com", "GET", "/api/deals"},
		{"APP.example.com.", "get", "/API/deals/"},
		{"x.example.com", "GET", "/Reports/7"},
		{"x.example.com", "GET", "/reports/7;x=1"},
		{"", "POST", "/api/users/u1/deals/d%2f2"},
		{"a.b", "DELETE", "/api/teams/t1/deals;/x"},
		{"app.example.com", "PUT", "/admin%2f..%2fapi/me"},
		{"", "GET", "/legacy;jsessionid/x"},
		{"", "GET", "/docs"},
		{"", "get", "/%EF%BD%81dmin/x"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	pols := fuzzPolicies(f)
	f.Fuzz(func(t *testing.T, host, method, raw string) {
		for _, p := range pols {
			if d := p.Decide(host, method, raw); (raw == "" || raw[0] != '/') && (d.Access != Deny || d.Rule != -1) {
				t.Fatalf("Decide(%q, %q, %q) on a relative path: %+v", host, method, raw, d)
			}
		}
		path, err := NormalizePath(raw)
		if err != nil {
			return
		}
		escaped := (&url.URL{Path: path}).EscapedPath()
		again, err := NormalizePath(escaped)
		if err != nil || again != path {
			t.Fatalf("%q -> %q; escaped %q normalises to %q, %v", raw, path, escaped, again, err)
		}
		for pi, p := range pols {
			d := p.Decide(host, method, path)
			checkDecision(t, p, d, path)
			same := func(what, h, pth string) {
				if o := p.Decide(h, method, pth); !sameDecision(o, d) {
					t.Fatalf("policy %d, %s %s %s: %+v\nbut %s (%s %s): %+v", pi, method, host, path, d, what, h, pth, o)
				}
			}
			same("the path normalised again", host, again)
			same("the host in upper case", asciiUpper(host), path)
			if !strings.HasSuffix(host, ".") {
				same("the host with a trailing dot", host+".", path)
			}
		}
	})
}

// checkDecision checks that d names a rule of p (or the default) consistently, and
// that its parameters are segments of path.
func checkDecision(t *testing.T, p *Policy, d Decision, path string) {
	t.Helper()
	if !d.Access.Valid() {
		t.Fatalf("%s: invalid access %v", path, d.Access)
	}
	if d.Rule < 0 {
		if d.Access != p.Default() && d.Access != Deny {
			t.Fatalf("%s: no rule, access %v (the default is %v)", path, d.Access, p.Default())
		}
		if len(d.Params()) != 0 {
			t.Fatalf("%s: no rule, parameters %v", path, d.Params())
		}
		return
	}
	if d.Rule >= p.Len() {
		t.Fatalf("%s: rule %d of %d", path, d.Rule, p.Len())
	}
	r := &p.rules[d.Rule]
	if d.Access != r.access || d.Name != r.name || d.Pattern != r.pat.raw {
		t.Fatalf("%s: decision %+v does not match its rule %q (%v, %s)", path, d, r.name, r.access, r.pat.raw)
	}
	segs := strings.Split(path[1:], "/")
	for name, v := range d.Params() {
		found := false
		for _, s := range segs {
			if s == v || strings.HasPrefix(s, v+";") {
				found = true
			}
		}
		if v == "" || !found {
			t.Fatalf("%s: parameter %s = %q is not a segment of the path", path, name, v)
		}
	}
}

func sameDecision(a, b Decision) bool {
	return a.Access == b.Access && a.Rule == b.Rule && a.Name == b.Name && a.Variant == b.Variant &&
		reflect.DeepEqual(a.Params(), b.Params())
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// FuzzParseFile checks the policy-file reader on any file: it never panics; ParseFile
// fails exactly when CheckFile reports an error, and every finding points at a line of
// the file; the rules of a file that parses compile, and written out again as a policy
// file they read back as the same rules, which decide every probe request alike.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"crm.yaml", "salon.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"rules:\n  - path: /x\n    access: public\n",
		"rules:\n  - &r {path: /a/{id}, require: 'a:b', owner_param: id, scope: own}\n  - *r\n",
		"rules:\n  - path: /a\n    methods: [GET, GET]\n    audit: [GET]\n    mfa: true\n    access: signed_in\n    name: x\n",
		"rules: []\n",
		"rules:\n- {path: '/*', host: '*.example.com', access: deny, audit: off}\n---\nrules: []\n",
		"a: &a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		findings := CheckFile("p.yaml", data)
		rules, err := ParseFile("p.yaml", data)
		lines := bytes.Count(data, []byte("\n")) + 1
		failed := false
		for _, fd := range findings {
			if fd.Line < 1 || fd.Line > lines || fd.Col < 0 || fd.Msg == "" {
				t.Fatalf("finding %+v outside the file's %d lines", fd, lines)
			}
			failed = failed || !fd.Warning
		}
		if failed != (err != nil) {
			t.Fatalf("CheckFile: %v; ParseFile: %v", findings, err)
		}
		if err != nil {
			return
		}
		p, err := Compile(rules, Deny)
		if err != nil {
			t.Fatalf("the rules of a file that parses do not compile: %v", err)
		}
		out := writePolicyFile(t, rules)
		back, err := ParseFile("q.yaml", out)
		if err != nil {
			t.Fatalf("written out again:\n%s\ndoes not parse: %v", out, err)
		}
		if !reflect.DeepEqual(unnamed(rules), unnamed(back)) {
			t.Fatalf("written out again:\n%s\nreads back differently:\n%+v\n%+v", out, rules, back)
		}
		q, err := Compile(back, Deny)
		if err != nil {
			t.Fatal(err)
		}
		for _, probe := range probes(rules) {
			for _, m := range []string{"GET", "POST", "delete"} {
				a, b := p.Decide("app.example.com", m, probe), q.Decide("app.example.com", m, probe)
				if a.Access != b.Access || a.Rule != b.Rule || !reflect.DeepEqual(a.Params(), b.Params()) {
					t.Fatalf("%s %s: %+v, written out again %+v", m, probe, a, b)
				}
			}
		}
	})
}

// fileRuleOut is a Rule as a policy file spells it.
type fileRuleOut struct {
	Path       string   `yaml:"path"`
	Methods    []string `yaml:"methods,omitempty,flow"`
	Host       string   `yaml:"host,omitempty"`
	Access     string   `yaml:"access,omitempty"`
	Require    string   `yaml:"require,omitempty"`
	Scope      string   `yaml:"scope,omitempty"`
	OwnerParam string   `yaml:"owner_param,omitempty"`
	TeamParam  string   `yaml:"team_param,omitempty"`
	MFA        bool     `yaml:"mfa,omitempty"`
	Audit      any      `yaml:"audit,omitempty"`
	Name       string   `yaml:"name,omitempty"`
}

// writePolicyFile writes rules read by ParseFile back as a policy file.
func writePolicyFile(t *testing.T, rules []Rule) []byte {
	t.Helper()
	var out struct {
		Rules []fileRuleOut `yaml:"rules"`
	}
	for _, r := range rules {
		o := fileRuleOut{Path: r.Path, Methods: r.Methods, Host: r.Host, Require: r.Require,
			Scope: r.Scope.String(), OwnerParam: r.OwnerParam, TeamParam: r.TeamParam, MFA: r.MFA, Name: userName(r.Name)}
		if r.Access != RequirePermission {
			o.Access = r.Access.String()
		}
		switch {
		case r.NoAudit:
			o.Audit = "off"
		case len(r.AuditMethods) > 0:
			o.Audit = r.AuditMethods
		}
		out.Rules = append(out.Rules, o)
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// userName is the name: a file gave a rule, without the "file:line " ParseFile puts
// before it.
func userName(name string) string {
	_, n, _ := strings.Cut(name, " ")
	return n
}

// unnamed returns rules with their names reduced to what the file said.
func unnamed(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Name = userName(r.Name)
		out[i] = r
	}
	return out
}

// probes are request paths that reach the rules: each pattern with its parameters
// and wildcard filled in, and a few others.
func probes(rules []Rule) []string {
	out := []string{"/", "/x", "/x/", "/X/y;z"}
	fill := strings.NewReplacer("*", "any/thing", "{", "p", "}", "")
	for i, r := range rules {
		if i == 50 {
			break
		}
		if path, err := NormalizePath((&url.URL{Path: fill.Replace(r.Path)}).EscapedPath()); err == nil {
			out = append(out, path, path+"/", strings.ToUpper(path))
		}
	}
	return out
}
