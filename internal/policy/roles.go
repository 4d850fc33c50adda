package policy

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gatehouse-dev/gatehouse/policies"
	"go.yaml.in/yaml/v3"
)

// The built-in role names.
const (
	RoleOwner   = "owner"
	RoleAdmin   = "admin"
	RoleManager = "manager"
	RoleMember  = "member"
)

// Role is a named set of permissions.
type Role struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Permissions []Permission `json:"-"`
	// Builtin: one of owner, admin, manager, member (defined in policies/roles.yaml).
	Builtin bool `json:"builtin"`
	// Changed: a built-in role whose permissions this tenant changed.
	Changed bool `json:"changed"`
}

// PermissionStrings returns the role's permissions spelled resource:action:scope.
func (r Role) PermissionStrings() []string {
	out := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		out[i] = p.String()
	}
	return out
}

// RoleSpec is a role as stored for a tenant or written in a file: permissions
// spelled out, not yet checked.
type RoleSpec struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Permissions []string `yaml:"permissions" json:"permissions"`
}

// Roles is a set of role definitions: the built-in ones, possibly with a tenant's
// own applied. It is immutable.
type Roles struct {
	list []Role // built-in first in their order, then the tenant's by name
}

// maxRolePermissions bounds a role's permission list.
const maxRolePermissions = 200

// CheckRoleName checks a role's name: lower-case letters, digits, '_' and '-',
// starting with a letter, at most 32 bytes.
func CheckRoleName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("role name %q: must be 1 to 32 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-')) {
			return fmt.Errorf("role name %q: lower-case letters, digits, '_' and '-' only, starting with a letter", name)
		}
	}
	return nil
}

// CheckRole checks a spec and returns it as a Role; every problem is reported.
func CheckRole(s RoleSpec) (Role, error) {
	var errs []error
	if err := CheckRoleName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if len(s.Description) > 200 {
		errs = append(errs, fmt.Errorf("role %s: description longer than 200 characters", s.Name))
	}
	if len(s.Permissions) > maxRolePermissions {
		errs = append(errs, fmt.Errorf("role %s: more than %d permissions", s.Name, maxRolePermissions))
	}
	r := Role{Name: s.Name, Description: s.Description}
	for _, ps := range s.Permissions {
		p, err := ParsePermission(ps)
		if err != nil {
			errs = append(errs, fmt.Errorf("role %s: %w", s.Name, err))
			continue
		}
		if !slices.Contains(r.Permissions, p) {
			r.Permissions = append(r.Permissions, p)
		}
	}
	return r, errors.Join(errs...)
}

// ParseRoles reads a roles file: a top-level "roles" list of specs.
func ParseRoles(data []byte) (*Roles, error) {
	var f struct {
		Roles []RoleSpec `yaml:"roles"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("roles file: %w", err)
	}
	rs := &Roles{}
	var errs []error
	for _, s := range f.Roles {
		r, err := CheckRole(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := rs.Get(r.Name); dup {
			errs = append(errs, fmt.Errorf("role %s defined twice", r.Name))
			continue
		}
		rs.list = append(rs.list, r)
	}
	return rs, errors.Join(errs...)
}

// builtin is policies/roles.yaml, parsed once; a test proves it parses.
var builtin = sync.OnceValue(func() *Roles {
	data, err := policies.FS.ReadFile("roles.yaml")
	if err != nil {
		panic(err)
	}
	rs, err := ParseRoles(data)
	if err != nil {
		panic(err)
	}
	for _, name := range []string{RoleOwner, RoleAdmin, RoleManager, RoleMember} {
		if _, ok := rs.Get(name); !ok {
			panic("policies/roles.yaml lacks the built-in role " + name)
		}
	}
	for i := range rs.list {
		rs.list[i].Builtin = true
	}
	return rs
})

// BuiltinRoles returns the built-in roles of policies/roles.yaml.
func BuiltinRoles() *Roles { return builtin() }

// ErrOwnerFixed: the owner role cannot be changed or deleted.
var ErrOwnerFixed = errors.New("the owner role always has everything and cannot be changed")

// WithTenant returns the built-in roles with a tenant's stored roles applied: a spec
// named like a built-in role replaces its permissions (owner's cannot be replaced),
// any other adds a role. An invalid spec is an error (stored specs were checked when
// they were saved, so this means the store was edited by hand); the roles returned
// with it give such a role no permissions at all.
func (rs *Roles) WithTenant(specs []RoleSpec) (*Roles, error) {
	out := &Roles{list: slices.Clone(rs.list)}
	var errs []error
	for _, s := range specs {
		r, err := CheckRole(s)
		if err != nil {
			errs = append(errs, err)
			if CheckRoleName(s.Name) != nil || s.Name == RoleOwner {
				continue
			}
			// Fail closed: a role whose stored definition is broken grants nothing
			// (rather than its built-in permissions).
			r = Role{Name: s.Name, Description: s.Description}
		}
		if r.Name == RoleOwner {
			errs = append(errs, ErrOwnerFixed)
			continue
		}
		if i := out.index(r.Name); i >= 0 {
			r.Builtin, r.Changed = out.list[i].Builtin, out.list[i].Builtin
			if r.Description == "" {
				r.Description = out.list[i].Description
			}
			out.list[i] = r
			continue
		}
		out.list = append(out.list, r)
	}
	return out, errors.Join(errs...)
}

func (rs *Roles) index(name string) int {
	return slices.IndexFunc(rs.list, func(r Role) bool { return r.Name == name })
}

// Get returns the named role.
func (rs *Roles) Get(name string) (Role, bool) {
	if i := rs.index(name); i >= 0 {
		return rs.list[i], true
	}
	return Role{}, false
}

// List returns every role (not to be modified).
func (rs *Roles) List() []Role { return rs.list }

// Names returns the roles' names.
func (rs *Roles) Names() []string {
	out := make([]string, len(rs.list))
	for i, r := range rs.list {
		out[i] = r.Name
	}
	return out
}

// CheckAssignable reports an error naming the first of roles that is not defined.
func (rs *Roles) CheckAssignable(roles []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("at least one role is required (one of %v)", rs.Names())
	}
	for _, r := range roles {
		if rs.index(r) < 0 {
			return fmt.Errorf("unknown role %q (roles of this workspace: %v)", r, rs.Names())
		}
	}
	return nil
}

// Grants compiles what a user holding userRoles may do. A role not defined grants
// nothing (fail closed: a deleted role takes its permissions with it).
func (rs *Roles) Grants(userRoles []string) *Grants {
	var perms []Permission
	for _, name := range userRoles {
		if name == RoleOwner {
			return NewGrants(nil, true)
		}
		if i := rs.index(name); i >= 0 {
			for _, p := range rs.list[i].Permissions {
				if !slices.Contains(perms, p) {
					perms = append(perms, p)
				}
			}
		}
	}
	return NewGrants(perms, false)
}
