package identity

import (
	"fmt"
	"slices"
	"strings"
)

// Built-in role names. The permissions behind them come from policies/ (RBAC issue);
// owner always has everything.
const (
	RoleOwner   = "owner"
	RoleAdmin   = "admin"
	RoleManager = "manager"
	RoleMember  = "member"
)

// BuiltinRoles lists the built-in roles, strongest first.
var BuiltinRoles = []string{RoleOwner, RoleAdmin, RoleManager, RoleMember}

// CheckRoles validates role names: built-in ones for now (custom roles arrive with RBAC).
func CheckRoles(roles []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("at least one role is required (one of %s)", strings.Join(BuiltinRoles, ", "))
	}
	for _, r := range roles {
		if !slices.Contains(BuiltinRoles, r) {
			return fmt.Errorf("unknown role %q (built-in roles: %s)", r, strings.Join(BuiltinRoles, ", "))
		}
	}
	return nil
}

// NormalizeEmail case-folds and trims an e-mail address and checks its basic shape.
// Addresses are compared in this form, so the same mailbox cannot register twice.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(e, '@')
	if at < 1 || at == len(e)-1 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>,;\"") || strings.Count(e, "@") != 1 {
		return "", fmt.Errorf("invalid e-mail address %q", s)
	}
	return e, nil
}
