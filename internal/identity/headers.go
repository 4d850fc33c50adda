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
// request) and applied with ApplySelected (and ApplyRemote). Treat it as immutable.
// It is one array, no slices: a cached session holds one, and 100,000 cached sessions
// must fit in 200 MB (SPEC §13).
type HeaderSet struct {
	// values by header: the X-Gatehouse-* ones in Selection order, then the Remote-*;
	// "" for a header not sent (an absent header cannot be forged either: the
	// client's copies are stripped first), which keeps requests small.
	values [numHeaders]string
}

// The headers of a HeaderSet, by index: the first numSelectable in Selection bit
// order, then the Remote-* convention.
const (
	numSelectable = 9 // SendUserID … SendAuthMethods
	numHeaders    = numSelectable + 4
)

var headerNames = [numHeaders]string{
	HeaderUserID, HeaderUserEmail, HeaderUserName, HeaderTenantID, HeaderTenant, HeaderRoles, HeaderTeams,
	HeaderSessionID, HeaderAuthMethods,
	HeaderRemoteUser, HeaderRemoteEmail, HeaderRemoteName, HeaderRemoteGroups,
}

// MakeHeaderSet computes the headers for f: the X-Gatehouse-* ones and the
// Remote-User/-Email/-Name/-Groups convention (Remote-User is the e-mail: Gatehouse
// has no separate user names).
func MakeHeaderSet(f Facts) HeaderSet {
	roles := strings.Join(f.Roles, ",")
	return HeaderSet{values: [numHeaders]string{
		f.UserID, f.Email, f.Name, f.TenantID, f.TenantSlug, roles, strings.Join(f.Teams, ","),
		f.SessionID, strings.Join(f.AuthMethods, ","),
		f.Email, f.Email, f.Name, roles,
	}}
}

// NewHeaderSet is MakeHeaderSet on the heap.
func NewHeaderSet(f Facts) *HeaderSet {
	hs := MakeHeaderSet(f)
	return &hs
}

// Apply sets every X-Gatehouse-* header of the set on h (after Stripper.Strip or
// StripIdentityHeaders).
func (hs *HeaderSet) Apply(h http.Header) { hs.ApplySelected(h, SendAll) }

// ApplySelected sets the X-Gatehouse-* headers of sel on h. The values are copied into
// one fresh array per request: a later handler that edits a header value in place
// (Caddy's request_header with a replacement) must not change the cached set.
func (hs *HeaderSet) ApplySelected(h http.Header, sel Selection) {
	hs.apply(h, 0, numSelectable, sel)
}

// ApplyRemote sets the Remote-* headers on h.
func (hs *HeaderSet) ApplyRemote(h http.Header) {
	hs.apply(h, numSelectable, numHeaders, SendAll)
}

func (hs *HeaderSet) apply(h http.Header, from, to int, sel Selection) {
	n := 0
	for i := from; i < to; i++ {
		if hs.values[i] != "" && (i >= numSelectable || sel&(1<<i) != 0) {
			n++
		}
	}
	vals := make([]string, n)
	j := 0
	for i := from; i < to; i++ {
		if hs.values[i] == "" || (i < numSelectable && sel&(1<<i) == 0) {
			continue
		}
		vals[j] = hs.values[i]
		// cap == len: an Add downstream reallocates instead of writing into the
		// next header's value.
		h[headerNames[i]] = vals[j : j+1 : j+1]
		j++
	}
}

// Get returns the value of one header in the set ("" if absent).
func (hs *HeaderSet) Get(name string) string {
	for i, n := range headerNames {
		if n == name {
			return hs.values[i]
		}
	}
	return ""
}
