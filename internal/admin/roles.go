package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of role administration.
const (
	ActionRoleSet    = "role.set"
	ActionRoleDelete = "role.delete"
)

// Errors of role administration.
var (
	// ErrOwnerFixed: the owner role always has everything; it cannot be changed.
	ErrOwnerFixed = policy.ErrOwnerFixed
	// ErrNoSuchRole: the workspace defines no role by that name.
	ErrNoSuchRole = errors.New("no such role")
	// ErrRoleExists: adding a role under a name the workspace already uses.
	ErrRoleExists = errors.New("a role by that name exists already")
	// ErrRoleDeletedName: a deleted role keeps its name while it can be restored.
	ErrRoleDeletedName = fmt.Errorf("a deleted role has that name (restore it, or wait until it is purged): %w", ErrRoleExists)
)

// maxTenantRoles bounds how many role definitions (new roles and changed built-in
// ones) a workspace keeps; every session load reads them all.
const maxTenantRoles = 100

// Roles runs the use cases of the workspace's role definitions: owners and admins
// see them, owners change them. A change reaches the members who hold the role on
// their next request to this instance, and within session_cache_ttl elsewhere (the
// session cache reloads the definitions with the user).
type Roles struct{ s *Service }

// Roles returns the role use cases.
func (s *Service) Roles() Roles { return Roles{s} }

// RoleInfo is a role as the roles page shows it.
type RoleInfo struct {
	policy.Role
	// Members is how many members (disabled ones included, deleted ones not) hold it.
	Members int
	// Holders are those members, ordered by e-mail (Get only; List leaves it empty).
	Holders []store.User
}

// definedRoles returns the workspace's roles (what member roles are checked
// against) and the stored definitions.
func (s *Service) definedRoles(ctx context.Context, ws store.Workspace) (*policy.Roles, []store.Role, error) {
	return session.TenantRoles(ctx, ws)
}

// Defined returns the workspace's roles (owners and admins).
func (r Roles) Defined(ctx context.Context, ws store.Workspace, by Admin) (*policy.Roles, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	rs, _, err := r.s.definedRoles(ctx, ws)
	return rs, err
}

// List returns every role of the workspace, built-in ones first, with how many
// members hold each (owners and admins).
func (r Roles) List(ctx context.Context, ws store.Workspace, by Admin) ([]RoleInfo, error) {
	out, _, err := r.list(ctx, ws, by)
	return out, err
}

// list is List, with the workspace's users.
func (r Roles) list(ctx context.Context, ws store.Workspace, by Admin) ([]RoleInfo, []store.User, error) {
	if !by.IsAdmin() {
		return nil, nil, ErrForbidden
	}
	rs, _, err := r.s.definedRoles(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	us, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing users: %w", err)
	}
	held := map[string]int{}
	for _, u := range us {
		if u.Status == store.UserDeleted {
			continue
		}
		for _, name := range u.Roles {
			held[name]++
		}
	}
	out := make([]RoleInfo, 0, len(rs.List()))
	for _, role := range rs.List() {
		out = append(out, RoleInfo{Role: role, Members: held[role.Name]})
	}
	return out, us, nil
}

// Get returns one role of the workspace with the members who hold it
// (ErrNoSuchRole).
func (r Roles) Get(ctx context.Context, ws store.Workspace, by Admin, name string) (RoleInfo, error) {
	all, us, err := r.list(ctx, ws, by)
	if err != nil {
		return RoleInfo{}, err
	}
	for _, ri := range all {
		if ri.Name != name {
			continue
		}
		for _, u := range us {
			if u.Status != store.UserDeleted && slices.Contains(u.Roles, name) {
				ri.Holders = append(ri.Holders, u)
			}
		}
		return ri, nil
	}
	return RoleInfo{}, ErrNoSuchRole
}

// Add defines a new role; a name the workspace uses already (a built-in role
// included) is ErrRoleExists. Otherwise as Set.
func (r Roles) Add(ctx context.Context, ws store.Workspace, by Admin, spec policy.RoleSpec) (RoleInfo, error) {
	return r.set(ctx, ws, by, spec, true)
}

// Set defines a role of the workspace's own, or replaces the permissions of a
// built-in one (owners only; owner itself never: ErrOwnerFixed). Permissions are
// spelled resource:action:scope; anything else is a *FieldError naming the
// permission. An empty description keeps a built-in role's.
func (r Roles) Set(ctx context.Context, ws store.Workspace, by Admin, spec policy.RoleSpec) (RoleInfo, error) {
	return r.set(ctx, ws, by, spec, false)
}

