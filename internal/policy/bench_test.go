package policy

import (
	"fmt"
	weakrand "math/rand/v2"
	"testing"
)

// benchRules returns n rules shaped like a large real policy: 100 apps (first path
// segment), each with exact, prefix, parameter, method- and host-restricted rules,
// and a few rules whose first segment is a parameter, so that every request has
// several candidate subtrees. The request used by the benchmarks matches a rule near
// the end.
func benchRules(n int) []Rule {
	rules := make([]Rule, 0, n)
	for i := 0; len(rules) < n; i++ {
		app := fmt.Sprintf("/app%d", i)
		for _, r := range []Rule{
			{Path: app + "/health", Access: Public},
			{Path: app + "/static/*", Access: Public},
			{Path: app + "/api/items/{id}", Methods: []string{"DELETE"}, Access: Deny},
			{Path: app + "/api/items/{id}/edit", Methods: []string{"POST", "PUT"}, Access: SignedIn},
			{Path: app + "/admin/*", Host: "admin.example.com", Access: SignedIn},
			{Path: app + "/admin/*", Access: Deny},
			{Path: "/{tenant}/reports/" + fmt.Sprint(i), Access: SignedIn},
			{Path: app + "/api/items/{id}", Access: SignedIn},
			{Path: app + "/users/{user}/files/*", Host: "*.example.com", Access: SignedIn},
			{Path: app + "/", Access: Public},
		} {
			if len(rules) < n {
				rules = append(rules, r)
			}
		}
	}
	return rules
}

func mustCompile(tb testing.TB, rules []Rule, def Access) *Policy {
	tb.Helper()
	p, err := Compile(rules, def)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func BenchmarkDecide1000(b *testing.B) {
	p := mustCompile(b, benchRules(1000), Deny)
	cases := []struct{ name, host, method, path string }{
		{"param-near-end", "app.example.com", "GET", "/app99/api/items/42"},
		{"prefix-near-end", "x.example.com", "GET", "/app98/users/u1/files/a/b/c.txt"},
		{"no-match-default", "app.example.com", "GET", "/nothing/here/at/all"},
		{"upper-case-path", "app.example.com", "GET", "/App99/API/items/42"},
		{"trailing-slash", "app.example.com", "GET", "/app99/api/items/42/"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Decide(c.host, c.method, c.path)
			}
		})
	}
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"clean", "/app99/api/items/42/edit"},
		{"encoded", "/app99/api/items/caf%C3%A9/edit"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NormalizePath(c.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func newRand(seed uint64) *weakrand.Rand { return weakrand.New(weakrand.NewPCG(seed, seed)) }

// BenchmarkDecide1000SharedPrefix is the shape a linear scan or a first-segment index
// handles worst: every rule starts with /api, many with parameters, and the matching
// rule is the last one.
func BenchmarkDecide1000SharedPrefix(b *testing.B) {
	rules := make([]Rule, 0, 1000)
	for i := 0; len(rules) < 999; i++ {
		rules = append(rules,
			Rule{Path: fmt.Sprintf("/api/{version}/res%d/{id}", i), Methods: []string{"DELETE"}, Access: Deny},
			Rule{Path: fmt.Sprintf("/api/v1/res%d/*", i), Host: "admin.example.com", Access: SignedIn},
			Rule{Path: fmt.Sprintf("/api/{version}/res%d", i), Access: Public},
		)
	}
	rules = append(rules[:999], Rule{Path: "/api/{version}/{kind}/{id}/*", Access: SignedIn})
	p := mustCompile(b, rules, Deny)
	if d := p.Decide("app.example.com", "GET", "/api/v1/other/42/x"); d.Rule != 999 {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Decide("app.example.com", "GET", "/api/v1/other/42/x")
	}
}
