package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Policy is a compiled, immutable set of route rules. It is safe for concurrent use.
type Policy struct {
	rules []compiledRule
	def   Access

	// tries holds one search trie per reading of the path, indexed by the
	// pathVariants bits of the reading.
	tries [pathVariants + 1]*node
	// foldLiterals: some literal changes when case-folded, so the case-insensitive
	// reading can differ from the exact one even for an all-lower-case path.
	foldLiterals bool
	// slashPatterns: some pattern ends with "/" (other than "/" itself), so the
	// trailing-slash reading can differ even for a path without one.
	slashPatterns bool
	// paramPatterns: some literal has a ';', so the path-parameter reading can differ
	// even for a path without one.
	paramPatterns bool
}

// maxRules bounds a policy so that rule indexes fit the trie's int32.
const maxRules = 1 << 24

// Compile checks rules and builds a Policy that applies defaultAccess when no rule
// matches (the policy file's default is Deny). Every invalid rule is reported, each
// error naming the rule and the offending value.
func Compile(rules []Rule, defaultAccess Access) (*Policy, error) {
	var errs []error
	if !defaultAccess.Valid() || defaultAccess == RequirePermission {
		errs = append(errs, fmt.Errorf("invalid default access %d", uint8(defaultAccess)))
	}
	if len(rules) > maxRules {
		return nil, fmt.Errorf("too many rules: %d (at most %d)", len(rules), maxRules)
	}
	p := &Policy{def: defaultAccess, rules: make([]compiledRule, len(rules))}
	for i, r := range rules {
		c, err := compileRule(i, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.rules[i] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i := range p.rules {
		for _, s := range p.rules[i].pat.segs {
			p.foldLiterals = p.foldLiterals || needsFold(s.lit)
			p.paramPatterns = p.paramPatterns || strings.IndexByte(s.lit, ';') >= 0
		}
		p.slashPatterns = p.slashPatterns || hasTrailingSlash(p.rules[i].pat)
	}
	for v := range p.tries {
		p.tries[v] = p.buildTrie(Variant(v))
	}
	return p, nil
}

// Len returns the number of rules.
func (p *Policy) Len() int { return len(p.rules) }

// Default returns the access that applies when no rule matches.
func (p *Policy) Default() Access { return p.def }

// Decision is the answer of Decide.
type Decision struct {
	// Access is what the request requires.
	Access Access
	// Rule is the index of the rule that decided, in the slice given to Compile, or -1
	// when no rule matched and the default applied.
	Rule int
	// Name is the rule's name, "default", or "invalid path".
	Name string
	// Pattern is the path pattern of the rule that decided ("" for the default).
	Pattern string
	// Variant is the reading of the request that gave this (the strictest) answer: 0
	// when the request as given decided.
	Variant Variant

	path   string
	params []param

	// extra holds the other rules, reached by other readings of the request, that
	// also ask something of the user (a permission, a second factor): every reading
	// must be allowed, so Authorize checks them too.
	extra  [maxExtra]ruleRef
	nExtra uint8
}

// ruleRef is a rule reached by one reading of one path.
type ruleRef struct {
	rule int32
	v    Variant
	path string
}

// maxExtra bounds the other checked rules a decision carries; a request whose
// readings reach more is denied.
const maxExtra = 4

// Default reports whether no rule matched and the policy's default applied.
func (d Decision) Default() bool { return d.Rule < 0 }

// Param returns the value of the named path parameter of the rule that decided, as the
// request spells it (so for a case-insensitive reading, in the request's case).
func (d Decision) Param(name string) (string, bool) {
	for _, p := range d.params {
		if p.name == name {
			return d.segment(p.seg), true
		}
	}
	return "", false
}

// Params returns every path parameter of the rule that decided (nil when it has none).
// Unlike Param it allocates; it is meant for explaining and logging.
func (d Decision) Params() map[string]string {
	if len(d.params) == 0 {
		return nil
	}
	m := make(map[string]string, len(d.params))
	for _, p := range d.params {
		m[p.name] = d.segment(p.seg)
	}
	return m
}

// segment returns the i-th segment of the decided path, read as Variant reads it.
func (d Decision) segment(i int) string {
	rest := d.path[1:]
	for {
		seg, tail, last := cutSegment(rest)
		if i == 0 {
			if d.Variant&VariantPathParams != 0 {
				seg, _, _ = strings.Cut(seg, ";")
			}
			return seg
		}
		if last {
			return ""
		}
		i, rest = i-1, tail
	}
}

// Variant is a set of lenient readings of a request (see the package doc).
type Variant uint8

const (
	// VariantCaseInsensitive reads path and patterns with case folded.
	VariantCaseInsensitive Variant = 1 << iota
	// VariantTrailingSlash reads path and patterns without a trailing slash.
	VariantTrailingSlash
	// VariantPathParams reads each path segment only up to its first ';'.
	VariantPathParams
	// VariantMethodCase reads the method with ASCII case ignored.
	VariantMethodCase

	// pathVariants are the readings that change how path segments compare; each
	// combination has its own trie.
	pathVariants = VariantCaseInsensitive | VariantTrailingSlash | VariantPathParams
)

var variantNames = [...]string{"case-insensitive", "trailing-slash", "path-params", "method-case"}

// String names the readings in v, joined by "+"; "exact" for none.
func (v Variant) String() string {
	if v == 0 {
		return "exact"
	}
	var names []string
	for i, n := range variantNames {
		if v&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if rest := v &^ (1<<len(variantNames) - 1); rest != 0 {
		names = append(names, fmt.Sprintf("Variant(%#x)", uint8(rest)))
	}
	return strings.Join(names, "+")
}

// Decide returns the access a request requires: the first rule matching host, method
// and path decides, or the default when none does, and when a lenient reading of the
// request could reach a stricter rule, that stricter answer wins (see the package doc).
//
// path must be the output of NormalizePath; a path that does not start with "/" is
// denied. host is the request's host without port, in any case. method is the request
// method as sent. Decide does not allocate.
func (p *Policy) Decide(host, method, path string) Decision {
	if path == "" || path[0] != '/' {
		return Decision{Access: Deny, Rule: -1, Name: "invalid path"}
	}
	host = strings.TrimSuffix(host, ".")

	var need Variant
	if p.foldLiterals || needsFold(path) {
		need |= VariantCaseInsensitive
	}
	if p.slashPatterns || len(path) > 1 && path[len(path)-1] == '/' {
		need |= VariantTrailingSlash
	}
	if p.paramPatterns || strings.IndexByte(path, ';') >= 0 {
		need |= VariantPathParams
	}
	if hasLowerASCII(method) {
		need |= VariantMethodCase
	}

	s := search{p: p, host: host, method: method}
	d := p.decision(s.find(path, 0), path, 0)
	if need == 0 {
		return d
	}
	// Every non-empty subset of the needed readings, so that an upstream lenient in
	// only some of these ways is covered too; fewest readings first, so that the
	// decision names the simplest reading that reached the strictest rule. Every
	// checked rule any reading reaches is kept, so that Authorize asks each.
	var refs [maxExtra + 1]ruleRef
	n := 0
	keep := func(i int32, v Variant) bool {
		if i < 0 || i == noMatch || !p.rules[i].checked() {
			return true
		}
		for _, r := range refs[:n] {
			if r.rule == i {
				return true
			}
		}
		if n == len(refs) {
			return false
		}
		refs[n] = ruleRef{i, v, path}
		n++
		return true
	}
	keep(int32(d.Rule), 0)
	for _, v := range readingOrder {
		if v&^need != 0 {
			continue
		}
		i := s.find(path, v)
		if !keep(i, v) {
			return Decision{Access: Deny, Rule: -1, Name: "too many readings", Variant: v, path: path}
		}
		if a := p.access(i); strictness(a) > strictness(d.Access) {
			d = p.decision(i, path, v)
		}
	}
	if d.Access == RequirePermission || d.Access == SignedIn {
		for _, r := range refs[:n] {
			if int(r.rule) == d.Rule && r.v == d.Variant {
				continue
			}
			if int(d.nExtra) == len(d.extra) {
				return Decision{Access: Deny, Rule: -1, Name: "too many readings", Variant: d.Variant, path: path}
			}
			d.extra[d.nExtra] = r
			d.nExtra++
		}
	}
	return d
}

// readingOrder lists every non-empty combination of readings, fewest first.
var readingOrder = [...]Variant{
	1, 2, 4, 8,
	3, 5, 6, 9, 10, 12,
	7, 11, 13, 14,
	15,
}

// noMatch is the rule index of "no rule matched".
const noMatch = int32(1<<31 - 1)

func (p *Policy) access(i int32) Access {
	if i == noMatch {
		return p.def
	}
	return p.rules[i].access
}

func (p *Policy) decision(i int32, path string, v Variant) Decision {
	if i == noMatch {
		return Decision{Access: p.def, Rule: -1, Name: "default", Variant: v, path: path}
	}

	r := &p.rules[i]
	return Decision{
		Access:  r.access,
		Rule:    int(i),
		Name:    r.name,
		Pattern: r.pat.raw,
		Variant: v,
		path:    path,
		params:  r.pat.params,
	}
}
