package storetest

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The last-owner guard: SetRoles and SetStatus never leave a tenant that has an
// active owner (an active user with the role "owner") without one.

// newOwner creates an active user with the role "owner" (and another role, so that
// the list encoding is exercised).
func newOwner(t *testing.T, h store.TenantHandle) store.User {
	t.Helper()
	u := newUser(t, h)
	u.Roles = []string{"admin", "owner"}
	noErr(t, "SetRoles owner", h.Users().SetRoles(ctx(t), u.ID, u.Roles))
	return u
}

// readUser returns the user, failing the test if they are not found.
func readUser(t *testing.T, h store.TenantHandle, id string) store.User {
	t.Helper()
	u, err := h.Users().UserByID(ctx(t), id)
	noErr(t, "UserByID", err)
	return u
}

// activeOwners counts the tenant's active owners.
func activeOwners(t *testing.T, h store.TenantHandle) int {
	t.Helper()
	list, err := h.Users().ListUsers(ctx(t))
	noErr(t, "ListUsers", err)
	n := 0
	for _, u := range list {
		if u.Status == store.UserActive && slices.Contains(u.Roles, "owner") {
			n++
		}
	}
	return n
}

// testUserRolesAndStatus: roles and status are stored as given (a tenant without an
// owner is no obstacle to changing its members), and unknown users are ErrNotFound.
func testUserRolesAndStatus(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)

	noErr(t, "SetRoles", h.Users().SetRoles(ctx(t), u.ID, []string{"member", "billing"}))
	u.Roles = []string{"member", "billing"}
	checkUser(t, "after SetRoles", readUser(t, h, u.ID), u)
	noErr(t, "SetRoles empty", h.Users().SetRoles(ctx(t), u.ID, nil))
	u.Roles = nil
	checkUser(t, "after SetRoles empty", readUser(t, h, u.ID), u)

	for _, status := range []string{store.UserDisabled, store.UserRestricted, store.UserActive} {
		noErr(t, "SetStatus "+status, h.Users().SetStatus(ctx(t), u.ID, status))
		u.Status = status
		checkUser(t, "after SetStatus "+status, readUser(t, h, u.ID), u)
	}
	checkUser(t, "other user", readUser(t, h, other.ID), other)

	wantErr(t, "SetRoles unknown", h.Users().SetRoles(ctx(t), "us-missing", []string{"owner"}), store.ErrNotFound)
	wantErr(t, "SetStatus unknown", h.Users().SetStatus(ctx(t), "us-missing", store.UserActive), store.ErrNotFound)
}

// testLastOwnerRole: the last active owner cannot lose the role; one of two can.
func testLastOwnerRole(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	owner, member := newOwner(t, h), newUser(t, h)
	users := h.Users()

	wantErr(t, "SetRoles demoting the last owner", users.SetRoles(ctx(t), owner.ID, []string{"admin"}), store.ErrLastOwner)
	wantErr(t, "SetRoles emptying the last owner's roles", users.SetRoles(ctx(t), owner.ID, nil), store.ErrLastOwner)
	checkUser(t, "last owner after refused demotions", readUser(t, h, owner.ID), owner)
	// Keeping the role while changing the others is no demotion.
	noErr(t, "SetRoles keeping owner", users.SetRoles(ctx(t), owner.ID, []string{"owner"}))
	owner.Roles = []string{"owner"}
	// Neither a look-alike role nor a disabled owner counts as another owner.
	noErr(t, "SetRoles co-owner", users.SetRoles(ctx(t), member.ID, []string{"co-owner", "Owner", `"owner"`}))
	disabled := newOwner(t, h)
	noErr(t, "SetStatus disabling the second owner", users.SetStatus(ctx(t), disabled.ID, store.UserDisabled))
	wantErr(t, "SetRoles demoting the last active owner", users.SetRoles(ctx(t), owner.ID, []string{"member"}), store.ErrLastOwner)
	checkUser(t, "last active owner", readUser(t, h, owner.ID), owner)

	// With a second active owner, either may step down, but not both.
	noErr(t, "SetRoles promoting the member", users.SetRoles(ctx(t), member.ID, []string{"owner"}))
	noErr(t, "SetRoles demoting one of two owners", users.SetRoles(ctx(t), owner.ID, []string{"member"}))
	owner.Roles = []string{"member"}
	checkUser(t, "demoted owner", readUser(t, h, owner.ID), owner)
	wantErr(t, "SetRoles demoting the remaining owner", users.SetRoles(ctx(t), member.ID, []string{"member"}), store.ErrLastOwner)
	if n := activeOwners(t, h); n != 1 {
		t.Fatalf("%d active owners at the end, want 1", n)
	}
	// A disabled owner's roles are not guarded: they are no active owner.
	noErr(t, "SetRoles of a disabled owner", users.SetRoles(ctx(t), disabled.ID, []string{"member"}))
}

