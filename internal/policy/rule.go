package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Rule is one route rule of a policy. Rules are ordered; the first that matches a
// request decides.
type Rule struct {
	// Name identifies the rule in decisions, logs and "policy explain" (for example
	// the policy file and line). Default: "rules[i]" with i its index.
	Name string
	// Host restricts the rule to one host ("app.example.com") or to the direct
	// subdomains of one ("*.example.com"), compared case-insensitively, without port.
	// Default: every host.
	Host string
	// Methods restricts the rule to these methods (upper case, e.g. "GET", "POST");
	// GET implies HEAD. Default: every method.
	Methods []string
	// Path is the path pattern (see the package doc): "/health", "/public/*", "/*",
	// "/api/deals/{id}". Required.
	Path string
	// Access is what a request matching the rule requires. RequirePermission requires
	// Require; the other values must leave it empty.
	Access Access

	// Require is the permission the route needs, "resource:action" (Access
	// RequirePermission).
	Require string
	// Scope is the least scope the route needs (a tenant-wide list says ScopeTenant).
	// Default (ScopeNone): own, any grant of the permission.
	Scope Scope
	// OwnerParam names a path parameter that, when the user's best scope for the
	// permission is own, must be the user's id.
	OwnerParam string
	// TeamParam names a path parameter that, when the user's best scope is below
	// tenant, must be one of the user's teams.
	TeamParam string
	// MFA requires a session that used a second factor (signed_in and permission
	// rules).
	MFA bool

	// NoAudit stops recording the route's proxied writes in the audit trail.
	NoAudit bool
	// AuditMethods are methods recorded besides the writes (POST, PUT, PATCH,
	// DELETE), e.g. GET on a route that reads patient records.
	AuditMethods []string
}

// compiledRule is a Rule checked and prepared for matching.
type compiledRule struct {
	name   string
	access Access
	pat    pattern

	host     string // lower case; for a wildcard, the suffix including its leading "."
	wildcard bool   // host is "*.suffix": one label before the suffix

	anyMethod bool
	methods   methodSet
	other     []string // methods outside the well-known set

	req       Requirement
	reqString string // "resource:action", sent upstream
	minScope  Scope  // at least ScopeOwn for a permission rule
	ownerSeg  int    // path segment of OwnerParam, -1 for none
	teamSeg   int    // path segment of TeamParam, -1 for none
	mfa       bool
	audit     auditSet
}

// checked reports whether the rule asks more of a signed-in user than being signed
// in: a permission or a second factor. Such rules are checked by Authorize.
func (c *compiledRule) checked() bool { return c.access == RequirePermission || c.mfa }

func compileRule(i int, r Rule) (compiledRule, error) {
	c := compiledRule{name: r.Name, access: r.Access}
	if c.name == "" {
		c.name = fmt.Sprintf("rules[%d]", i)
	}
	var errs []error
	if !r.Access.Valid() {
		errs = append(errs, fmt.Errorf("invalid access %d", uint8(r.Access)))
	}
	pat, err := parsePattern(r.Path)
	if err != nil {
		errs = append(errs, fmt.Errorf("path pattern %q %w", r.Path, err))
	}
	c.pat = pat
	errs = append(errs, c.setRequirement(r)...)
	if err := c.setHost(r.Host); err != nil {
		errs = append(errs, fmt.Errorf("host %q: %w", r.Host, err))
	}
	if c.audit, err = compileAudit(r); err != nil {
		errs = append(errs, err)
	}
	c.anyMethod = len(r.Methods) == 0
	for _, m := range r.Methods {
		if err := checkMethod(m); err != nil {
			errs = append(errs, fmt.Errorf("method %q: %w", m, err))
			continue
		}
		if bit := methodBit(m); bit != 0 {
			c.methods |= bit
		} else {
			c.other = append(c.other, m)
		}
		if m == "GET" {
			c.methods |= methodBit("HEAD")
		}
	}
	if len(errs) > 0 {
		label := c.label(i)
		for j, e := range errs {
			errs[j] = fmt.Errorf("%s: %w", label, e)
		}
		return c, errors.Join(errs...)
	}
	return c, nil
}

// label names rule i in error messages.
func (c *compiledRule) label(i int) string {
	if c.name == fmt.Sprintf("rules[%d]", i) {
		return c.name
	}
	return fmt.Sprintf("rules[%d] (%s)", i, c.name)
}

