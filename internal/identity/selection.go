package identity

import (
	"fmt"
	"strings"
)

// Selection is the set of identity headers a site sends upstream (`identity_headers`).
// Each header carried through reverse_proxy costs the proxied request about 1 % of its
// throughput (README "Speed"), so a site sends what its app reads, not everything.
type Selection uint16

// The headers a Selection can hold, one bit each.
const (
	SendUserID      Selection = 1 << iota // X-Gatehouse-User-Id
	SendEmail                             // X-Gatehouse-User-Email
	SendName                              // X-Gatehouse-User-Name
	SendTenantID                          // X-Gatehouse-Tenant-Id
	SendTenant                            // X-Gatehouse-Tenant
	SendRoles                             // X-Gatehouse-Roles
	SendTeams                             // X-Gatehouse-Teams
	SendSessionID                         // X-Gatehouse-Session-Id
	SendAuthMethods                       // X-Gatehouse-Auth-Methods
	// SendPermission: X-Gatehouse-Permission and X-Gatehouse-Scope on routes that
	// require a permission, and X-Gatehouse-Teams there when the scope is team (the
	// app needs the teams to filter its rows), whether or not SendTeams is set.
	SendPermission
	SendAssertion // X-Gatehouse-Assertion, the signed JWT of the facts

	numSelection = iota
)

// SendAll is every header.
const SendAll Selection = 1<<numSelection - 1

// DefaultSelection is what a site sends unless `identity_headers` says otherwise: who
// the user is (id and e-mail), the workspace (slug) and the roles, and on permission
// routes the permission with its scope — what apps behind a gateway read — chosen by
// measured cost (README "Speed"). The others, the assertion among them, are opt-in.
const DefaultSelection = SendUserID | SendEmail | SendTenant | SendRoles | SendPermission

// selectionNames are the words of `identity_headers`, in header order.
var selectionNames = [numSelection]string{
	"user_id", "email", "name", "tenant_id", "tenant", "roles", "teams", "session_id", "auth_methods", "permission", "assertion",
}

// ParseSelection reads `identity_headers` words: header words (user_id, email, name,
// tenant_id, tenant, roles, teams, session_id, auth_methods, permission, assertion),
// "default" and "all" add to the set; +word adds and -word removes. When the first word
// starts with + or -, the set starts from the default, otherwise from nothing.
func ParseSelection(words []string) (Selection, error) {
	if len(words) == 0 {
		return 0, fmt.Errorf("no headers named (words: default, all, %s)", strings.Join(selectionNames[:], ", "))
	}
	var s Selection
	if w := words[0]; w != "" && (w[0] == '+' || w[0] == '-') {
		s = DefaultSelection
	}
	for _, w := range words {
		op := byte(0)
		if w != "" && (w[0] == '+' || w[0] == '-') {
			op, w = w[0], w[1:]
		}
		var bits Selection
		switch w {
		case "default":
			bits = DefaultSelection
		case "all":
			bits = SendAll
		default:
			i := indexOf(w)
			if i < 0 {
				return 0, fmt.Errorf("%q is not a header (words: default, all, %s)", w, strings.Join(selectionNames[:], ", "))
			}
			bits = 1 << i
		}
		if op == '-' {
			s &^= bits
		} else {
			s |= bits
		}
	}
	if s == 0 {
		return 0, fmt.Errorf("%q leaves no header at all", strings.Join(words, " "))
	}
	return s, nil
}

func indexOf(w string) int {
	for i, n := range selectionNames {
		if n == w {
			return i
		}
	}
	return -1
}

// Words spells s as ParseSelection reads it, one word per header.
func (s Selection) Words() []string {
	var out []string
	for i, n := range selectionNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Has tells whether every header of o is in s.
func (s Selection) Has(o Selection) bool { return s&o == o }
