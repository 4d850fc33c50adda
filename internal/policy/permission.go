package policy

import (
	"fmt"
	"strings"
)

// Scope is how far a permission reaches: a user's own records, their teams', or the
// whole tenant's. Scopes are ordered: own < team < tenant; ScopeNone (the zero value)
// grants nothing.
type Scope uint8

const (
	// ScopeNone: no permission at all.
	ScopeNone Scope = iota
	// ScopeOwn: the records the user owns.
	ScopeOwn
	// ScopeTeam: the records of the user's teams.
	ScopeTeam
	// ScopeTenant: every record of the tenant.
	ScopeTenant
)

var scopeNames = [...]string{ScopeNone: "", ScopeOwn: "own", ScopeTeam: "team", ScopeTenant: "tenant"}

// ParseScope parses "own", "team" or "tenant", exactly.
func ParseScope(s string) (Scope, error) {
	for i, n := range scopeNames {
		if i > 0 && s == n {
			return Scope(i), nil
		}
	}
	return ScopeNone, fmt.Errorf("unknown scope %q (want own, team or tenant)", s)
}

// String returns the scope's name ("" for ScopeNone), as sent in X-Gatehouse-Scope.
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Permission is one grant of a role: an action on a resource within a scope
// ("deals:edit:team"). Resource and Action may be "*", which stands for any.
type Permission struct {
	Resource, Action string
	Scope            Scope
}

// ParsePermission parses "resource:action:scope", where resource and action are
// names (lower case letters, digits, '_', '-', '.', starting with a letter or digit,
// at most 64 bytes) or "*".
func ParsePermission(s string) (Permission, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Permission{}, fmt.Errorf("permission %q: want resource:action:scope, e.g. deals:edit:team", s)
	}
	if err := checkName(parts[0], true); err != nil {
		return Permission{}, fmt.Errorf("permission %q: resource %w", s, err)
	}
	if err := checkName(parts[1], true); err != nil {
		return Permission{}, fmt.Errorf("permission %q: action %w", s, err)
	}
	sc, err := ParseScope(parts[2])
	if err != nil {
		return Permission{}, fmt.Errorf("permission %q: %w", s, err)
	}
	return Permission{Resource: parts[0], Action: parts[1], Scope: sc}, nil
}

// String returns the "resource:action:scope" spelling.
func (p Permission) String() string { return p.Resource + ":" + p.Action + ":" + p.Scope.String() }

// covers reports whether p grants action on resource (at p.Scope).
func (p *Permission) covers(resource, action string) bool {
	return (p.Resource == "*" || p.Resource == resource) && (p.Action == "*" || p.Action == action)
}

// Requirement is what a route needs: an action on a resource ("deals:edit"), without
// wildcards.
type Requirement struct {
	Resource, Action string
}

// ParseRequirement parses "resource:action" (no wildcard, no scope: a route's least
// scope is said apart).
func ParseRequirement(s string) (Requirement, error) {
	res, act, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(act, ":") {
		return Requirement{}, fmt.Errorf("permission %q: want resource:action, e.g. deals:edit (the scope goes in scope:)", s)
	}
	if err := checkName(res, false); err != nil {
		return Requirement{}, fmt.Errorf("permission %q: resource %w", s, err)
	}
	if err := checkName(act, false); err != nil {
		return Requirement{}, fmt.Errorf("permission %q: action %w", s, err)
	}
	return Requirement{Resource: res, Action: act}, nil
}

// String returns "resource:action".
func (r Requirement) String() string { return r.Resource + ":" + r.Action }

// checkName checks a resource or action name.
func checkName(s string, wildcard bool) error {
	if s == "*" {
		if wildcard {
			return nil
		}
		return fmt.Errorf("%q: a route names one resource and one action, not a wildcard", s)
	}
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%q: must be 1 to 64 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-' || c == '.')
		if !ok {
			return fmt.Errorf("%q: lower-case letters, digits, '_', '-' and '.' only, starting with a letter or digit", s)
		}
	}
	return nil
}

// Grants is what a user's roles allow, compiled once per session load. It is
// immutable and safe for concurrent use.
type Grants struct {
	perms []Permission
	all   bool // owner: everything, always
}

// NewGrants returns grants of perms; all grants everything at tenant scope.
func NewGrants(perms []Permission, all bool) *Grants {
	return &Grants{perms: perms, all: all}
}

// Scope returns the strongest scope in which the grants allow action on resource
// (ScopeNone: not at all). It does not allocate. A nil Grants allows nothing.
func (g *Grants) Scope(resource, action string) Scope {
	if g == nil {
		return ScopeNone
	}
	if g.all {
		return ScopeTenant
	}
	best := ScopeNone
	for i := range g.perms {
		if p := &g.perms[i]; p.Scope > best && p.covers(resource, action) {
			best = p.Scope
		}
	}
	return best
}

// Covers reports whether the grants include p: its action on its resource in at
// least its scope (a wildcard in p is covered only by a wildcard grant).
func (g *Grants) Covers(p Permission) bool { return g.Scope(p.Resource, p.Action) >= p.Scope }

// All reports whether the grants allow everything (the owner's).
func (g *Grants) All() bool { return g != nil && g.all }

// Permissions returns the granted permissions (not to be modified).
func (g *Grants) Permissions() []Permission {
	if g == nil {
		return nil
	}
	if g.all {
		return []Permission{{Resource: "*", Action: "*", Scope: ScopeTenant}}
	}
	return g.perms
}
