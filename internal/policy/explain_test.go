package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestExplainGolden explains a set of requests against testdata/explain/policy.yaml
// and compares the reports with testdata/explain/requests.golden (-update rewrites it).
func TestExplainGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/explain/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseFile("policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, rules, Deny)

	roles := BuiltinRoles()
	member := &Subject{UserID: "u1", Teams: []string{"red"}, Grants: roles.Grants([]string{RoleMember})}
	manager := &Subject{UserID: "u2", Teams: []string{"red"}, Grants: roles.Grants([]string{RoleManager})}
	managerMFA := &Subject{UserID: "u2", Teams: []string{"red"}, Grants: roles.Grants([]string{RoleManager}), MFA: true}
	admin := &Subject{UserID: "u3", Grants: roles.Grants([]string{RoleAdmin})}

	cases := []struct {
		title              string
		host, method, path string
		s                  *Subject
	}{
		{"public page, anonymous", "crm.example.com:443", "GET", "/static/app.css?v=3", nil},
		{"permission route, anonymous", "crm.example.com", "GET", "/api/users/u1/deals/7", nil},
		{"member reads own deal", "crm.example.com", "GET", "/api/users/u1/deals/7", member},
		{"member reads another user's deal (IDOR)", "crm.example.com", "GET", "/api/users/u9/deals/7", member},
		{"member lists every deal", "crm.example.com", "GET", "/api/deals", member},
		{"admin lists every deal", "crm.example.com", "HEAD", "/api/deals", admin},
		{"manager deletes a deal of another team", "crm.example.com", "DELETE", "/api/teams/blue/deals/7", managerMFA},
		{"manager deletes a deal of their team without a second factor", "crm.example.com", "DELETE", "/api/teams/red/deals/7", manager},
		{"case trick on a denied prefix", "crm.example.com", "GET", "/ADMIN/users", admin},
		{"signed-in route on another host", "other.example.com", "GET", "/api/me", member},
		{"another reading reaches a stricter permission rule", "crm.example.com", "GET", "/api/reports/q1", manager},
		{"encoded slash", "crm.example.com", "GET", "/api%2fdeals", member},
	}
	var b strings.Builder
	for i, c := range cases {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "=== %s\n", c.title)
		e := p.Explain(c.host, c.method, c.path, c.s)
		if err := e.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "testdata/explain/requests.golden", b.String())
}

// TestExplainAgreesWithDecide: the rule-by-rule matching Explain uses gives, for
// every reading, the rule the trie finds, and Explain's summary agrees with
// Decide and Authorize.
func TestExplainAgreesWithDecide(t *testing.T) {
	rng := newRand(3)
	lits := []string{"a", "b", "A", "x;y", "\u017f", "s", "K", "\u212a"}
	g := &randGen{rng: rng, lits: lits, paramOneIn: 4, endOneIn: 4, pathParams: true}
	pick, randPath, randPattern := g.pick, g.path, g.pattern
	hosts := []string{"", "", "app.example.com", "*.example.com"}
	methods := [][]string{nil, nil, {"GET"}, {"POST", "DELETE"}, {"PROPFIND"}}
	reqHosts := []string{"app.example.com", "other.example.com", "example.com"}
	reqMethods := []string{"GET", "HEAD", "post", "PropFind", "DELETE"}
	s := &Subject{UserID: "a", Teams: []string{"b"}, Grants: BuiltinRoles().Grants([]string{RoleMember})}

	rounds := 150
	if testing.Short() {
		rounds = 40
	}
	for round := range rounds {
		rules := make([]Rule, 1+rng.IntN(20))
		for i := range rules {
			rules[i] = Rule{Host: pick(hosts), Methods: methods[rng.IntN(len(methods))], Path: randPattern(),
				Access: Access(rng.IntN(int(numAccess)))}
			if rules[i].Access == RequirePermission {
				rules[i].Require = "deals:read"
			}
		}
		p, err := Compile(rules, Deny)
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			host, method, path := pick(reqHosts), pick(reqMethods), randPath()
			sr := search{p: p, host: host, method: method}
			for v := range Variant(16) {
				want := sr.find(path, v)
				if want == noMatch {
					want = -1
				}
				if got := p.scan(host, method, path, v); got != int(want) {
					t.Fatalf("round %d: %s %s %s, %v reading: scan %d, trie %d\nrules %+v", round, host, method, path, v, got, want, rules)
				}
				if want >= 0 && !p.trial(int(want), host, method, path, v).Match {
					t.Fatalf("%s %s %s, %v reading: the trial of rule %d says no: %+v", host, method, path, v, want, p.trial(int(want), host, method, path, v))
				}
			}
			if np, err := NormalizePath(path); err != nil || np != path {
				continue // Explain normalizes the path first
			}
			for _, subj := range []*Subject{nil, s} {
				e := p.Explain(host, method, path, subj)
				d := p.Decide(host, method, path)
				if e.Decision.Rule != d.Rule || e.Decision.Access != d.Access || e.Decision.Variant != d.Variant {
					t.Fatalf("Explain decision %+v, Decide %+v", e.Decision, d)
				}
				if n := len(e.Tried); d.Rule >= 0 && (n != d.Rule+1 || !e.Tried[n-1].Match) {
					t.Fatalf("%s %s %s: tried %d rules, decided by %d (%+v)", host, method, path, n, d.Rule, e.Tried)
				}
				for _, tr := range e.Tried[:max(len(e.Tried)-1, 0)] {
					if tr.Match || len(tr.Misses) == 0 {
						t.Fatalf("rule %d tried before the deciding one: %+v", tr.Rule, tr)
					}
				}
				allowed := d.Access == Public
				if subj != nil && (d.Access == SignedIn || d.Access == RequirePermission) {
					allowed = p.Authorize(&d, subj).Outcome == Allowed
				}
				if e.Allowed != allowed {
					t.Fatalf("%s %s %s as %v: Explain allowed=%v (%s), want %v", host, method, path, subj, e.Allowed, e.Result, allowed)
				}
			}
		}
	}
}

func TestExplainRefusedPath(t *testing.T) {
	p := mustCompile(t, []Rule{{Path: "/*", Access: Public}}, Deny)
	e := p.Explain("example.com", "GET", "/a/%2e%2e/admin", nil)
	if e.PathError == nil || e.Allowed || !strings.Contains(e.Result, "400") {
		t.Errorf("refused path explained as %+v", e)
	}
	var b strings.Builder
	if err := e.Write(&b); err != nil || !strings.Contains(b.String(), "400") {
		t.Errorf("report %q, %v", b.String(), err)
	}
}
