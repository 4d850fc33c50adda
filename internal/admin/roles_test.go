package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// roleOf returns the named role of the list (failing when absent).
func roleOf(t *testing.T, list []RoleInfo, name string) RoleInfo {
	t.Helper()
	for _, r := range list {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no role %s in %+v", name, list)
	return RoleInfo{}
}

// scopeOf is what the member's (cached) session allows on resource:action.
func (c *crew) scopeOf(t *testing.T, token, resource, action string) policy.Scope {
	t.Helper()
	e, err := c.sessions.Validate(context.Background(), c.ws, c.ws.Slug, token)
	if err != nil {
		t.Fatal(err)
	}
	return e.Subject.Grants.Scope(resource, action)
}

// TestOwnersDefineRoles: an owner adds a role and changes a built-in one; the list
// says which are built-in and changed and how many members hold each; each change is
// audited; admins see the roles but change nothing, members not even see them.
func TestOwnersDefineRoles(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	_, mem := c.member(t, "ann@acme.test", identity.RoleMember)
	c.member(t, "bob@acme.test", identity.RoleMember)

	got, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: " sales ", Description: "Sells",
		Permissions: []string{"deals:read:tenant", " deals:edit:own ", "", "deals:read:tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "sales" || got.Builtin || got.Changed || got.Members != 0 ||
		!slices.Equal(got.PermissionStrings(), []string{"deals:read:tenant", "deals:edit:own"}) {
		t.Fatalf("set: %+v %v", got, got.PermissionStrings())
	}
	rec := c.lastRecord(t)
	if rec.Action != ActionRoleSet || rec.ActorID != owner.UserID || rec.Target != "role:sales" ||
		rec.Details["name"] != "sales" || rec.Details["permissions"] != "deals:read:tenant,deals:edit:own" || rec.Details["created"] != "true" {
		t.Fatalf("audit: %+v", rec)
	}
	if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: identity.RoleMember, Permissions: []string{"deals:read:own"}}); err != nil {
		t.Fatal(err)
	}

	for _, by := range []Admin{owner, adm} {
		list, err := c.svc.Roles().List(ctx, c.ws, by)
		if err != nil {
			t.Fatal(err)
		}
		if names := roleNames(list); !slices.Equal(names, []string{"owner", "admin", "manager", "member", "sales"}) {
			t.Fatalf("roles: %v", names)
		}
		if m := roleOf(t, list, "member"); !m.Builtin || !m.Changed || m.Members != 2 || m.Description == "" ||
			!slices.Equal(m.PermissionStrings(), []string{"deals:read:own"}) {
			t.Fatalf("changed built-in: %+v", m)
		}
		if a := roleOf(t, list, "admin"); !a.Builtin || a.Changed || a.Members != 1 {
			t.Fatalf("unchanged built-in: %+v", a)
		}
		if o := roleOf(t, list, "owner"); o.Members != 1 {
			t.Fatalf("owner: %+v", o)
		}
	}

	if _, err := c.svc.Roles().Set(ctx, c.ws, adm, policy.RoleSpec{Name: "x", Permissions: []string{"a:b:own"}}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin setting a role: %v", err)
	}
	if _, err := c.svc.Roles().Delete(ctx, c.ws, adm, "sales"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin deleting a role: %v", err)
	}
	if _, err := c.svc.Roles().List(ctx, c.ws, mem); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member listing roles: %v", err)
	}
	if _, err := c.svc.Roles().Get(ctx, c.ws, owner, "x"); !errors.Is(err, ErrNoSuchRole) {
		t.Fatalf("the refused role exists: %v", err)
	}

	// Add refuses a name in use; Set replaces.
	for _, name := range []string{"sales", "admin"} {
		if _, err := c.svc.Roles().Add(ctx, c.ws, owner, policy.RoleSpec{Name: name}); !errors.Is(err, ErrRoleExists) {
			t.Fatalf("adding %s again: %v", name, err)
		}
	}

	// Resetting a built-in role deletes the override.
	d, err := c.svc.Roles().Delete(ctx, c.ws, owner, identity.RoleMember)
	if err != nil || !d.Reset {
		t.Fatalf("reset: %+v %v", d, err)
	}
	m, _ := c.svc.Roles().Get(ctx, c.ws, owner, identity.RoleMember)
	if m.Changed || !slices.Equal(m.PermissionStrings(), []string{"*:*:own"}) {
		t.Fatalf("after the reset: %+v", m)
	}
	if rec := c.lastRecord(t); rec.Action != ActionRoleDelete || rec.Details["name"] != "member" || rec.Details["reset_to_default"] != "true" {
		t.Fatalf("audit: %+v", rec)
	}
	if d, err := c.svc.Roles().Delete(ctx, c.ws, owner, identity.RoleManager); err != nil || !d.Reset {
		t.Fatalf("resetting an unchanged role: %+v %v", d, err)
	}
	if _, err := c.svc.Roles().Delete(ctx, c.ws, owner, "nobody"); !errors.Is(err, ErrNoSuchRole) {
		t.Fatalf("deleting an unknown role: %v", err)
	}
}

