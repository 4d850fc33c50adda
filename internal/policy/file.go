package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// A route-policy file (SPEC §8) is YAML:
//
//	rules:
//	  - path: /public/*
//	    access: public            # public | signed_in | deny
//	  - path: /api/deals
//	    methods: [GET]
//	    require: deals:read       # resource:action
//	    scope: tenant             # least scope (own, team or tenant); optional
//	  - path: /api/users/{user}/deals/{id}
//	    require: deals:edit
//	    owner_param: user         # with scope own, {user} must be the caller's id
//	    team_param: team          # below scope tenant, {team} must be one of the caller's teams
//	    mfa: true                 # the session must have used a second factor
//	    audit: off                # on (the default: POST, PUT, PATCH, DELETE are
//	                              # recorded), off, or extra methods: [GET]
//	    host: crm.example.com     # optional
//	    name: edit a deal         # optional, shown in logs and "policy explain"
//
// The file is read as a yaml.Node tree rather than decoded into structs, so that every
// problem is reported at its line and column, all at once, naming the offending value.
// A policy from a file denies what no rule matches (the caller compiles with Deny).

// Finding is one thing "gatehouse policy check" reports about a policy file.
type Finding struct {
	// Line and Col locate the offending text, counted from 1. Col is 0 when the YAML
	// parser gives only a line (syntax errors).
	Line, Col int
	Msg       string
	// Warning: the file works, but likely not as its author meant (an unreachable
	// rule). ParseFile ignores warnings.
	Warning bool
}

// Format returns "file:line:col: msg" ("file:line: msg" without a column), with
// "warning: " before the message of a warning.
func (f Finding) Format(file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:", file, f.Line)
	if f.Col > 0 {
		fmt.Fprintf(&b, "%d:", f.Col)
	}
	b.WriteByte(' ')
	if f.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(f.Msg)
	return b.String()
}

// FileError is an error at a position of a policy file; ParseFile joins them.
type FileError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *FileError) Error() string {
	return Finding{Line: e.Line, Col: e.Col, Msg: e.Msg}.Format(e.File)
}

// ParseFile reads a route-policy file. name is how errors and rule names refer to the
// file (the path the operator gave). Every error is reported, joined, each a
// *FileError "name:line:col: message". Each rule is named "name:line" (and its name:
// after that, when it has one), so that decisions and logs point at it.
//
// The rules are meant for Compile with the default Deny.
func ParseFile(name string, data []byte) ([]Rule, error) {
	frs, fs := parsePolicyFile(name, data)
	var errs []error
	for _, f := range fs {
		if !f.Warning {
			errs = append(errs, &FileError{File: name, Line: f.Line, Col: f.Col, Msg: f.Msg})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rules := make([]Rule, len(frs))
	for i, fr := range frs {
		rules[i] = fr.Rule
	}
	return rules, nil
}

// CheckFile reports everything ParseFile would, and warnings: rules that can never
// match because an earlier rule matches every request they match, and settings that
// have no effect. Findings are in file order; the file is usable when none is an
// error.
func CheckFile(name string, data []byte) []Finding {
	frs, fs := parsePolicyFile(name, data)
	return sortFindings(append(fs, shadowed(frs)...))
}

// ruleKeys are the keys of a rule, in the order the documentation lists them.
var ruleKeys = []string{"path", "methods", "host", "access", "require", "scope", "owner_param", "team_param", "mfa", "audit", "name"}

// fileRule is a rule read from a file, with where it was written.
type fileRule struct {
	Rule
	node  *yaml.Node // the rule's mapping
	valid bool       // no error
}

// fileParser collects the findings of one file.
type fileParser struct {
	findings []Finding
	errors   int
}

func (p *fileParser) at(n *yaml.Node, warning bool, format string, args ...any) {
	p.findings = append(p.findings, Finding{Line: max(n.Line, 1), Col: n.Column, Msg: fmt.Sprintf(format, args...), Warning: warning})
	if !warning {
		p.errors++
	}
}

func (p *fileParser) errorf(n *yaml.Node, format string, args ...any) {
	p.at(n, false, format, args...)
}
func (p *fileParser) warnf(n *yaml.Node, format string, args ...any) { p.at(n, true, format, args...) }

// syntax reports an error of the YAML parser ("yaml: line 3: could not find
// expected ':'").
func (p *fileParser) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	p.findings = append(p.findings, Finding{Line: line, Msg: "YAML: " + msg})
	p.errors++
}

// parsePolicyFile reads a policy file into rules (valid or not) and findings (sorted).
func parsePolicyFile(name string, data []byte) ([]fileRule, []Finding) {
	p := &fileParser{}
	rules := p.file(name, data)
	return rules, sortFindings(p.findings)
}

func (p *fileParser) file(name string, data []byte) []fileRule {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(&doc, "the file is empty: a policy file is rules: followed by a list of route rules")
		} else {
			p.syntax(err)
		}
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		p.errorf(&next, "a second YAML document: a policy file holds one")
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
		return nil
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = resolve(doc.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "want a mapping with a rules: list, not %s", describe(root))
		return nil
	}
	var list *yaml.Node
	p.mapping(root, func(key string, k, v *yaml.Node) {
		switch key {
		case "rules":
			list = resolve(v)
		case "default":
			p.errorf(k, "unknown key default: a policy file denies what no rule matches; to choose otherwise, end the rules with a catch-all (path: /*)")
		default:
			p.errorf(k, "unknown key %q (a policy file has rules:)%s", key, suggest(key, []string{"rules"}))
		}
	})
	switch {
	case list == nil:
		if p.errors == 0 {
			p.errorf(root, "no rules: key (a policy file is rules: followed by a list of route rules)")
		}
		return nil
	case list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null":
		p.warnf(list, "rules: is empty: every request is denied")
		return nil
	case list.Kind != yaml.SequenceNode:
		p.errorf(list, "rules: want a list of rules, not %s", describe(list))
		return nil
	case len(list.Content) == 0:
		p.warnf(list, "rules: is empty: every request is denied")
		return nil
	case len(list.Content) > maxRules:
		p.errorf(list, "%d rules: at most %d", len(list.Content), maxRules)
		return nil
	}
	rules := make([]fileRule, len(list.Content))
	for i, item := range list.Content {
		rules[i] = p.rule(name, i, item)
	}
	return rules
}

