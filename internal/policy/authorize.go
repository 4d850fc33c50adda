package policy

import "slices"

// Subject is the signed-in user a decision is checked against.
type Subject struct {
	UserID string
	Teams  []string // ids of the user's teams
	Grants *Grants  // what the user's roles allow
	MFA    bool     // the session used a second factor
}

// Outcome is Authorize's answer.
type Outcome uint8

const (
	// Allowed: every rule the request reached is satisfied.
	Allowed Outcome = iota
	// Forbidden: a permission, scope or path parameter check failed (403).
	Forbidden
	// MFARequired: the rule needs a session that used a second factor (browser: step
	// up; API: 403 mfa_required).
	MFARequired
)

var outcomeNames = [...]string{"allowed", "forbidden", "mfa_required"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(?)"
}

// Verdict is the result of Authorize.
type Verdict struct {
	Outcome Outcome
	// Permission ("resource:action") and Scope (the strongest scope the user's roles
	// give for it) of the deciding rule, when it requires one: sent upstream as
	// X-Gatehouse-Permission and X-Gatehouse-Scope.
	Permission string
	Scope      Scope
	// Reason says, for logs and "policy explain", why a check failed ("" when allowed).
	Reason string
}

// Reasons of refusals (constants: Authorize does not allocate).
const (
	ReasonNoGrant  = "no role of the user grants the permission"
	ReasonScope    = "the user's scope for the permission is below the route's"
	ReasonNotOwner = "the owner parameter is not the user's id (scope own)"
	ReasonNotTeam  = "the team parameter is not one of the user's teams"
	ReasonMFA      = "the route needs a session that used a second factor"
)

// Authorize checks a decision of Decide against a signed-in user: the deciding rule
// and every other checked rule another reading of the request reached. It is meant
// for decisions whose Access is SignedIn or RequirePermission; it does not allocate.
func (p *Policy) Authorize(d *Decision, s *Subject) Verdict {
	var v Verdict
	if d.Rule >= 0 {
		v = p.check(ruleRef{int32(d.Rule), d.Variant, d.path}, s)
		if v.Outcome != Allowed {
			return v
		}
	}
	for _, r := range d.extra[:d.nExtra] {
		if w := p.check(r, s); w.Outcome != Allowed {
			return w
		}
	}
	return v
}

// check checks one rule, its path parameters read as reading r.v reads the path.
func (p *Policy) check(r ruleRef, s *Subject) Verdict {
	c := &p.rules[r.rule]
	if c.access != RequirePermission {
		if c.mfa && !s.MFA {
			return Verdict{Outcome: MFARequired, Reason: ReasonMFA}
		}
		return Verdict{}
	}
	v := Verdict{Permission: c.reqString, Scope: s.Grants.Scope(c.req.Resource, c.req.Action)}
	rd := Decision{path: r.path, Variant: r.v}
	switch {
	case v.Scope == ScopeNone:
		v.Outcome, v.Reason = Forbidden, ReasonNoGrant
	case v.Scope < c.minScope:
		v.Outcome, v.Reason = Forbidden, ReasonScope
	case v.Scope == ScopeOwn && c.ownerSeg >= 0 && rd.segment(c.ownerSeg) != s.UserID:
		v.Outcome, v.Reason = Forbidden, ReasonNotOwner
	case v.Scope < ScopeTenant && c.teamSeg >= 0 && !slices.Contains(s.Teams, rd.segment(c.teamSeg)):
		v.Outcome, v.Reason = Forbidden, ReasonNotTeam
	case c.mfa && !s.MFA:
		v.Outcome, v.Reason = MFARequired, ReasonMFA
	}
	return v
}

// Checked reports whether the decision needs Authorize: its rule, or a rule another
// reading reached, asks for a permission or a second factor.
func (p *Policy) Checked(d *Decision) bool {
	return d.nExtra > 0 || d.Rule >= 0 && p.rules[d.Rule].checked()
}

// Merge combines the decisions of two readings of one request that the caller makes
// (a path without its format suffix, a method named by an override header): the
// stricter decides, and every checked rule either reached stays to be authorized. A
// merge that would carry more checked rules than a decision holds is a denial.
func (p *Policy) Merge(a, b Decision) Decision {
	d, o := a, b
	if strictness(b.Access) > strictness(a.Access) {
		d, o = b, a
	}
	if d.Access == Deny || d.Access == Public {
		return d
	}
	add := func(r ruleRef) bool {
		if r.rule < 0 || r.rule == noMatch || !p.rules[r.rule].checked() || int(r.rule) == d.Rule && r.path == d.path && r.v == d.Variant {
			return true
		}
		for _, x := range d.extra[:d.nExtra] {
			if x.rule == r.rule && x.path == r.path && x.v == r.v {
				return true
			}
		}
		if int(d.nExtra) == len(d.extra) {
			return false
		}
		d.extra[d.nExtra] = r
		d.nExtra++
		return true
	}
	ok := add(ruleRef{int32(o.Rule), o.Variant, o.path})
	for _, r := range o.extra[:o.nExtra] {
		ok = ok && add(r)
	}
	if !ok {
		return Decision{Access: Deny, Rule: -1, Name: "too many readings", path: d.path}
	}
	return d
}