func roleNames(list []RoleInfo) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.Name
	}
	return out
}

// TestRoleChangesAreChecked: owner is fixed; bad names and permissions are refused
// with the field and every bad permission named, changing nothing; a stale session
// confirms the password first.
func TestRoleChangesAreChecked(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, owner := c.member(t, "owner@acme.test", identity.RoleOwner)

	if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: "owner", Permissions: []string{"deals:read:own"}}); !errors.Is(err, ErrOwnerFixed) {
		t.Fatalf("changing owner: %v", err)
	}
	if _, err := c.svc.Roles().Delete(ctx, c.ws, owner, "owner"); !errors.Is(err, ErrOwnerFixed) {
		t.Fatalf("deleting owner: %v", err)
	}
	var fe *FieldError
	_, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: "sales",
		Permissions: []string{"deals:read:own", "deals:read", "Deals:edit:team", "deals:edit:world"}})
	if !errors.As(err, &fe) || fe.Field != "permissions" {
		t.Fatalf("bad permissions: %v", err)
	}
	for _, bad := range []string{`"deals:read"`, `"Deals:edit:team"`, `"deals:edit:world"`} {
		if !strings.Contains(fe.Msg, bad) {
			t.Errorf("the error does not name %s: %s", bad, fe.Msg)
		}
	}
	if strings.Contains(fe.Msg, `"deals:read:own"`) {
		t.Errorf("the error names a good permission: %s", fe.Msg)
	}
	for _, name := range []string{"", "Sales", "9lives", strings.Repeat("a", 33)} {
		if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: name}); !errors.As(err, &fe) || fe.Field != "name" {
			t.Fatalf("role name %q: %v", name, err)
		}
	}
	if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: "ok", Description: strings.Repeat("d", 201)}); !errors.As(err, &fe) || fe.Field != "description" {
		t.Fatalf("long description: %v", err)
	}
	stored, _ := c.ws.Roles().ListRoles(ctx)
	if len(stored) != 0 {
		t.Fatalf("refused changes were stored: %+v", stored)
	}

	stale := owner
	stale.Verified = c.clk.Now().Add(-time.Hour)
	if _, err := c.svc.Roles().Set(ctx, c.ws, stale, policy.RoleSpec{Name: "sales"}); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("stale session: %v", err)
	}
	if _, err := c.svc.Roles().Set(ctx, c.ws, CLI(), policy.RoleSpec{Name: "sales"}); err != nil {
		t.Fatalf("the CLI: %v", err)
	}
}