// rule reads the i-th rule.
func (p *fileParser) rule(file string, i int, item *yaml.Node) fileRule {
	n := resolve(item)
	fr := fileRule{node: n}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "a rule is a mapping (path:, then access: or require:, ...), not %s", describe(n))
		return fr
	}
	errs := p.errors
	fr.Name = fmt.Sprintf("%s:%d", file, n.Line)
	keys, vals := map[string]*yaml.Node{}, map[string]*yaml.Node{}
	p.mapping(n, func(key string, k, v *yaml.Node) {
		if !slices.Contains(ruleKeys, key) {
			if hint := suggest(key, ruleKeys); hint != "" {
				p.errorf(k, "unknown key %q%s", key, hint)
			} else {
				p.errorf(k, "unknown key %q (a rule has %s)", key, strings.Join(ruleKeys, ", "))
			}
			return
		}
		keys[key], vals[key] = k, resolve(v)
	})

	var pat pattern
	patOK := false
	if v := vals["path"]; v == nil {
		p.errorf(n, "the rule has no path:")
	} else if s, ok := p.str("path", v); ok {
		fr.Path = s
		var err error
		if pat, err = parsePattern(s); err != nil {
			p.errorf(v, "path %q %v", s, err)
		} else {
			patOK = true
		}
	}
	p.methods(&fr, vals["methods"])
	if v := vals["host"]; v != nil {
		if s, ok := p.str("host", v); ok {
			var c compiledRule
			if s == "" {
				p.errorf(v, `host: is "": leave host out to match every host`)
			} else if err := c.setHost(s); err != nil {
				p.errorf(v, "host %q: %v", s, err)
			} else {
				fr.Host = s
			}
		}
	}

	av, rv := vals["access"], vals["require"]
	switch {
	case av == nil && rv == nil:
		p.errorf(n, "the rule has neither access: (public, signed_in or deny) nor require: (a permission, resource:action)")
	case av != nil && rv != nil:
		p.errorf(keys["require"], "a rule has access: or require:, not both (access: is on line %d)", keys["access"].Line)
	}
	accessOK := false
	if av != nil {
		if s, ok := p.str("access", av); ok {
			a, err := ParseAccess(s)
			switch {
			case err != nil && (s == "permission" || strings.Contains(s, ":")):
				p.errorf(av, "%v: a rule that needs a permission says require: resource:action", err)
			case err != nil:
				p.errorf(av, "%v%s", err, suggest(s, []string{"public", "signed_in", "deny"}))
			default:
				fr.Access, accessOK = a, true
			}
		}
	}
	if rv != nil {
		fr.Access = RequirePermission
		if s, ok := p.str("require", rv); ok {
			if _, err := ParseRequirement(s); err != nil {
				p.errorf(rv, "require: %v", err)
			} else {
				fr.Require = s
			}
		}
	}
	needsRequire := func(key, what string) {
		if rv == nil && keys[key] != nil {
			p.errorf(keys[key], "%s: belongs to a rule with require: (%s)", key, what)
		}
	}
	needsRequire("scope", "the least scope of its permission")
	needsRequire("owner_param", "with scope own, the parameter must be the user's id")
	needsRequire("team_param", "below scope tenant, the parameter must be one of the user's teams")
	if v := vals["scope"]; v != nil {
		if s, ok := p.str("scope", v); ok {
			if sc, err := ParseScope(s); err != nil {
				p.errorf(v, "%v%s", err, suggest(s, []string{"own", "team", "tenant"}))
			} else {
				fr.Scope = sc
			}
		}
	}
	param := func(key string) string {
		v := vals[key]
		if v == nil {
			return ""
		}
		s, ok := p.str(key, v)
		if !ok {
			return ""
		}
		if rv != nil && patOK && !slices.ContainsFunc(pat.params, func(q param) bool { return q.name == s }) {
			var names []string
			for _, q := range pat.params {
				names = append(names, "{"+q.name+"}")
			}
			if len(names) == 0 {
				p.errorf(v, "%s %q: the path %s has no parameters", key, s, pat.raw)
			} else {
				p.errorf(v, "%s %q: the path %s has no parameter {%s} (it has %s)", key, s, pat.raw, s, strings.Join(names, ", "))
			}
		}
		return s
	}
	fr.OwnerParam, fr.TeamParam = param("owner_param"), param("team_param")
	if rv != nil && fr.OwnerParam != "" && fr.Scope > ScopeOwn {
		p.warnf(keys["owner_param"], "owner_param has no effect with scope %s: it is checked only for users whose best scope is own, and those are refused here", fr.Scope)
	}
	if rv != nil && fr.TeamParam != "" && fr.Scope == ScopeTenant {
		p.warnf(keys["team_param"], "team_param has no effect with scope tenant: it is checked only for users whose best scope is below tenant, and those are refused here")
	}

	if v := vals["mfa"]; v != nil {
		var b bool
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
			p.errorf(v, "mfa: want true or false, not %s", describe(v))
		} else if fr.MFA = b; b && rv == nil && accessOK && fr.Access != SignedIn {
			p.errorf(keys["mfa"], "mfa: true needs access: signed_in or a require: rule, not access: %s", fr.Access)
		}
	}
	p.audit(&fr, vals["audit"])
	if v := vals["name"]; v != nil {
		if s, ok := p.str("name", v); ok {
			switch {
			case strings.TrimSpace(s) == "":
				p.errorf(v, "name: is empty")
			case len(s) > 200:
				p.errorf(v, "name: longer than 200 bytes")
			case strings.ContainsFunc(s, unicode.IsControl):
				p.errorf(v, "name %q: has control characters", s)
			default:
				fr.Name += " " + s
			}
		}
	}

	fr.valid = p.errors == errs
	if fr.valid {
		// Compile's own checks, in case they know something the file reader does not.
		if _, err := compileRule(i, fr.Rule); err != nil {
			p.errorf(n, "%v", err)
			fr.valid = false
		}
	}
	return fr
}