func (c *compiledRule) setHost(h string) error {
	if h == "" {
		return nil
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if err := checkHostName(rest); err != nil {
			return err
		}
		c.host, c.wildcard = "."+rest, true
		return nil
	}
	if strings.Contains(h, ":") {
		if a, err := netip.ParseAddr(h); err == nil && a.Is6() && a.Zone() == "" {
			c.host = h
			return nil
		}
		return errors.New("has a port or is not a host name (the caller strips the port)")
	}
	if err := checkHostName(h); err != nil {
		return err
	}
	c.host = h
	return nil
}

// checkHostName accepts DNS names and IPv4 addresses (ASCII; IDNs in punycode).
func checkHostName(h string) error {
	if h == "" {
		return errors.New("is empty")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return errors.New("has an empty label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' {
				continue
			}
			if c == '*' {
				return errors.New(`has a "*" that is not a leading "*." wildcard`)
			}
			return fmt.Errorf("has %q: use letters, digits, '-' and '.' (IDNs in punycode)", c)
		}
	}
	return nil
}

// matchHost reports whether the rule applies to host (no port, any case, no
// trailing dot).
func (c *compiledRule) matchHost(host string) bool {
	switch {
	case c.host == "":
		return true
	case !c.wildcard:
		return strings.EqualFold(host, c.host)
	}
	n := len(host) - len(c.host)
	return n > 0 && strings.EqualFold(host[n:], c.host) && strings.IndexByte(host[:n], '.') < 0
}

// matchMethod reports whether the rule applies to a request method whose bit (0 when
// not well known) is bit; with fold, ASCII case is ignored.
func (c *compiledRule) matchMethod(method string, bit methodSet, fold bool) bool {
	if c.anyMethod || c.methods&bit != 0 {
		return true
	}
	if bit != 0 {
		return false
	}
	for _, m := range c.other {
		if m == method || fold && equalFoldASCII(m, method) {
			return true
		}
	}
	return false
}

// methodSet is a bit set of the well-known methods.
type methodSet uint16

var knownMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// methodBit returns the bit of a well-known method (exact spelling), or 0.
func methodBit(m string) methodSet {
	for i, k := range knownMethods {
		if m == k {
			return 1 << i
		}
	}
	return 0
}

// methodBitFold is methodBit ignoring ASCII case.
func methodBitFold(m string) methodSet {
	for i, k := range knownMethods {
		if equalFoldASCII(m, k) {
			return 1 << i
		}
	}
	return 0
}

// checkMethod accepts an HTTP token (RFC 9110) without lower-case letters.
func checkMethod(m string) error {
	if m == "" {
		return errors.New("is empty")
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'a' <= c && c <= 'z':
			return errors.New("must be upper case (methods are case-sensitive)")
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return errors.New("is not an HTTP method token")
		}
	}
	return nil
}

// hasLowerASCII reports whether s has a lower-case ASCII letter.
func hasLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// setRequirement checks and compiles the permission part of r.
func (c *compiledRule) setRequirement(r Rule) []error {
	var errs []error
	c.ownerSeg, c.teamSeg, c.mfa = -1, -1, r.MFA
	if r.MFA && r.Access != SignedIn && r.Access != RequirePermission {
		errs = append(errs, fmt.Errorf("mfa needs a signed_in or permission rule, not %s", r.Access))
	}
	if r.Access != RequirePermission {
		if r.Require != "" || r.Scope != ScopeNone || r.OwnerParam != "" || r.TeamParam != "" {
			errs = append(errs, fmt.Errorf("require, scope, owner_param and team_param belong to a rule that requires a permission, not to access %s", r.Access))
		}
		return errs
	}
	req, err := ParseRequirement(r.Require)
	if err != nil {
		errs = append(errs, err)
	}
	c.req, c.reqString = req, req.String()
	if r.Scope > ScopeTenant {
		errs = append(errs, fmt.Errorf("invalid scope %d", uint8(r.Scope)))
	}
	c.minScope = max(r.Scope, ScopeOwn)
	seg := func(opt, name string) int {
		if name == "" {
			return -1
		}
		for _, p := range c.pat.params {
			if p.name == name {
				return p.seg
			}
		}
		if c.pat.raw != "" {
			errs = append(errs, fmt.Errorf("%s %q: the path %s has no parameter {%s}", opt, name, c.pat.raw, name))
		}
		return -1
	}
	c.ownerSeg = seg("owner_param", r.OwnerParam)
	c.teamSeg = seg("team_param", r.TeamParam)
	return errs
}
