package policy

import (
	"strings"
	"testing"
)

// TestAgainstReference compares Decide with a direct transcription of the semantics
// (every rule in order, every reading, strictest wins) on random policies and
// requests, which checks the trie, its pruning and the gating of the readings.
func TestAgainstReference(t *testing.T) {
	rng := newRand(1)
	lits := []string{"a", "b", "A", "api", "Api", "x;y", "\u017f", "s", "S", "k", "\u212a"}
	g := &randGen{rng: rng, lits: lits, paramOneIn: 4, endOneIn: 4, pathParams: true}
	pick, randPath, randPattern := g.pick, g.path, g.pattern
	hosts := []string{"", "", "", "app.example.com", "*.example.com"}
	methods := [][]string{nil, nil, nil, {"GET"}, {"POST", "DELETE"}, {"PROPFIND"}}
	reqHosts := []string{"app.example.com", "other.example.com", "example.com"}
	reqMethods := []string{"GET", "HEAD", "POST", "post", "PropFind", "DELETE"}

	for round := range 300 {
		rules := make([]Rule, 1+rng.IntN(30))
		for i := range rules {
			rules[i] = Rule{
				Host:    pick(hosts),
				Methods: methods[rng.IntN(len(methods))],
				Path:    randPattern(),
				Access:  Access(rng.IntN(int(numAccess))),
			}
			if rules[i].Access == RequirePermission {
				rules[i].Require = "deals:read"
			}
		}
		def := Access(rng.IntN(int(RequirePermission))) // a default never requires a permission
		p, err := Compile(rules, def)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for range 50 {
			host, method, path := pick(reqHosts), pick(reqMethods), randPath()
			got := p.Decide(host, method, path)
			want := reference(rules, def, host, method, path)
			if got.Access != want {
				t.Fatalf("round %d: Decide(%s %s %s) = %v by %s (%v); reference %v\nrules: %+v",
					round, host, method, path, got.Access, got.Name, got.Variant, want, rules)
			}
			if got.Rule >= 0 && rules[got.Rule].Access != got.Access {
				t.Fatalf("decision names rule %d with access %v but says %v", got.Rule, rules[got.Rule].Access, got.Access)
			}
			exact := referenceRule(rules, host, method, path, 0)
			if s := (search{p: p, host: host, method: method}); s.find(path, 0) != exact {
				t.Fatalf("round %d: exact reading of %s %s %s: trie rule %d, reference %d\nrules: %+v",
					round, host, method, path, s.find(path, 0), exact, rules)
			}
		}
	}
}

// reference decides by the definition: every one of the 16 readings, strictest wins.
func reference(rules []Rule, def Access, host, method, path string) Access {
	a := Public
	for v := range Variant(16) {
		i := referenceRule(rules, host, method, path, v)
		if i == noMatch {
			a = Stricter(a, def)
		} else {
			a = Stricter(a, rules[i].Access)
		}
	}
	return a
}

// referenceRule returns the index of the first rule matching under reading v.
func referenceRule(rules []Rule, host, method, path string, v Variant) int32 {
	segs := strings.Split(path[1:], "/")
	for i, r := range rules {
		if r.Host != "" {
			h := strings.ToLower(strings.TrimSuffix(host, "."))
			want := strings.ToLower(r.Host)
			if suffix, ok := strings.CutPrefix(want, "*"); ok {
				label, ok := strings.CutSuffix(h, suffix)
				if !ok || label == "" || strings.Contains(label, ".") {
					continue
				}
			} else if h != want {
				continue
			}
		}
		if len(r.Methods) > 0 {
			found := false
			for _, m := range r.Methods {
				for _, alias := range []string{m, map[string]string{"GET": "HEAD"}[m]} {
					if alias == method || v&VariantMethodCase != 0 && alias != "" && strings.EqualFold(alias, method) {
						found = true
					}
				}
			}
			if !found {
				continue
			}
		}
		if referenceMatch(r.Path, segs, v) {
			return int32(i)
		}
	}
	return noMatch
}

func referenceMatch(pattern string, path []string, v Variant) bool {
	pat := strings.Split(pattern[1:], "/")
	prefix := pat[len(pat)-1] == "*"
	if prefix {
		pat = pat[:len(pat)-1]
	}
	path = append([]string(nil), path...)
	if v&VariantTrailingSlash != 0 {
		if len(path) > 1 && path[len(path)-1] == "" {
			path = path[:len(path)-1]
		}
		if !prefix && len(pat) > 1 && pat[len(pat)-1] == "" {
			pat = pat[:len(pat)-1]
		}
	}
	if v&VariantPathParams != 0 {
		for i, s := range path {
			path[i], _, _ = strings.Cut(s, ";")
		}
		for i, s := range pat {
			pat[i], _, _ = strings.Cut(s, ";")
		}
	}
	if len(path) < len(pat) || !prefix && len(path) != len(pat) {
		return false
	}
	for i, ps := range pat {
		if strings.HasPrefix(ps, "{") {
			if path[i] == "" {
				return false
			}
			continue
		}
		if v&VariantCaseInsensitive != 0 {
			if foldString(ps) != foldString(path[i]) {
				return false
			}
		} else if ps != path[i] {
			return false
		}
	}
	return true
}