// testLastOwnerStatus: the last active owner cannot be disabled, restricted or
// deleted; one of two can, and may come back.
func testLastOwnerStatus(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	owner := newOwner(t, h)
	users := h.Users()

	for _, status := range []string{store.UserDisabled, store.UserRestricted, store.UserDeleted, "something-else"} {
		wantErr(t, "SetStatus "+status+" of the last owner", users.SetStatus(ctx(t), owner.ID, status), store.ErrLastOwner)
	}
	noErr(t, "SetStatus active of the last owner (no change)", users.SetStatus(ctx(t), owner.ID, store.UserActive))
	checkUser(t, "last owner after refused changes", readUser(t, h, owner.ID), owner)

	second := newOwner(t, h)
	noErr(t, "SetStatus disabling one of two owners", users.SetStatus(ctx(t), owner.ID, store.UserDisabled))
	owner.Status = store.UserDisabled
	checkUser(t, "disabled owner", readUser(t, h, owner.ID), owner)
	wantErr(t, "SetStatus disabling the remaining owner", users.SetStatus(ctx(t), second.ID, store.UserDisabled), store.ErrLastOwner)
	wantErr(t, "SetRoles demoting the remaining owner", users.SetRoles(ctx(t), second.ID, nil), store.ErrLastOwner)

	// The disabled owner comes back; then the other may go.
	noErr(t, "SetStatus re-enabling the owner", users.SetStatus(ctx(t), owner.ID, store.UserActive))
	noErr(t, "SetStatus restricting the other owner", users.SetStatus(ctx(t), second.ID, store.UserRestricted))
	if n := activeOwners(t, h); n != 1 {
		t.Fatalf("%d active owners at the end, want 1", n)
	}
}

// testLastOwnerOtherTenants: owners of another tenant (even under the same user id)
// do not keep this tenant's last owner replaceable, and the guard of one tenant does
// not block changes in another.
func testLastOwnerOtherTenants(t *testing.T, st store.Store) {
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	ownerA := newUserWithID(t, a, "us-owner")
	noErr(t, "A: SetRoles owner", a.Users().SetRoles(ctx(t), ownerA.ID, []string{"owner"}))
	ownerB := newUserWithID(t, b, "us-owner")
	noErr(t, "B: SetRoles owner", b.Users().SetRoles(ctx(t), ownerB.ID, []string{"owner"}))
	secondB := newOwner(t, b)

	wantErr(t, "A: SetRoles demoting A's only owner", a.Users().SetRoles(ctx(t), ownerA.ID, nil), store.ErrLastOwner)
	wantErr(t, "A: SetStatus disabling A's only owner", a.Users().SetStatus(ctx(t), ownerA.ID, store.UserDisabled), store.ErrLastOwner)
	noErr(t, "B: SetRoles demoting one of B's two owners", b.Users().SetRoles(ctx(t), ownerB.ID, nil))
	if got := readUser(t, a, ownerA.ID); !slices.Equal(got.Roles, []string{"owner"}) || got.Status != store.UserActive {
		t.Errorf("A's owner after B's change: %q %s", got.Roles, got.Status)
	}
	wantErr(t, "B: SetStatus disabling B's last owner", b.Users().SetStatus(ctx(t), secondB.ID, store.UserDisabled), store.ErrLastOwner)
}

// testLastOwnerConcurrent: two owners demote (or disable, or delete) each other at the same
// moment. Each change alone is allowed, both together are not: exactly one succeeds,
// the other gets ErrLastOwner, and the tenant keeps one active owner. Several rounds,
// since a check-then-act bug shows only when the two interleave.
func testLastOwnerConcurrent(t *testing.T, st store.Store) {
	changes := map[string]func(h store.TenantHandle, id string) error{
		"roles": func(h store.TenantHandle, id string) error {
			return h.Users().SetRoles(t.Context(), id, []string{"member"})
		},
		"status": func(h store.TenantHandle, id string) error {
			return h.Users().SetStatus(t.Context(), id, store.UserDisabled)
		},
		"delete": func(h store.TenantHandle, id string) error {
			return h.Users().DeleteUser(t.Context(), id, base)
		},
	}
	for _, mix := range [][2]string{{"roles", "roles"}, {"status", "status"}, {"roles", "status"}, {"delete", "delete"}, {"delete", "status"}} {
		for range raceRounds {
			h := st.Tenant(newTenant(t, st).ID)
			x, y := newOwner(t, h), newOwner(t, h)
			errs := raceEach(
				func() error { return changes[mix[0]](h, y.ID) }, // x demotes y
				func() error { return changes[mix[1]](h, x.ID) }, // y demotes x
			)
			exactlyOneWins(t, "owners demoting each other ("+mix[0]+", "+mix[1]+")", errs, store.ErrLastOwner)
			if n := activeOwners(t, h); n != 1 {
				t.Fatalf("%s/%s: %d active owners after the race, want 1", mix[0], mix[1], n)
			}
		}
	}
}

// testLastOwnerConcurrentMany: eight owners all step down at once; all but one may.
func testLastOwnerConcurrentMany(t *testing.T, st store.Store) {
	for range raceRounds {
		h := st.Tenant(newTenant(t, st).ID)
		const owners = 8
		var fns []func() error
		for range owners {
			o := newOwner(t, h)
			fns = append(fns, func() error { return h.Users().SetRoles(t.Context(), o.ID, []string{"member"}) })
		}
		errs := raceEach(fns...)
		losers := 0
		for _, err := range errs {
			if err != nil {
				wantErr(t, "concurrent SetRoles", err, store.ErrLastOwner)
				losers++
			}
		}
		if losers != 1 {
			t.Errorf("%d of %d concurrent demotions refused, want exactly 1", losers, owners)
		}
		if n := activeOwners(t, h); n != 1 {
			t.Fatalf("%d active owners after the race, want 1", n)
		}
	}
}
