package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var roleTests = []test{
	{"PutAndList", testRolePutList},
	{"Delete", testRoleDelete},
	{"DeleteIfUnused", testRoleDeleteIfUnused},
}

func checkRole(t *testing.T, what string, got, want store.Role) {
	t.Helper()
	// nil and empty lists are the same thing.
	if got.Name != want.Name || got.Description != want.Description || !slices.Equal(got.Permissions, want.Permissions) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// listRoles returns ListRoles, failing the test on an error.
func listRoles(t *testing.T, h store.TenantHandle) []store.Role {
	t.Helper()
	list, err := h.Roles().ListRoles(ctx(t))
	noErr(t, "ListRoles", err)
	return list
}

// checkRoles checks that ListRoles returns exactly want, in order.
func checkRoles(t *testing.T, what string, h store.TenantHandle, want ...store.Role) {
	t.Helper()
	got := listRoles(t, h)
	if len(got) != len(want) {
		t.Fatalf("%s: ListRoles returned %d roles %+v, want %d", what, len(got), got, len(want))
	}
	for i := range want {
		checkRole(t, what, got[i], want[i])
	}
}

func putRole(t *testing.T, h store.TenantHandle, r store.Role) store.Role {
	t.Helper()
	noErr(t, "PutRole "+r.Name, h.Roles().PutRole(ctx(t), r))
	return r
}

// testRolePutList: roles round-trip (no permissions and the zero time included), are
// listed by name, and PutRole of an existing name replaces the role in place.
func testRolePutList(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	checkRoles(t, "new tenant", h)

	zeta := putRole(t, h, store.Role{Name: "zeta", Description: "Last", Permissions: []string{"users:read:all"}, UpdatedAt: base})
	alpha := putRole(t, h, store.Role{Name: "alpha", Description: "First",
		Permissions: []string{"users:read:all", "teams:write:own"}, UpdatedAt: base.In(time.FixedZone("UTC-3", -3*3600))})
	empty := putRole(t, h, store.Role{Name: "mid_role-2"}) // no permissions, no description, no time
	checkRoles(t, "three roles", h, alpha, empty, zeta)

	alpha2 := store.Role{Name: "alpha", Description: "First, revised", Permissions: []string{"audit:read:all"}, UpdatedAt: base.Add(time.Hour)}
	putRole(t, h, alpha2)
	checkRoles(t, "after replacing alpha", h, alpha2, empty, zeta)
	// Replacing with no permissions and no time clears both.
	cleared := putRole(t, h, store.Role{Name: "zeta", Description: "Last"})
	checkRoles(t, "after clearing zeta", h, alpha2, empty, cleared)

	ghost := st.Tenant("tn-ghost-" + randHex(8))
	wantErr(t, "PutRole for an unknown tenant", ghost.Roles().PutRole(ctx(t), alpha), store.ErrNotFound)
}

// testRoleDelete: without ifUnused a role goes whoever holds it; an absent role is
// ErrNotFound either way.
func testRoleDelete(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	keep := putRole(t, h, store.Role{Name: "keep", Permissions: []string{"users:read:all"}, UpdatedAt: base})
	putRole(t, h, store.Role{Name: "held", Permissions: []string{"users:read:all"}, UpdatedAt: base})
	u := newUser(t, h)
	noErr(t, "SetRoles", h.Users().SetRoles(ctx(t), u.ID, []string{"member", "held"}))

	noErr(t, "DeleteRole of a held role without ifUnused", h.Roles().DeleteRole(ctx(t), "held", false))
	checkRoles(t, "after DeleteRole", h, keep)
	wantErr(t, "DeleteRole again", h.Roles().DeleteRole(ctx(t), "held", false), store.ErrNotFound)
	wantErr(t, "DeleteRole again, ifUnused", h.Roles().DeleteRole(ctx(t), "held", true), store.ErrNotFound)
	wantErr(t, "DeleteRole unknown", h.Roles().DeleteRole(ctx(t), "missing", false), store.ErrNotFound)
	// A role users hold that the tenant never defined (a built-in one) is absent.
	wantErr(t, "DeleteRole of a held, undefined role, ifUnused", h.Roles().DeleteRole(ctx(t), "member", true), store.ErrNotFound)
	got, err := h.Users().UserByID(ctx(t), u.ID)
	noErr(t, "UserByID", err)
	if !slices.Equal(got.Roles, []string{"member", "held"}) {
		t.Errorf("user's roles after DeleteRole: %q; a role definition's delete must not touch them", got.Roles)
	}
}

// testRoleDeleteIfUnused: ifUnused refuses (ErrInUse, the role kept) while a user who
// is not deleted holds the role, whatever their other status, and allows the delete
// once SetRoles took it away; a deleted user does not count, nor does a user holding
// a role whose name merely resembles this one.
func testRoleDeleteIfUnused(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	role := putRole(t, h, store.Role{Name: "ops_lead", Description: "Ops", Permissions: []string{"users:read:all"}, UpdatedAt: base})
	holder, disabled, gone, lookalike := newUser(t, h), newUser(t, h), newUser(t, h), newUser(t, h)
	noErr(t, "SetRoles holder", h.Users().SetRoles(ctx(t), holder.ID, []string{"member", "ops_lead"}))
	noErr(t, "SetRoles disabled", h.Users().SetRoles(ctx(t), disabled.ID, []string{"ops_lead"}))
	noErr(t, "SetStatus disabled", h.Users().SetStatus(ctx(t), disabled.ID, store.UserDisabled))
	noErr(t, "SetRoles gone", h.Users().SetRoles(ctx(t), gone.ID, []string{"ops_lead"}))
	noErr(t, "SetStatus gone", h.Users().SetStatus(ctx(t), gone.ID, store.UserDeleted))
	// "_" is a LIKE wildcard and SQLite's LIKE ignores case: neither may make a match.
	noErr(t, "SetRoles lookalike", h.Users().SetRoles(ctx(t), lookalike.ID, []string{"opsxlead", "OPS_LEAD", "ops_lead2", "x-ops_lead"}))

	wantErr(t, "DeleteRole ifUnused while two users hold it", h.Roles().DeleteRole(ctx(t), role.Name, true), store.ErrInUse)
	checkRoles(t, "after the refused delete", h, role)

	noErr(t, "SetRoles takes the role from holder", h.Users().SetRoles(ctx(t), holder.ID, []string{"member"}))
	wantErr(t, "DeleteRole ifUnused while a disabled user holds it", h.Roles().DeleteRole(ctx(t), role.Name, true), store.ErrInUse)
	checkRoles(t, "after the second refused delete", h, role)

	noErr(t, "SetRoles takes the role from disabled", h.Users().SetRoles(ctx(t), disabled.ID, nil))
	noErr(t, "DeleteRole ifUnused once only a deleted user holds it", h.Roles().DeleteRole(ctx(t), role.Name, true))
	checkRoles(t, "after the delete", h)
	wantErr(t, "DeleteRole ifUnused again", h.Roles().DeleteRole(ctx(t), role.Name, true), store.ErrNotFound)

	// A role nobody ever held.
	putRole(t, h, store.Role{Name: "unused", UpdatedAt: base})
	noErr(t, "DeleteRole ifUnused of an unused role", h.Roles().DeleteRole(ctx(t), "unused", true))
	checkRoles(t, "after deleting the unused role", h)
}
