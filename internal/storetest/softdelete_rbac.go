package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Soft delete of teams and roles (issue 12 §4): a deleted team or role is out of
// every live query but keeps its name; a restore brings it back with its members or
// holders; a purge after the window removes it for good.
var softDeleteRBACTests = []test{
	{"TeamRestore", testSoftDeleteTeamRestore},
	{"TeamPurge", testSoftDeleteTeamPurge},
	{"RoleRestore", testSoftDeleteRoleRestore},
	{"RolePurge", testSoftDeleteRolePurge},
	{"RBACOtherTenant", testSoftDeleteRBACOtherTenant},
}

// deletedTeam returns the one team DeletedTeams lists.
func deletedTeam(t *testing.T, h store.TenantHandle) store.Team {
	t.Helper()
	list, err := h.Teams().DeletedTeams(ctx(t))
	noErr(t, "DeletedTeams", err)
	if len(list) != 1 {
		t.Fatalf("DeletedTeams = %+v, want one team", list)
	}
	return list[0]
}

// testSoftDeleteTeamRestore: a deleted team is listed as deleted with its members;
// restored, it is found again and back in the teams of its members, including one
// who was a deleted member at the time (visible once they are restored too).
func testSoftDeleteTeamRestore(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	tm, other := newTeam(t, h, "Sales"), newTeam(t, h, "Ops")
	u1, u2, gone, outsider := newUser(t, h), newUser(t, h), newUser(t, h), newUser(t, h)
	for _, id := range []string{u1.ID, u2.ID, gone.ID} {
		addMember(t, h, tm.ID, id)
	}
	addMember(t, h, other.ID, u1.ID)
	addMember(t, h, other.ID, outsider.ID)
	deleteUser(t, h, gone.ID, base)
	at := base.Add(time.Hour)

	noErr(t, "DeleteTeam", h.Teams().DeleteTeam(ctx(t), tm.ID, at))
	wantUserTeams(t, "u1 after the delete", h, u1.ID, other.ID)
	wantUserTeams(t, "u2 after the delete", h, u2.ID)
	d := deletedTeam(t, h)
	if d.ID != tm.ID || d.Name != tm.Name {
		t.Errorf("DeletedTeams entry %+v, want %s", d, tm.ID)
	}
	sameTime(t, "DeletedAt", d.DeletedAt, at)
	if got, want := slices.Sorted(slices.Values(d.DeletedMembers)), slices.Sorted(slices.Values([]string{u1.ID, u2.ID, gone.ID})); !slices.Equal(got, want) {
		t.Errorf("DeletedMembers = %q, want %q", got, want)
	}
	// Nobody joins a deleted team meanwhile; u2 leaves another team meanwhile.
	wantErr(t, "AddTeamMember of the deleted team", h.Teams().AddTeamMember(ctx(t), tm.ID, outsider.ID), store.ErrNotFound)
	addMember(t, h, other.ID, u2.ID)

	wantErr(t, "RestoreTeam of a live team", h.Teams().RestoreTeam(ctx(t), other.ID), store.ErrNotFound)
	wantErr(t, "RestoreTeam of an unknown team", h.Teams().RestoreTeam(ctx(t), "tm-nobody"), store.ErrNotFound)
	noErr(t, "RestoreTeam", h.Teams().RestoreTeam(ctx(t), tm.ID))
	wantErr(t, "RestoreTeam twice", h.Teams().RestoreTeam(ctx(t), tm.ID), store.ErrNotFound)

	got, err := h.Teams().TeamByName(ctx(t), "sales")
	noErr(t, "TeamByName after the restore", err)
	checkTeam(t, "restored team", got, tm)
	if !got.DeletedAt.IsZero() {
		t.Errorf("restored team has DeletedAt %v", got.DeletedAt)
	}
	wantUserTeams(t, "u1 after the restore", h, u1.ID, other.ID, tm.ID)
	wantUserTeams(t, "u2 after the restore (changes meanwhile kept)", h, u2.ID, other.ID, tm.ID)
	wantUserTeams(t, "outsider after the restore", h, outsider.ID, other.ID)
	wantMembers(t, "restored team", h, tm.ID, u1.ID, u2.ID)
	noErr(t, "RestoreUser", h.Users().RestoreUser(ctx(t), gone.ID))
	wantUserTeams(t, "the restored member", h, gone.ID, tm.ID)
	if list, err := h.Teams().DeletedTeams(ctx(t)); err != nil || len(list) != 0 {
		t.Errorf("DeletedTeams after the restore = %+v, %v", list, err)
	}
}

