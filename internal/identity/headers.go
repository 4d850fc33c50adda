package identity

import (
	"net/http"
	"slices"
	"strings"
)

// Identity header names Gatehouse sets for the upstream (SPEC §7).
const (
	HeaderUserID      = "X-Gatehouse-User-Id"
	HeaderUserEmail   = "X-Gatehouse-User-Email"
	HeaderUserName    = "X-Gatehouse-User-Name"
	HeaderTenantID    = "X-Gatehouse-Tenant-Id"
	HeaderTenant      = "X-Gatehouse-Tenant"
	HeaderRoles       = "X-Gatehouse-Roles"
	HeaderTeams       = "X-Gatehouse-Teams"
	HeaderSessionID   = "X-Gatehouse-Session-Id"
	HeaderAuthMethods = "X-Gatehouse-Auth-Methods"
	HeaderPermission  = "X-Gatehouse-Permission"
	HeaderScope       = "X-Gatehouse-Scope"
	HeaderAssertion   = "X-Gatehouse-Assertion"

	HeaderRemoteUser   = "Remote-User"
	HeaderRemoteEmail  = "Remote-Email"
	HeaderRemoteName   = "Remote-Name"
	HeaderRemoteGroups = "Remote-Groups"
)

// remoteNames are the Remote-* convention names, lowercase with '-'.
var remoteNames = []string{"remote-user", "remote-email", "remote-name", "remote-groups"}

// IsIdentityHeader reports whether a header name is, in any spelling the upstream might
// read as one of ours, an identity header: any case, '_' for '-'. Every "X-Gatehouse-*"
// name counts (not only the ones in use today) and so do the Remote-* names, whether or
// not the site enables them. It does not allocate.
func IsIdentityHeader(name string) bool {
	const prefix = "x-gatehouse-"
	if len(name) >= len(prefix) && foldEqual(name[:len(prefix)], prefix) {
		return true
	}
	for _, r := range remoteNames {
		if len(name) == len(r) && foldEqual(name, r) {
			return true
		}
	}
	return false
}

// foldEqual compares s with the lowercase, '-'-spelled target, treating ASCII case and
// '_' versus '-' as equal.
func foldEqual(s, target string) bool {
	for i := 0; i < len(target); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != target[i] {
			return false
		}
	}
	return true
}

// Facts are the verified facts about a signed-in request that go upstream.
type Facts struct {
	UserID, Email, Name  string
	TenantID, TenantSlug string
	Roles, Teams         []string
	SessionID            string
	AuthMethods          []string
}

// Equal tells whether two sets of facts say the same (without allocating).
func (f *Facts) Equal(o *Facts) bool {
	return f.UserID == o.UserID && f.Email == o.Email && f.Name == o.Name && f.TenantID == o.TenantID &&
		f.TenantSlug == o.TenantSlug && f.SessionID == o.SessionID && slices.Equal(f.Roles, o.Roles) &&
		slices.Equal(f.Teams, o.Teams) && slices.Equal(f.AuthMethods, o.AuthMethods)
}

// HeaderSet is a precomputed set of identity headers, built once per session (not per
// request) and applied with Apply. Treat it as immutable.
type HeaderSet struct {
	names  []string
	values [][]string
}

// add appends a header; empty values are left out (an absent header cannot be forged
// either: the client's copies are stripped first), which keeps requests small.
func (hs *HeaderSet) add(name, value string) {
	if value == "" {
		return
	}
	hs.names = append(hs.names, name)
	// cap == len: an Add downstream reallocates instead of writing into our array.
	hs.values = append(hs.values, []string{value}[:1:1])
}

// NewHeaderSet computes the X-Gatehouse-* headers for f.
func NewHeaderSet(f Facts) *HeaderSet {
	hs := &HeaderSet{}
	add := hs.add
	add(HeaderUserID, f.UserID)
	add(HeaderUserEmail, f.Email)
	add(HeaderUserName, f.Name)
	add(HeaderTenantID, f.TenantID)
	add(HeaderTenant, f.TenantSlug)
	add(HeaderRoles, strings.Join(f.Roles, ","))
	add(HeaderTeams, strings.Join(f.Teams, ","))
	add(HeaderSessionID, f.SessionID)
	add(HeaderAuthMethods, strings.Join(f.AuthMethods, ","))
	return hs
}

// NewRemoteHeaderSet computes the Remote-User/-Email/-Name/-Groups convention for f
// (Remote-User is the e-mail: Gatehouse has no separate user names).
func NewRemoteHeaderSet(f Facts) *HeaderSet {
	hs := &HeaderSet{}
	hs.add(HeaderRemoteUser, f.Email)
	hs.add(HeaderRemoteEmail, f.Email)
	hs.add(HeaderRemoteName, f.Name)
	hs.add(HeaderRemoteGroups, strings.Join(f.Roles, ","))
	return hs
}

// Apply sets the headers on h (after Stripper.Strip or StripIdentityHeaders). The values are copied into
// one fresh array per request: a later handler that edits a header value in place
// (Caddy's request_header with a replacement) must not change the cached set.
func (hs *HeaderSet) Apply(h http.Header) {
	vals := make([]string, len(hs.names))
	for i, n := range hs.names {
		vals[i] = hs.values[i][0]
		h[n] = vals[i : i+1 : i+1]
	}
}

// Get returns the value of one header in the set ("" if absent).
func (hs *HeaderSet) Get(name string) string {
	for i, n := range hs.names {
		if n == name {
			return hs.values[i][0]
		}
	}
	return ""
}
