package policy

import (
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
)

// Explanation says how a policy decides one request ("gatehouse policy explain"):
// the rules tried in order and why each did not match, which reading of the request
// decided, the decision, and, for a signed-in user, what Authorize answers. Write
// prints it as text.
//
// Explain is for people, not for the request path: it allocates freely and tries the
// rules one by one instead of using the trie (a test checks that both agree).
type Explanation struct {
	// Host, Method and Path are the request as given.
	Host, Method, Path string
	// PathError is set when NormalizePath refuses the path: the gateway answers 400
	// and no rule applies (nothing below is set).
	PathError error
	// Normalized is the decoded path the rules are matched against.
	Normalized string
	// Subject is the signed-in user; nil for an anonymous request.
	Subject *Subject

	// Tried lists the rules in order, matched as the deciding reading (Decision.Variant)
	// reads the request, up to and including the deciding rule; every rule when none
	// matched.
	Tried []RuleTrial
	// Readings lists the lenient readings of the request that reach another rule than
	// the request as given (Rule -1: none, so the default); a reading is left out when
	// one with fewer of its leniencies reaches the same rule.
	Readings []Reading
	// Decision is Decide's answer; Params its rule's path parameters.
	Decision Decision
	Params   map[string]string
	// Also lists the other rules Authorize checks: reached by other readings, they too
	// ask for a permission or a second factor.
	Also []Reading
	// Verdict is Authorize's answer, set for a signed-in Subject when the decision is
	// SignedIn or RequirePermission.
	Verdict *Verdict

	// Allowed says whether the request goes through; Result says why, in one line.
	Allowed bool
	Result  string
}

// RuleTrial is one rule tried against the request.
type RuleTrial struct {
	Rule int // index of the rule
	Name string
	// Host ("" for every host), Methods (nil for every method) and Pattern are what
	// the rule matches; Requires what it asks: "public", "signed_in", "deny", or a
	// permission with its conditions ("deals:edit scope=team owner={user} mfa").
	Host     string
	Methods  []string
	Pattern  string
	Requires string
	Match    bool
	// Misses says why the rule did not match, one entry per part: host, method, path.
	Misses []string
}

// Reading is the rule that one reading of the request reaches.
type Reading struct {
	Variant Variant
	Rule    int // -1: none, the default applies
	Name    string
	Access  Access
	// Requires is what the rule asks, as in RuleTrial.
	Requires string
}

// Explain explains the decision on a request. host may carry a port; path is the
// request path as sent (escaped, as in the request line; a query is ignored), and is
// normalized as the gateway does. s is the signed-in user, or nil for an anonymous
// request.
func (p *Policy) Explain(host, method, path string, s *Subject) Explanation {
	e := Explanation{Host: host, Method: method, Path: path, Subject: s}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	np, err := NormalizePath(path)
	if err != nil {
		e.PathError, e.Result = err, "refused with 400 Bad Request: "+err.Error()
		return e
	}
	e.Normalized = np
	host = hostWithoutPort(host)
	d := p.Decide(host, method, np)
	e.Decision, e.Params = d, d.Params()

	host = strings.TrimSuffix(host, ".")
	last := len(p.rules) - 1
	if d.Rule >= 0 {
		last = d.Rule
	}
	for i := 0; i <= last; i++ {
		e.Tried = append(e.Tried, p.trial(i, host, method, np, d.Variant))
	}
	// Each reading that reaches another rule than the exact one, unless a reading
	// with fewer leniencies already reached that rule.
	exact := p.scan(host, method, np, 0)
next:
	for _, v := range readingOrder {
		i := p.scan(host, method, np, v)
		if i == exact {
			continue
		}
		for _, r := range e.Readings {
			if r.Rule == i && r.Variant&^v == 0 {
				continue next
			}
		}
		e.Readings = append(e.Readings, p.reading(i, v))
	}
	for _, r := range d.extra[:d.nExtra] {
		e.Also = append(e.Also, p.reading(int(r.rule), r.v))
	}

	switch {
	case d.Access == Public:
		e.Allowed, e.Result = true, "allowed: the route is public"
	case d.Access == Deny && d.Rule >= 0:
		e.Result = "refused: the rule " + d.Name + " denies every request"
	case d.Access == Deny && d.Name == "default":
		e.Result = "refused: no rule matches, and the policy denies what no rule matches"
	case d.Access == Deny:
		e.Result = "refused: " + d.Name
	case s == nil:
		e.Result = "refused: the route needs a signed-in user (sign in first)"
	default:
		v := p.Authorize(&d, s)
		e.Verdict = &v
		switch {
		case v.Outcome == Allowed && v.Permission != "":
			e.Allowed, e.Result = true, fmt.Sprintf("allowed: %s, the user's scope %s", v.Permission, v.Scope)
		case v.Outcome == Allowed:
			e.Allowed, e.Result = true, "allowed: the user is signed in"
		case v.Outcome == MFARequired:
			e.Result = "refused until the user steps up: " + v.Reason
		default:
			e.Result = "refused (forbidden): " + v.Reason
		}
	}
	return e
}

