package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Which proxied requests are recorded in the audit trail (SPEC §9): by default the
// writes — POST, PUT, PATCH and DELETE — on every route. A rule can stop recording
// (NoAudit) or record more methods (AuditMethods, in addition to the writes).

// writeMethods are the methods recorded by default.
var writeMethods = methodBit("POST") | methodBit("PUT") | methodBit("PATCH") | methodBit("DELETE")

// auditSet is the compiled form of a rule's audit settings.
type auditSet struct {
	off     bool
	methods methodSet
	other   []string // extra methods outside the well-known set
}

func compileAudit(r Rule) (auditSet, error) {
	a := auditSet{off: r.NoAudit, methods: writeMethods}
	if r.NoAudit && len(r.AuditMethods) > 0 {
		return a, fmt.Errorf("audit off and audit methods %s: one or the other", strings.Join(r.AuditMethods, ","))
	}
	var errs []error
	for _, m := range r.AuditMethods {
		if err := checkMethod(m); err != nil {
			errs = append(errs, fmt.Errorf("audit method %q: %w", m, err))
			continue
		}
		if bit := methodBit(m); bit != 0 {
			a.methods |= bit
		} else {
			a.other = append(a.other, m)
		}
	}
	return a, errors.Join(errs...)
}

func (a *auditSet) records(method string) bool {
	if a.off {
		return false
	}
	if bit := methodBitFold(method); bit != 0 {
		return a.methods&bit != 0
	}
	for _, m := range a.other {
		if equalFoldASCII(m, method) {
			return true
		}
	}
	return false
}

// defaultAudit applies when no rule matched.
var defaultAudit = auditSet{methods: writeMethods}

// Audited reports whether a proxied request with method, decided by rule (an index
// from Decision.Rule; -1 for the default), is recorded in the audit trail. The method
// is compared without regard to case, as an upstream may read it. It does not
// allocate.
func (p *Policy) Audited(rule int, method string) bool {
	if rule < 0 || rule >= len(p.rules) {
		return defaultAudit.records(method)
	}
	return p.rules[rule].audit.records(method)
}

// RuleName names rule (an index from Decision.Rule) as decisions do: its name, or
// "default" for -1.
func (p *Policy) RuleName(rule int) string {
	if rule < 0 || rule >= len(p.rules) {
		return "default"
	}
	return p.rules[rule].name
}

// RulePattern is the path pattern of rule ("" for the default).
func (p *Policy) RulePattern(rule int) string {
	if rule < 0 || rule >= len(p.rules) {
		return ""
	}
	return p.rules[rule].pat.raw
}
