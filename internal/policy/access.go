package policy

import "fmt"

// Access is what a route requires of a request.
//
// The RBAC model will add a value for "requires a permission"; it ranks between
// SignedIn and Deny, and combining two decisions that each require a permission will
// require both. Code that compares Access values should use Stricter, not <.
type Access uint8

const (
	// Deny refuses the request whoever makes it. It is the zero value, so an Access
	// left unset fails closed.
	Deny Access = iota
	// Public lets every request through, signed in or not.
	Public
	// SignedIn lets through any signed-in user of the tenant.
	SignedIn

	numAccess // keep last
)

var accessNames = [numAccess]string{
	Deny:     "deny",
	Public:   "public",
	SignedIn: "signed_in",
}

// rank orders Access values by strictness: the higher, the fewer requests get through.
var rank = [numAccess]uint8{
	Public:   0,
	SignedIn: 1,
	Deny:     2,
}

// ParseAccess parses the policy-file spelling of an Access: "public", "signed_in" or
// "deny". It is exact: no other case or spelling is accepted.
func ParseAccess(s string) (Access, error) {
	for a, name := range accessNames {
		if s == name {
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
// (deny > signed_in > public); a when they are equal. An invalid value counts as Deny.
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