// testSoftDeleteTeamPurge: only a team deleted before the cut-off is purged; its
// name is free afterwards and it cannot be restored.
func testSoftDeleteTeamPurge(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	tm, live := newTeam(t, h, "Old"), newTeam(t, h, "Live")
	at := base.Add(time.Hour)
	noErr(t, "DeleteTeam", h.Teams().DeleteTeam(ctx(t), tm.ID, at))
	wantErr(t, "PurgeTeam of a live team", h.Teams().PurgeTeam(ctx(t), live.ID, at.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "PurgeTeam within the window", h.Teams().PurgeTeam(ctx(t), tm.ID, at), store.ErrNotFound)
	deletedTeam(t, h)
	noErr(t, "PurgeTeam", h.Teams().PurgeTeam(ctx(t), tm.ID, at.Add(time.Nanosecond)))
	wantErr(t, "RestoreTeam after the purge", h.Teams().RestoreTeam(ctx(t), tm.ID), store.ErrNotFound)
	if list, err := h.Teams().DeletedTeams(ctx(t)); err != nil || len(list) != 0 {
		t.Errorf("DeletedTeams after the purge = %+v, %v", list, err)
	}
	newTeam(t, h, "OLD")
}

// testSoftDeleteRoleRestore: a deleted role is not listed (it grants nothing) but
// keeps its name and its holders; restored, it is listed as it was.
func testSoftDeleteRoleRestore(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	keep := putRole(t, h, store.Role{Name: "auditor", Permissions: []string{"audit:read:tenant"}, UpdatedAt: base})
	sales := putRole(t, h, store.Role{Name: "sales", Description: "Sells", Permissions: []string{"deals:*:team"}, UpdatedAt: base})
	u := newUser(t, h)
	noErr(t, "SetRoles", h.Users().SetRoles(ctx(t), u.ID, []string{"member", "sales"}))
	at := base.Add(time.Hour)

	noErr(t, "SoftDeleteRole of a held role", h.Roles().SoftDeleteRole(ctx(t), "sales", at))
	checkRoles(t, "after the delete", h, keep)
	del, err := h.Roles().DeletedRoles(ctx(t))
	noErr(t, "DeletedRoles", err)
	if len(del) != 1 {
		t.Fatalf("DeletedRoles = %+v, want sales", del)
	}
	checkRole(t, "DeletedRoles entry", del[0], sales)
	sameTime(t, "DeletedAt", del[0].DeletedAt, at)
	if got := readUser(t, h, u.ID).Roles; !slices.Equal(got, []string{"member", "sales"}) {
		t.Errorf("holder's roles after the delete = %q, want them kept for a restore", got)
	}
	// The name stays taken; nothing live touches the deleted role.
	wantErr(t, "PutRole under a deleted role's name", h.Roles().PutRole(ctx(t),
		store.Role{Name: "sales", Permissions: []string{"*:*:tenant"}, UpdatedAt: at}), store.ErrConflict)
	wantErr(t, "SoftDeleteRole again", h.Roles().SoftDeleteRole(ctx(t), "sales", at), store.ErrNotFound)
	wantErr(t, "DeleteRole of a deleted role", h.Roles().DeleteRole(ctx(t), "sales", false), store.ErrNotFound)
	wantErr(t, "SoftDeleteRole unknown", h.Roles().SoftDeleteRole(ctx(t), "nobody", at), store.ErrNotFound)
	wantErr(t, "RestoreRole of a live role", h.Roles().RestoreRole(ctx(t), "auditor"), store.ErrNotFound)

	noErr(t, "RestoreRole", h.Roles().RestoreRole(ctx(t), "sales"))
	wantErr(t, "RestoreRole twice", h.Roles().RestoreRole(ctx(t), "sales"), store.ErrNotFound)
	checkRoles(t, "after the restore (as it was)", h, keep, sales)
	if del, err := h.Roles().DeletedRoles(ctx(t)); err != nil || len(del) != 0 {
		t.Errorf("DeletedRoles after the restore = %+v, %v", del, err)
	}
}

// testSoftDeleteRolePurge: the purge removes the role after the window and its name
// from every holder, deleted members included, so that a new role of the same name
// grants nothing to them.
func testSoftDeleteRolePurge(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	putRole(t, h, store.Role{Name: "sales", Permissions: []string{"deals:*:team"}, UpdatedAt: base})
	u, gone := newUser(t, h), newUser(t, h)
	for _, id := range []string{u.ID, gone.ID} {
		noErr(t, "SetRoles", h.Users().SetRoles(ctx(t), id, []string{"sales", "member"}))
	}
	deleteUser(t, h, gone.ID, base)
	at := base.Add(time.Hour)
	noErr(t, "SoftDeleteRole", h.Roles().SoftDeleteRole(ctx(t), "sales", at))
	wantErr(t, "PurgeRole within the window", h.Roles().PurgeRole(ctx(t), "sales", at), store.ErrNotFound)
	wantErr(t, "PurgeRole of an unknown role", h.Roles().PurgeRole(ctx(t), "nobody", at.Add(time.Hour)), store.ErrNotFound)
	noErr(t, "PurgeRole", h.Roles().PurgeRole(ctx(t), "sales", at.Add(time.Nanosecond)))
	wantErr(t, "PurgeRole twice", h.Roles().PurgeRole(ctx(t), "sales", at.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "RestoreRole after the purge", h.Roles().RestoreRole(ctx(t), "sales"), store.ErrNotFound)
	if got := readUser(t, h, u.ID).Roles; !slices.Equal(got, []string{"member"}) {
		t.Errorf("holder's roles after the purge = %q, want [member]", got)
	}
	noErr(t, "RestoreUser", h.Users().RestoreUser(ctx(t), gone.ID))
	if got := readUser(t, h, gone.ID).Roles; !slices.Equal(got, []string{"member"}) {
		t.Errorf("deleted holder's roles after the purge = %q, want [member]", got)
	}
	putRole(t, h, store.Role{Name: "sales", Permissions: []string{"*:*:tenant"}, UpdatedAt: at})
}

// testSoftDeleteRBACOtherTenant: another tenant neither sees, restores nor purges
// a tenant's deleted team or role.
func testSoftDeleteRBACOtherTenant(t *testing.T, st store.Store) {
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	tm := newTeam(t, a, "Sales")
	putRole(t, a, store.Role{Name: "sales", UpdatedAt: base})
	noErr(t, "DeleteTeam", a.Teams().DeleteTeam(ctx(t), tm.ID, base))
	noErr(t, "SoftDeleteRole", a.Roles().SoftDeleteRole(ctx(t), "sales", base))
	later := base.Add(time.Hour)
	wantErr(t, "B: RestoreTeam", b.Teams().RestoreTeam(ctx(t), tm.ID), store.ErrNotFound)
	wantErr(t, "B: PurgeTeam", b.Teams().PurgeTeam(ctx(t), tm.ID, later), store.ErrNotFound)
	wantErr(t, "B: RestoreRole", b.Roles().RestoreRole(ctx(t), "sales"), store.ErrNotFound)
	wantErr(t, "B: PurgeRole", b.Roles().PurgeRole(ctx(t), "sales", later), store.ErrNotFound)
	if list, err := b.Teams().DeletedTeams(ctx(t)); err != nil || len(list) != 0 {
		t.Errorf("B: DeletedTeams = %+v, %v", list, err)
	}
	if list, err := b.Roles().DeletedRoles(ctx(t)); err != nil || len(list) != 0 {
		t.Errorf("B: DeletedRoles = %+v, %v", list, err)
	}
	deletedTeam(t, a)
	if list, err := a.Roles().DeletedRoles(ctx(t)); err != nil || len(list) != 1 {
		t.Errorf("A: DeletedRoles = %+v, %v", list, err)
	}
}
