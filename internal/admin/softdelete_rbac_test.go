package admin

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

const day = 24 * time.Hour

// TestDeletedRoleGrantsNothingUntilRestored: deleting a custom role its holder's
// session relies on takes its permissions away at once; its name stays taken; a
// restore on day 29 gives them back; deleted again, on day 31 it is gone (the purge
// job, with a fake clock), its name taken from the holder, so a new role of that
// name grants them nothing. Only owners restore; built-in roles are only reset.
func TestDeletedRoleGrantsNothingUntilRestored(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	ann, _ := c.member(t, "ann@acme.test", identity.RoleMember)
	roles := c.svc.Roles()
	if _, err := roles.Add(ctx, c.ws, owner, policy.RoleSpec{Name: "sales", Permissions: []string{"deals:read:tenant"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{UserID: ann.ID}, "sales"); err != nil {
		t.Fatal(err)
	}
	tok, _ := c.session(t, ann)
	if s := c.scopeOf(t, tok, "deals", "read"); s != policy.ScopeTenant {
		t.Fatalf("ann's scope with the role: %v", s)
	}

	if d, err := roles.Delete(ctx, c.ws, owner, "sales"); err != nil || d.Reset {
		t.Fatalf("deleting a held role: %+v %v", d, err)
	}
	if last := c.lastRecord(t); last.Action != ActionRoleDelete || last.Target != "role:sales" || last.Details["restorable_until"] == "" {
		t.Fatalf("audit record of the delete: %+v", last)
	}
	if s := c.scopeOf(t, tok, "deals", "read"); s != policy.ScopeNone {
		t.Fatalf("ann's cached session after the delete still has %v", s)
	}
	if !slices.Equal(c.stored(t, ann.ID).Roles, []string{"sales"}) {
		t.Fatalf("ann's roles after the delete: %q (kept for a restore)", c.stored(t, ann.ID).Roles)
	}
	if list, _ := roles.List(ctx, c.ws, owner); slices.ContainsFunc(list, func(r RoleInfo) bool { return r.Name == "sales" }) {
		t.Fatal("the deleted role is listed")
	}
	if _, err := roles.Add(ctx, c.ws, owner, policy.RoleSpec{Name: "sales", Permissions: []string{"*:*:tenant"}}); !errors.Is(err, ErrRoleDeletedName) || !errors.Is(err, ErrRoleExists) {
		t.Fatalf("adding a role under the deleted one's name: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, owner, Target{UserID: ann.ID}, "sales"); err == nil {
		t.Fatal("a deleted role was given out")
	}
	del, err := roles.Deleted(ctx, c.ws, adm)
	if err != nil || len(del) != 1 || del[0].Name != "sales" || del[0].DaysLeft != 30 || !slices.Equal(del[0].Permissions, []string{"deals:read:tenant"}) {
		t.Fatalf("deleted roles: %+v %v", del, err)
	}
	// Built-in roles are not deleted, only reset; owner not even that.
	if d, err := roles.Delete(ctx, c.ws, owner, identity.RoleMember); err != nil || !d.Reset {
		t.Fatalf("deleting a built-in role: %+v %v", d, err)
	}
	if _, err := roles.Delete(ctx, c.ws, owner, identity.RoleOwner); !errors.Is(err, ErrOwnerFixed) {
		t.Fatalf("deleting the owner role: %v", err)
	}
	if del, _ := roles.Deleted(ctx, c.ws, owner); len(del) != 1 {
		t.Fatalf("deleted roles after a reset: %+v", del)
	}

	c.clk.Advance(29 * day)
	owner.Verified, adm.Verified = c.clk.Now(), c.clk.Now()
	if _, err := roles.Restore(ctx, c.ws, adm, "sales"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin restoring a role: %v", err)
	}
	if r, err := roles.Restore(ctx, c.ws, owner, "sales"); err != nil || r.Name != "sales" {
		t.Fatalf("restoring on day 29: %+v %v", r, err)
	}
	if last := c.lastRecord(t); last.Action != ActionRoleRestore || last.Target != "role:sales" {
		t.Fatalf("audit record of the restore: %+v", last)
	}
	if s := c.scopeOf(t, tok, "deals", "read"); s != policy.ScopeTenant {
		t.Fatalf("ann's scope after the restore: %v", s)
	}
	if _, err := roles.Restore(ctx, c.ws, owner, "sales"); !errors.Is(err, ErrNoSuchRole) {
		t.Fatalf("restoring a live role: %v", err)
	}

	if _, err := roles.Delete(ctx, c.ws, owner, "sales"); err != nil {
		t.Fatal(err)
	}
	job := &MemberPurger{Store: c.st, Service: c.svc, Leases: c.st.Maintenance(), Holder: "test"}
	if _, n, err := job.Once(ctx); err != nil || n != 0 {
		t.Fatalf("purge within the window: %d purged, %v", n, err)
	}
	c.clk.Advance(31 * day)
	owner.Verified = c.clk.Now()
	if _, err := roles.Restore(ctx, c.ws, owner, "sales"); !errors.Is(err, ErrRestoreWindowOver) {
		t.Fatalf("restoring on day 31: %v", err)
	}
	if ran, n, err := job.Once(ctx); err != nil || !ran || n != 1 {
		t.Fatalf("purge on day 31: ran %v, %d purged, %v", ran, n, err)
	}
	if last := c.lastRecord(t); last.Action != ActionRolePurged || last.Target != "role:sales" || last.ActorID != audit.System.UserID {
		t.Fatalf("audit record of the purge: %+v", last)
	}
	if got := c.stored(t, ann.ID).Roles; len(got) != 0 {
		t.Fatalf("ann's roles after the purge: %q", got)
	}
	if _, err := roles.Add(ctx, c.ws, owner, policy.RoleSpec{Name: "sales", Permissions: []string{"deals:read:tenant"}}); err != nil {
		t.Fatalf("a new role under the purged one's name: %v", err)
	}
	fresh, _ := c.session(t, c.stored(t, ann.ID)) // the first session has expired by now
	if s := c.scopeOf(t, fresh, "deals", "read"); s != policy.ScopeNone {
		t.Fatalf("a new role of the purged one's name grants its former holder %v", s)
	}
}

// TestDeletedTeamGrantsNothingUntilRestored: a deleted team is out of its members'
// sessions at once and its name stays taken; restored on day 29 its members are back
// in it; deleted again, on day 31 the purge job removes it and the name is free.
func TestDeletedTeamGrantsNothingUntilRestored(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	ann, asAnn := c.member(t, "ann@acme.test", identity.RoleManager)
	teams := c.svc.Teams()
	sales, err := teams.Create(ctx, c.ws, adm, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); err != nil {
		t.Fatal(err)
	}
	tok, _ := c.session(t, ann)
	subjectTeams := func() []string {
		t.Helper()
		e, err := c.sessions.Validate(ctx, c.ws, c.ws.Slug, tok)
		if err != nil {
			t.Fatal(err)
		}
		return e.Subject.Teams
	}
	if got := subjectTeams(); !slices.Equal(got, []string{sales.ID}) {
		t.Fatalf("ann's session teams: %q", got)
	}

	if _, err := teams.Delete(ctx, c.ws, asAnn, TeamRef{ID: sales.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a manager deleting a team: %v", err)
	}
	if _, err := teams.Delete(ctx, c.ws, adm, TeamRef{ID: sales.ID}); err != nil {
		t.Fatal(err)
	}
	if got := subjectTeams(); len(got) != 0 {
		t.Fatalf("ann's cached session still has the deleted team: %q", got)
	}
	if _, err := teams.Create(ctx, c.ws, adm, "SALES"); !errors.Is(err, ErrTeamDeletedName) || !errors.Is(err, ErrTeamExists) {
		t.Fatalf("a team under the deleted one's name: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); !errors.Is(err, ErrNoSuchTeam) {
		t.Fatalf("joining a deleted team: %v", err)
	}
	if del, err := teams.Deleted(ctx, c.ws, adm); err != nil || len(del) != 1 || del[0].ID != sales.ID || del[0].DaysLeft != 30 ||
		!slices.Equal(del[0].DeletedMembers, []string{ann.ID}) {
		t.Fatalf("deleted teams: %+v %v", del, err)
	}
	if _, err := teams.Deleted(ctx, c.ws, asAnn); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a manager listing deleted teams: %v", err)
	}

	c.clk.Advance(29 * day)
	adm.Verified = c.clk.Now()
	if tm, err := teams.Restore(ctx, c.ws, adm, TeamRef{ID: sales.ID}); err != nil || tm.Name != "Sales" {
		t.Fatalf("restoring on day 29: %+v %v", tm, err)
	}
	if last := c.lastRecord(t); last.Action != ActionTeamRestore || last.Target != "team:"+sales.ID || last.Details["members"] != "1" {
		t.Fatalf("audit record of the restore: %+v", last)
	}
	if got := subjectTeams(); !slices.Equal(got, []string{sales.ID}) {
		t.Fatalf("ann's session teams after the restore: %q", got)
	}

	if _, err := teams.Delete(ctx, c.ws, adm, TeamRef{Name: "sales"}); err != nil {
		t.Fatal(err)
	}
	c.clk.Advance(31 * day)
	adm.Verified, owner.Verified = c.clk.Now(), c.clk.Now()
	if _, err := teams.Restore(ctx, c.ws, adm, TeamRef{ID: sales.ID}); !errors.Is(err, ErrRestoreWindowOver) {
		t.Fatalf("restoring on day 31: %v", err)
	}
	job := &MemberPurger{Store: c.st, Service: c.svc, Leases: c.st.Maintenance(), Holder: "test"}
	if ran, n, err := job.Once(ctx); err != nil || !ran || n != 1 {
		t.Fatalf("purge on day 31: ran %v, %d purged, %v", ran, n, err)
	}
	if last := c.lastRecord(t); last.Action != ActionTeamPurged || last.Target != "team:"+sales.ID {
		t.Fatalf("audit record of the purge: %+v", last)
	}
	if _, err := teams.Restore(ctx, c.ws, owner, TeamRef{Name: "sales"}); !errors.Is(err, ErrNoSuchTeam) {
		t.Fatalf("restoring a purged team: %v", err)
	}
	if _, err := teams.Create(ctx, c.ws, owner, "Sales"); err != nil {
		t.Fatalf("a team under the purged one's name: %v", err)
	}
}