// hostWithoutPort strips a port (and IPv6 brackets) as the gateway does.
func hostWithoutPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// scan returns the first rule matching the request under reading v, or -1, trying
// the rules one by one.
func (p *Policy) scan(host, method, path string, v Variant) int {
	fold := v&VariantMethodCase != 0
	bit := methodBit(method)
	if fold {
		bit = methodBitFold(method)
	}
	for i := range p.rules {
		c := &p.rules[i]
		if c.matchHost(host) && c.matchMethod(method, bit, fold) && c.pat.miss(path, v, false) == "" {
			return i
		}
	}
	return -1
}

func (p *Policy) reading(i int, v Variant) Reading {
	if i < 0 || i == int(noMatch) {
		return Reading{Variant: v, Rule: -1, Name: "default", Access: p.def, Requires: p.def.String()}
	}
	c := &p.rules[i]
	return Reading{Variant: v, Rule: i, Name: c.name, Access: c.access, Requires: c.requires()}
}

// trial tries rule i on the request as reading v reads it.
func (p *Policy) trial(i int, host, method, path string, v Variant) RuleTrial {
	c := &p.rules[i]
	t := RuleTrial{Rule: i, Name: c.name, Pattern: c.pat.raw, Requires: c.requires(), Host: c.host}
	if c.wildcard {
		t.Host = "*" + c.host
	}
	if !c.anyMethod {
		for j, m := range knownMethods {
			if c.methods&(1<<j) != 0 {
				t.Methods = append(t.Methods, m)
			}
		}
		t.Methods = append(t.Methods, c.other...)
	}
	if !c.matchHost(host) {
		if c.wildcard {
			t.Misses = append(t.Misses, fmt.Sprintf("host %q is not one label under %s", host, t.Host))
		} else {
			t.Misses = append(t.Misses, fmt.Sprintf("host %q is not %s", host, t.Host))
		}
	}
	fold := v&VariantMethodCase != 0
	bit := methodBit(method)
	if fold {
		bit = methodBitFold(method)
	}
	if !c.matchMethod(method, bit, fold) {
		t.Misses = append(t.Misses, fmt.Sprintf("method %s is not %s", method, strings.Join(t.Methods, ", ")))
	}
	if miss := c.pat.miss(path, v, true); miss != "" {
		t.Misses = append(t.Misses, "path: "+miss)
	}
	t.Match = len(t.Misses) == 0
	return t
}

// requires says what the rule asks, in the policy file's words.
func (c *compiledRule) requires() string {
	s := c.access.String()
	if c.access == RequirePermission {
		s = c.reqString
		if c.minScope > ScopeOwn {
			s += " scope=" + c.minScope.String()
		}
		for _, q := range c.pat.params {
			if q.seg == c.ownerSeg {
				s += " owner={" + q.name + "}"
			}
			if q.seg == c.teamSeg {
				s += " team={" + q.name + "}"
			}
		}
	}
	if c.mfa {
		s += " mfa"
	}
	return s
}

// miss says why pat does not match path under reading v ("" when it matches; without
// why, just "no"). It is the definition the trie implements, one pattern at a time.
func (pat *pattern) miss(path string, v Variant, why bool) string {
	if v&VariantTrailingSlash != 0 && len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	raw := strings.Split(path[1:], "/")
	segs := slices.Clone(raw)
	for i := range segs {
		segs[i] = v.readSegment(segs[i])
	}
	psegs := pat.segs
	if v&VariantTrailingSlash != 0 && hasTrailingSlash(*pat) {
		psegs = psegs[:len(psegs)-1]
	}
	if !why {
		if len(segs) < len(psegs) || !pat.prefix && len(segs) > len(psegs) {
			return "no"
		}
		for i, s := range psegs {
			if s.param && segs[i] == "" || !s.param && v.readSegment(s.lit) != segs[i] {
				return "no"
			}
		}
		return ""
	}
	for i, s := range psegs {
		if i >= len(segs) {
			return fmt.Sprintf("the path has %d segment(s); %s needs %d", len(segs), pat.raw, len(psegs))
		}
		if s.param {
			if segs[i] == "" {
				return fmt.Sprintf("segment %d is empty; {%s} needs a value", i+1, pat.paramAt(i))
			}
			continue
		}
		if v.readSegment(s.lit) != segs[i] {
			how := ""
			if v&(VariantCaseInsensitive|VariantPathParams) != 0 {
				how = " (as the " + (v & (VariantCaseInsensitive | VariantPathParams)).String() + " reading compares)"
			}
			return fmt.Sprintf("segment %d is %q, not %q%s", i+1, raw[i], s.lit, how)
		}
	}
	if !pat.prefix && len(segs) > len(psegs) {
		return fmt.Sprintf("the path has %d segments; %s has %d and does not end with /*", len(segs), pat.raw, len(psegs))
	}
	return ""
}