// methods reads a rule's methods: list.
func (p *fileParser) methods(fr *fileRule, v *yaml.Node) {
	switch {
	case v == nil:
		return
	case v.Kind != yaml.SequenceNode:
		p.errorf(v, "methods: want a list, e.g. [GET, HEAD], not %s", describe(v))
		return
	case len(v.Content) == 0:
		p.errorf(v, "methods: is an empty list: leave methods out to match every method")
		return
	}
	for _, m := range v.Content {
		m = resolve(m)
		s, ok := p.str("method", m)
		switch {
		case !ok:
		case checkMethod(s) != nil:
			p.errorf(m, "method %q: %v", s, checkMethod(s))
		case slices.Contains(fr.Methods, s):
			p.warnf(m, "method %s is listed twice", s)
		default:
			fr.Methods = append(fr.Methods, s)
		}
	}
}

// audit reads a rule's audit: on, off (true and false too), or a list of methods
// recorded besides the writes.
func (p *fileParser) audit(fr *fileRule, v *yaml.Node) {
	switch {
	case v == nil:
		return
	case v.Kind == yaml.ScalarNode:
		switch strings.ToLower(v.Value) {
		case "on", "true":
		case "off", "false":
			fr.NoAudit = true
		default:
			p.errorf(v, "audit: want on, off or a list of methods to record besides the writes (e.g. [GET]), not %s", describe(v))
		}
		return
	case v.Kind != yaml.SequenceNode || len(v.Content) == 0:
		p.errorf(v, "audit: want on, off or a non-empty list of methods (e.g. [GET]), not %s", describe(v))
		return
	}
	for _, m := range v.Content {
		m = resolve(m)
		s, ok := p.str("audit method", m)
		switch {
		case !ok:
		case checkMethod(s) != nil:
			p.errorf(m, "audit method %q: %v", s, checkMethod(s))
		case methodBit(s)&writeMethods != 0:
			p.warnf(m, "audit method %s is recorded anyway (POST, PUT, PATCH and DELETE always are)", s)
		case slices.Contains(fr.AuditMethods, s):
			p.warnf(m, "audit method %s is listed twice", s)
		default:
			fr.AuditMethods = append(fr.AuditMethods, s)
		}
	}
}

// sortFindings orders findings by position (then message) and drops repeats (a rule
// used twice through a YAML alias).
func sortFindings(fs []Finding) []Finding {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(fs)
}