// TestCustomRolesAreAssignable: a role the workspace defined can be given to members
// once it exists (not before), by invitation too; admins still make no owners and the
// last owner stays; a role held cannot be deleted; the members holding a role get its
// new permissions on their next request.
func TestCustomRolesAreAssignable(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	ownerU, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	ann, _ := c.member(t, "ann@acme.test", identity.RoleMember)
	tok, _ := c.session(t, ann)

	var fe *FieldError
	if _, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ann.ID}, "sales"); !errors.As(err, &fe) || fe.Field != "role" {
		t.Fatalf("an undefined role: %v", err)
	}
	var ie *authn.InputError
	if _, err := c.svc.AddUser(ctx, c.ws, CLI(), authn.NewUser{Email: "new@acme.test", Password: pw, Roles: []string{"sales"}}); !errors.As(err, &ie) || ie.Field != "roles" {
		t.Fatalf("adding a user with an undefined role: %v", err)
	}
	if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: "sales", Permissions: []string{"deals:read:own"}}); err != nil {
		t.Fatal(err)
	}
	if u, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ann.ID}, "sales"); err != nil || !slices.Equal(c.stored(t, ann.ID).Roles, []string{"sales"}) {
		t.Fatalf("an admin giving the new role: %+v %v", u, err)
	}
	if s := c.scopeOf(t, tok, "deals", "read"); s != policy.ScopeOwn {
		t.Fatalf("ann's session after the role change: %v", s)
	}
	// A new definition reaches her cached session at once.
	if _, err := c.svc.Roles().Set(ctx, c.ws, owner, policy.RoleSpec{Name: "sales", Permissions: []string{"deals:read:tenant"}}); err != nil {
		t.Fatal(err)
	}
	if s := c.scopeOf(t, tok, "deals", "read"); s != policy.ScopeTenant {
		t.Fatalf("ann's session after the role's change: %v", s)
	}
	if u, _, err := c.svc.Invite(ctx, c.ws, adm, Invitation{Email: "cy@acme.test", Role: "sales"}); err != nil || !slices.Equal(u.Roles, []string{"sales"}) {
		t.Fatalf("invitation with the new role: %+v %v", u, err)
	}
	if _, err := c.svc.AddUser(ctx, c.ws, CLI(), authn.NewUser{Email: "dee@acme.test", Password: pw, Roles: []string{"sales"}}); err != nil {
		t.Fatalf("adding a user with the new role: %v", err)
	}

	if r, err := c.svc.Roles().Get(ctx, c.ws, owner, "sales"); err != nil || r.Members != 3 || len(r.Holders) != 3 || r.Holders[0].Email != "ann@acme.test" {
		t.Fatalf("the held role: %+v %v", r, err)
	}

	// Owners stay an owner's business; the last owner stays.
	if _, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ann.ID}, identity.RoleOwner); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin making an owner: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ownerU.ID}, "sales"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin demoting the owner: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{UserID: ownerU.ID}, "sales"); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("the last owner taking a custom role: %v", err)
	}
	if !slices.Equal(c.stored(t, ownerU.ID).Roles, []string{"owner"}) {
		t.Fatal("the last owner lost the role")
	}

	// Once nobody holds it, it goes, and with it what it granted.
	for _, email := range []string{"ann@acme.test", "cy@acme.test", "dee@acme.test"} {
		if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{Email: email}, identity.RoleMember); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := c.svc.Roles().Delete(ctx, c.ws, owner, "sales"); err != nil || d.Reset {
		t.Fatalf("deleting the unused role: %+v %v", d, err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{UserID: ann.ID}, "sales"); !errors.As(err, &fe) {
		t.Fatalf("the deleted role: %v", err)
	}
	if acts := c.actions(t); !slices.Contains(acts, ActionRoleDelete) || !slices.Contains(acts, ActionRoleSet) {
		t.Fatalf("audit: %v", acts)
	}
}

// TestAdminsGrantNoMoreThanTheyHave: once an owner narrows the admin role, an admin
// cannot hand out (by role change, invitation or the CLI's add) a custom role that
// grants more than they have.
func TestAdminsGrantNoMoreThanTheyHave(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	ann, _ := c.member(t, "ann@acme.test", identity.RoleMember)
	for _, spec := range []policy.RoleSpec{
		{Name: identity.RoleAdmin, Permissions: []string{"deals:read:tenant"}},
		{Name: "finance", Permissions: []string{"*:*:tenant"}},
		{Name: "reader", Permissions: []string{"deals:read:team"}},
	} {
		if _, err := c.svc.Roles().Set(ctx, c.ws, owner, spec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ann.ID}, "finance"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin handing out more than they have: %v", err)
	}
	if _, _, err := c.svc.Invite(ctx, c.ws, adm, Invitation{Email: "cy@acme.test", Role: "finance"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin inviting with more than they have: %v", err)
	}
	if !slices.Equal(c.stored(t, ann.ID).Roles, []string{identity.RoleMember}) {
		t.Fatal("the role changed anyway")
	}
	if _, err := c.svc.SetRole(ctx, c.ws, adm, Target{UserID: ann.ID}, "reader"); err != nil {
		t.Fatalf("a role within the admin's own grants: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{UserID: ann.ID}, "finance"); err != nil {
		t.Fatalf("the owner: %v", err)
	}
}
