package policy

import "fmt"

// Access is what a route requires of a request.
//
// RequirePermission ranks between SignedIn and Deny; when two readings of a request reach
// two rules that each require something, both must be satisfied (Decision.Extra).
// Code that compares Access values should use Stricter, not <.
type Access uint8

const (
	// Deny refuses the request whoever makes it. It is the zero value, so an Access
	// left unset fails closed.
	Deny Access = iota
	// Public lets every request through, signed in or not.
	Public
	// SignedIn lets through any signed-in user of the tenant.
	SignedIn
	// RequirePermission lets through a signed-in user whose roles grant the rule's
	// resource:action in at least its scope (see Policy.Authorize).
	RequirePermission

	numAccess // keep last
)

var accessNames = [numAccess]string{
	Deny:              "deny",
	Public:            "public",
	SignedIn:          "signed_in",
	RequirePermission: "permission",
}

// rank orders Access values by strictness: the higher, the fewer requests get through.
var rank = [numAccess]uint8{
	Public:            0,
	SignedIn:          1,
	RequirePermission: 2,
	Deny:              3,
}

// ParseAccess parses the policy-file spelling of an Access: "public", "signed_in" or
// "deny" (a rule requires a permission by naming it, not by this word). It is exact:
// no other case or spelling is accepted.
func ParseAccess(s string) (Access, error) {
	for a, name := range accessNames {
		if s == name && Access(a) != RequirePermission {
			return Access(a), nil
		}
	}
	return Deny, fmt.Errorf("unknown access %q (want public, signed_in or deny)", s)
}

// String returns the policy-file spelling of a, or "Access(n)" for an invalid value.
func (a Access) String() string {
	if a.Valid() {
		return accessNames[a]
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// Valid reports whether a is one of the defined values.
func (a Access) Valid() bool { return a < numAccess }

// MarshalText implements encoding.TextMarshaler (policy files, JSON).
func (a Access) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("invalid access %d", uint8(a))
	}
	return []byte(accessNames[a]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseAccess.
func (a *Access) UnmarshalText(b []byte) error {
	v, err := ParseAccess(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Stricter returns whichever of a and b lets fewer requests through
// (deny > permission > signed_in > public); a when they are equal. An invalid value counts as Deny.
func Stricter(a, b Access) Access {
	if strictness(b) > strictness(a) {
		return b
	}
	return a
}

func strictness(a Access) uint8 {
	if !a.Valid() {
		return rank[Deny]
	}
	return rank[a]
}