// readSegment returns a path segment or pattern literal as reading v compares it.
func (v Variant) readSegment(s string) string {
	if v&VariantPathParams != 0 {
		s, _, _ = strings.Cut(s, ";")
	}
	if v&VariantCaseInsensitive != 0 {
		s = foldString(s)
	}
	return s
}

// paramAt names the parameter at segment i.
func (pat *pattern) paramAt(i int) string {
	for _, q := range pat.params {
		if q.seg == i {
			return q.name
		}
	}
	return "?"
}

// Write prints the explanation as a text report.
func (e Explanation) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "request\t%s %s %s\n", e.Method, orNone(e.Host, "(no host)"), e.Path)
	if e.PathError != nil {
		fmt.Fprintf(tw, "result\t%s\n", e.Result)
		return tw.Flush()
	}
	if e.Normalized != e.Path {
		fmt.Fprintf(tw, "path\t%s (decoded)\n", e.Normalized)
	}
	if s := e.Subject; s == nil {
		fmt.Fprintf(tw, "user\tanonymous\n")
	} else {
		mfa := "no"
		if s.MFA {
			mfa = "yes"
		}
		var perms []string
		for _, p := range s.Grants.Permissions() {
			perms = append(perms, p.String())
		}
		fmt.Fprintf(tw, "user\t%s, teams: %s, second factor: %s\n", orNone(s.UserID, `""`), orNone(strings.Join(s.Teams, ", "), "none"), mfa)
		fmt.Fprintf(tw, "grants\t%s\n", orNone(strings.Join(perms, ", "), "nothing"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nrules tried in order (%s reading):\n", e.Decision.Variant)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range e.Tried {
		match := strings.Join(t.Methods, ",")
		if match == "" {
			match = "*"
		}
		if t.Host != "" {
			match += " " + t.Host
		}
		outcome := "MATCH"
		if !t.Match {
			outcome = "no: " + strings.Join(t.Misses, "; ")
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s %s\t%s\t%s\n", t.Rule, t.Name, match, t.Pattern, t.Requires, outcome)
	}
	if len(e.Tried) == 0 {
		fmt.Fprintf(tw, "  (the policy has no rules)\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(e.Readings) > 0 {
		fmt.Fprintf(w, "\nlenient readings that reach another rule (the strictest answer wins):\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range e.Readings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Variant, r.Name, r.Requires)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	d := e.Decision
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if d.Rule >= 0 {
		fmt.Fprintf(tw, "decision\t%s by %s (rule %d, pattern %s, %s reading)\n", d.Access, d.Name, d.Rule, d.Pattern, d.Variant)
	} else {
		fmt.Fprintf(tw, "decision\t%s by %s (%s reading)\n", d.Access, d.Name, d.Variant)
	}
	if len(e.Params) > 0 {
		var ps []string
		for _, k := range slices.Sorted(maps.Keys(e.Params)) {
			ps = append(ps, k+"="+e.Params[k])
		}
		fmt.Fprintf(tw, "params\t%s\n", strings.Join(ps, " "))
	}
	for _, r := range e.Also {
		fmt.Fprintf(tw, "also checked\t%s (%s, reached by the %s reading)\n", r.Name, r.Requires, r.Variant)
	}
	if v := e.Verdict; v != nil {
		line := v.Outcome.String()
		if v.Permission != "" {
			line += fmt.Sprintf("; %s, the user's best scope %s", v.Permission, orNone(v.Scope.String(), "none"))
		}
		if v.Reason != "" {
			line += "; " + v.Reason
		}
		fmt.Fprintf(tw, "verdict\t%s\n", line)
	}
	fmt.Fprintf(tw, "result\t%s\n", e.Result)
	return tw.Flush()
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
