package policy

import (
	"slices"
	"strings"
)

// Unreachable rules. A rule is shadowed when one earlier rule matches every request
// it matches: first match wins, so it never decides. The check is conservative: it
// reports only what is certain, comparing one earlier rule at a time (a rule covered
// only by several earlier ones together is not reported).
//
// Because an earlier rule that covers a later one covers it under every lenient
// reading too (each reading transforms both patterns' literals and the path alike),
// a shadowed rule is never reached by any reading either, so Authorize never checks
// it.

// shadowed returns a warning for every valid rule that an earlier valid rule covers.
func shadowed(rules []fileRule) []Finding {
	compiled := make([]*compiledRule, len(rules))
	for i, fr := range rules {
		if !fr.valid {
			continue
		}
		c, err := compileRule(i, fr.Rule)
		if err != nil {
			continue
		}
		compiled[i] = &c
	}
	var p fileParser
	for j, b := range compiled {
		if b == nil {
			continue
		}
		for i, a := range compiled[:j] {
			if a != nil && a.covers(b) {
				p.warnf(rules[j].node, "unreachable: the rule on line %d (%s) matches every request this one matches, and comes first",
					rules[i].node.Line, describeRule(&rules[i].Rule))
				break
			}
		}
	}
	return p.findings
}

// describeRule names a rule's match briefly: "GET crm.example.com /api/*".
func describeRule(r *Rule) string {
	var parts []string
	if len(r.Methods) > 0 {
		parts = append(parts, strings.Join(r.Methods, ","))
	}
	if r.Host != "" {
		parts = append(parts, r.Host)
	}
	return strings.Join(append(parts, r.Path), " ")
}

// covers reports whether c matches every request b matches, under every reading.
func (c *compiledRule) covers(b *compiledRule) bool {
	return c.coversHost(b) && c.coversMethods(b) && c.pat.covers(b.pat)
}

func (c *compiledRule) coversHost(b *compiledRule) bool {
	switch {
	case c.host == "":
		return true
	case b.host == "":
		return false
	case !c.wildcard:
		return !b.wildcard && c.host == b.host
	case b.wildcard:
		return c.host == b.host
	}
	label, ok := strings.CutSuffix(b.host, c.host)
	return ok && label != "" && !strings.Contains(label, ".")
}

func (c *compiledRule) coversMethods(b *compiledRule) bool {
	switch {
	case c.anyMethod:
		return true
	case b.anyMethod, b.methods&^c.methods != 0:
		return false
	}
	for _, m := range b.other {
		if !slices.Contains(c.other, m) {
			return false
		}
	}
	return true
}

// covers reports whether every path b matches, a matches: a parameter covers any
// segment that is never empty (a parameter or a literal), a literal only the same
// literal, and a prefix pattern everything below its segments.
func (a pattern) covers(b pattern) bool {
	if len(b.segs) < len(a.segs) || !a.prefix && (b.prefix || len(b.segs) != len(a.segs)) {
		return false
	}
	for i, s := range a.segs {
		t := b.segs[i]
		switch {
		case s.param:
			if !t.param && t.lit == "" {
				return false
			}
		case t.param || t.lit != s.lit:
			return false
		}
	}
	return true
}