func (r Roles) set(ctx context.Context, ws store.Workspace, by Admin, spec policy.RoleSpec, mustBeNew bool) (RoleInfo, error) {
	if !by.IsOwner() {
		return RoleInfo{}, ErrForbidden
	}
	if err := r.s.fresh(by); err != nil {
		return RoleInfo{}, err
	}
	spec, err := cleanSpec(spec)
	if err != nil {
		return RoleInfo{}, err
	}
	rs, stored, err := r.s.definedRoles(ctx, ws)
	if err != nil {
		return RoleInfo{}, err
	}
	_, exists := rs.Get(spec.Name)
	if mustBeNew && exists {
		return RoleInfo{}, ErrRoleExists
	}
	if !exists && len(stored) >= maxTenantRoles {
		return RoleInfo{}, &FieldError{Field: "name", Msg: fmt.Sprintf("a workspace keeps at most %d roles of its own; delete one first", maxTenantRoles)}
	}
	err = ws.Roles().PutRole(ctx, store.Role{Name: spec.Name, Description: spec.Description,
		Permissions: spec.Permissions, UpdatedAt: r.s.Clock.Now()})
	if errors.Is(err, store.ErrConflict) {
		return RoleInfo{}, ErrRoleDeletedName
	}
	if err != nil {
		return RoleInfo{}, fmt.Errorf("storing the role: %w", err)
	}
	if err := r.forgetHolders(ctx, ws, spec.Name); err != nil {
		return RoleInfo{}, err
	}
	details := map[string]string{"name": spec.Name, "permissions": audit.Clip(strings.Join(spec.Permissions, ","), 4000),
		"created": fmt.Sprint(!exists)}
	if spec.Description != "" {
		details["description"] = spec.Description
	}
	if err := r.s.record(ctx, ws, by, ActionRoleSet, "role:"+spec.Name, details); err != nil {
		return RoleInfo{}, err
	}
	return r.Get(ctx, ws, by, spec.Name)
}

// cleanSpec trims spec, checks it (policy.CheckRole) and says what is wrong as a
// *FieldError: "name", "description", or "permissions" naming each bad permission.
func cleanSpec(spec policy.RoleSpec) (policy.RoleSpec, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	spec.Description = strings.TrimSpace(spec.Description)
	if spec.Name == policy.RoleOwner {
		return spec, ErrOwnerFixed
	}
	if err := policy.CheckRoleName(spec.Name); err != nil {
		return spec, &FieldError{Field: "name", Msg: err.Error()}
	}
	if len(spec.Description) > 200 || strings.ContainsFunc(spec.Description, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return spec, &FieldError{Field: "description", Msg: "at most 200 characters, without control characters"}
	}
	perms := make([]string, 0, len(spec.Permissions))
	var bad []string
	for _, p := range spec.Permissions {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := policy.ParsePermission(p); err != nil {
			bad = append(bad, err.Error())
			continue
		}
		perms = append(perms, p)
	}
	if len(bad) > 0 {
		return spec, &FieldError{Field: "permissions", Msg: strings.Join(bad, "; ")}
	}
	spec.Permissions = perms
	role, err := policy.CheckRole(spec) // the remaining limits (how many permissions)
	if err != nil {
		return spec, &FieldError{Field: "permissions", Msg: err.Error()}
	}
	spec.Permissions = role.PermissionStrings() // duplicates dropped
	return spec, nil
}

// Deleted says what a delete did.
type Deleted struct {
	Name string
	// Reset: a built-in role is back to its default permissions (false: a role of
	// the workspace's own is gone).
	Reset bool
}

// Delete deletes a role of the workspace's own — a soft delete: it is gone from the
// roles at once, so its holders lose its permissions on their next request to this
// instance (within session_cache_ttl elsewhere), but they keep its name and get it
// back if the role is restored within store.DeletedRestoreWindow (Restore) — or
// resets a built-in one to its default permissions (owners only; built-in roles
// cannot be deleted). Resetting a built-in role that was not changed does nothing.
func (r Roles) Delete(ctx context.Context, ws store.Workspace, by Admin, name string) (Deleted, error) {
	if !by.IsOwner() {
		return Deleted{}, ErrForbidden
	}
	if err := r.s.fresh(by); err != nil {
		return Deleted{}, err
	}
	name = strings.TrimSpace(name)
	if name == policy.RoleOwner {
		return Deleted{}, ErrOwnerFixed
	}
	_, builtin := policy.BuiltinRoles().Get(name)
	out := Deleted{Name: name, Reset: builtin}
	details := map[string]string{"name": name, "reset_to_default": fmt.Sprint(builtin)}
	var err error
	if builtin {
		err = ws.Roles().DeleteRole(ctx, name, false)
	} else {
		now := r.s.Clock.Now()
		err = ws.Roles().SoftDeleteRole(ctx, name, now)
		details["restorable_until"] = now.Add(store.DeletedRestoreWindow).UTC().Format(time.RFC3339)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && builtin:
		return out, nil // not changed: nothing to reset
	case errors.Is(err, store.ErrNotFound):
		return Deleted{}, ErrNoSuchRole
	case err != nil:
		return Deleted{}, fmt.Errorf("deleting the role: %w", err)
	}
	if err := r.forgetHolders(ctx, ws, name); err != nil {
		return Deleted{}, err
	}
	return out, r.s.record(ctx, ws, by, ActionRoleDelete, "role:"+name, details)
}

// forgetHolders drops the cached sessions of the members who hold role, so this
// instance applies its new definition on their next request.
func (r Roles) forgetHolders(ctx context.Context, ws store.Workspace, role string) error {
	if r.s.Sessions == nil {
		return nil
	}
	us, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("listing users: %w", err)
	}
	for _, u := range us {
		if slices.Contains(u.Roles, role) {
			r.s.Sessions.ForgetUser(u.ID)
		}
	}
	return nil
}

// checkAssignable checks that every one of roles is defined in the workspace (a
// *FieldError for field otherwise).
func (s *Service) checkAssignable(ctx context.Context, ws store.Workspace, field string, roles []string) error {
	rs, _, err := s.definedRoles(ctx, ws)
	if err != nil {
		return err
	}
	if err := rs.CheckAssignable(roles); err != nil {
		return &FieldError{Field: field, Msg: err.Error()}
	}
	return nil
}
