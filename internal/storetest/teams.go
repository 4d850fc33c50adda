package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var teamTests = []test{
	{"CreateAndLookup", testTeamLookup},
	{"List", testTeamList},
	{"Membership", testTeamMembership},
	{"Delete", testTeamDelete},
	{"AddConcurrent", testTeamAddConcurrent},
	{"AddRemoveConcurrent", testTeamAddRemoveConcurrent},
	{"DeleteWhileAdding", testTeamDeleteWhileAdding},
}

func checkTeam(t *testing.T, what string, got, want store.Team) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
}

// newTeam creates a team with a random id and the given name in h's tenant.
func newTeam(t *testing.T, h store.TenantHandle, name string) store.Team {
	t.Helper()
	return createTeam(t, h, store.Team{ID: "tm-" + randHex(6), Name: name, CreatedAt: base})
}

func createTeam(t *testing.T, h store.TenantHandle, tm store.Team) store.Team {
	t.Helper()
	noErr(t, "CreateTeam "+tm.Name, h.Teams().CreateTeam(ctx(t), tm))
	return tm
}

func addMember(t *testing.T, h store.TenantHandle, teamID, userID string) {
	t.Helper()
	noErr(t, "AddTeamMember", h.Teams().AddTeamMember(ctx(t), teamID, userID))
}

// userTeams returns the user's Teams sorted (the contract promises no order).
func userTeams(t *testing.T, h store.TenantHandle, userID string) []string {
	t.Helper()
	u, err := h.Users().UserByID(ctx(t), userID)
	noErr(t, "UserByID", err)
	return slices.Sorted(slices.Values(u.Teams))
}

// wantUserTeams checks the user's Teams, in any order.
func wantUserTeams(t *testing.T, what string, h store.TenantHandle, userID string, want ...string) {
	t.Helper()
	if got, w := userTeams(t, h, userID), slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
		t.Errorf("%s: user's teams %q, want %q", what, got, w)
	}
}

// wantMembers checks TeamMembers (which is ordered).
func wantMembers(t *testing.T, what string, h store.TenantHandle, teamID string, want ...string) {
	t.Helper()
	got, err := h.Teams().TeamMembers(ctx(t), teamID)
	noErr(t, what+": TeamMembers", err)
	if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
		t.Errorf("%s: TeamMembers %q, want %q", what, got, w)
	}
}

// testTeamLookup: a team round-trips by id and by name in any case; a taken id, or a
// name taken in another case, is ErrConflict; unknown ones ErrNotFound.
func testTeamLookup(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	tm := createTeam(t, h, store.Team{ID: "tm-" + randHex(6), Name: "Platform Team",
		CreatedAt: base.In(time.FixedZone("UTC+5", 5*3600))})

	got, err := h.Teams().TeamByID(ctx(t), tm.ID)
	noErr(t, "TeamByID", err)
	checkTeam(t, "TeamByID", got, tm)
	for _, name := range []string{"Platform Team", "platform team", "PLATFORM TEAM", "pLaTfOrM tEaM"} {
		got, err := h.Teams().TeamByName(ctx(t), name)
		noErr(t, "TeamByName "+name, err)
		checkTeam(t, "TeamByName "+name, got, tm)
	}
	_, err = h.Teams().TeamByID(ctx(t), "tm-missing")
	wantErr(t, "TeamByID unknown", err, store.ErrNotFound)
	_, err = h.Teams().TeamByName(ctx(t), "Platform")
	wantErr(t, "TeamByName unknown", err, store.ErrNotFound)

	wantErr(t, "CreateTeam with the name in another case",
		h.Teams().CreateTeam(ctx(t), store.Team{ID: "tm-" + randHex(6), Name: "PLATFORM team", CreatedAt: base}), store.ErrConflict)
	wantErr(t, "CreateTeam with the same name",
		h.Teams().CreateTeam(ctx(t), store.Team{ID: "tm-" + randHex(6), Name: tm.Name, CreatedAt: base}), store.ErrConflict)
	wantErr(t, "CreateTeam with a taken id",
		h.Teams().CreateTeam(ctx(t), store.Team{ID: tm.ID, Name: "Other", CreatedAt: base}), store.ErrConflict)
	got, err = h.Teams().TeamByID(ctx(t), tm.ID)
	noErr(t, "TeamByID after the conflicts", err)
	checkTeam(t, "team after the conflicts", got, tm)

	// No creation time comes back as the zero time.
	bare := createTeam(t, h, store.Team{ID: "tm-" + randHex(6), Name: "Bare"})
	got, err = h.Teams().TeamByName(ctx(t), "bare")
	noErr(t, "TeamByName bare", err)
	checkTeam(t, "team without a creation time", got, bare)

	ghost := st.Tenant("tn-ghost-" + randHex(8))
	wantErr(t, "CreateTeam for an unknown tenant", ghost.Teams().CreateTeam(ctx(t), store.Team{ID: "tm-x", Name: "X"}), store.ErrNotFound)
}

// testTeamList: teams are listed by name.
func testTeamList(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	list, err := h.Teams().ListTeams(ctx(t))
	noErr(t, "ListTeams empty", err)
	if len(list) != 0 {
		t.Fatalf("new tenant lists teams %+v", list)
	}
	// Names whose order is the same byte-wise and ignoring case.
	gamma, alpha, beta := newTeam(t, h, "Gamma"), newTeam(t, h, "Alpha"), newTeam(t, h, "Beta ops")
	list, err = h.Teams().ListTeams(ctx(t))
	noErr(t, "ListTeams", err)
	want := []store.Team{alpha, beta, gamma}
	if len(list) != len(want) {
		t.Fatalf("ListTeams returned %d teams %+v, want %d", len(list), list, len(want))
	}
	for i := range want {
		checkTeam(t, "ListTeams entry (ordered by name)", list[i], want[i])
	}
}

// testTeamMembership: adding is idempotent, removing too; TeamMembers lists the
// members who are not deleted, by id; an unknown team (adding) or user is
// ErrNotFound; a team id that merely resembles another matches nothing.
func testTeamMembership(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	t1, t2 := newTeam(t, h, "One"), newTeam(t, h, "Two")
	u1, u2, u3 := newUser(t, h), newUser(t, h), newUser(t, h)
	wantMembers(t, "new team", h, t1.ID)

	addMember(t, h, t1.ID, u1.ID)
	addMember(t, h, t1.ID, u2.ID)
	addMember(t, h, t2.ID, u1.ID)
	addMember(t, h, t1.ID, u1.ID) // again: nothing changes
	wantUserTeams(t, "u1", h, u1.ID, t1.ID, t2.ID)
	if u, _ := h.Users().UserByID(ctx(t), u1.ID); len(u.Teams) != 2 {
		t.Errorf("u1's teams after adding t1 twice: %q, want each once", u.Teams)
	}
	wantUserTeams(t, "u2", h, u2.ID, t1.ID)
	wantUserTeams(t, "u3", h, u3.ID)
	wantMembers(t, "t1", h, t1.ID, u1.ID, u2.ID)
	wantMembers(t, "t2", h, t2.ID, u1.ID)

	noErr(t, "RemoveTeamMember", h.Teams().RemoveTeamMember(ctx(t), t1.ID, u2.ID))
	noErr(t, "RemoveTeamMember again", h.Teams().RemoveTeamMember(ctx(t), t1.ID, u2.ID))
	noErr(t, "RemoveTeamMember of a non-member", h.Teams().RemoveTeamMember(ctx(t), t2.ID, u3.ID))
	noErr(t, "RemoveTeamMember of an unknown team", h.Teams().RemoveTeamMember(ctx(t), "tm-missing", u1.ID))
	wantUserTeams(t, "u2 after removal", h, u2.ID)
	wantUserTeams(t, "u1 after the others' removals", h, u1.ID, t1.ID, t2.ID)
	wantMembers(t, "t1 after removal", h, t1.ID, u1.ID)

	wantErr(t, "AddTeamMember of an unknown team", h.Teams().AddTeamMember(ctx(t), "tm-missing", u1.ID), store.ErrNotFound)
	wantErr(t, "AddTeamMember of an unknown user", h.Teams().AddTeamMember(ctx(t), t1.ID, "us-missing"), store.ErrNotFound)
	wantErr(t, "RemoveTeamMember of an unknown user", h.Teams().RemoveTeamMember(ctx(t), t1.ID, "us-missing"), store.ErrNotFound)
	wantUserTeams(t, "u1 after the failed calls", h, u1.ID, t1.ID, t2.ID)
	wantMembers(t, "unknown team", h, "tm-missing")

	// A deleted user keeps their teams but is no member.
	addMember(t, h, t2.ID, u3.ID)
	wantMembers(t, "t2 with u3", h, t2.ID, u1.ID, u3.ID)
	noErr(t, "SetStatus deleted", h.Users().SetStatus(ctx(t), u3.ID, store.UserDeleted))
	wantMembers(t, "t2 after u3 was deleted", h, t2.ID, u1.ID)
	wantUserTeams(t, "deleted u3", h, u3.ID, t2.ID)

	// "_" is a LIKE wildcard and SQLite's LIKE ignores case: neither may make a match.
	under := createTeam(t, h, store.Team{ID: "tm_" + randHex(4), Name: "Under", CreatedAt: base})
	look := createTeam(t, h, store.Team{ID: "tmx" + under.ID[3:], Name: "Look", CreatedAt: base})
	upper := createTeam(t, h, store.Team{ID: "TM_" + under.ID[3:], Name: "Upper", CreatedAt: base})
	addMember(t, h, look.ID, u2.ID)
	addMember(t, h, upper.ID, u2.ID)
	wantMembers(t, "team with a wildcard in its id", h, under.ID)
	addMember(t, h, under.ID, u1.ID)
	wantMembers(t, "team with a wildcard in its id, one member", h, under.ID, u1.ID)
	noErr(t, "DeleteTeam with a wildcard in its id", h.Teams().DeleteTeam(ctx(t), under.ID, base))
	wantUserTeams(t, "lookalike member after the delete", h, u2.ID, look.ID, upper.ID)
	wantUserTeams(t, "u1 after the delete", h, u1.ID, t1.ID, t2.ID)
}

// testTeamDelete: deleting a team takes its id from every user's teams (deleted users
// included) and leaves other teams alone; its name is free again; an unknown team is
// ErrNotFound.
func testTeamDelete(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	doomed, kept := newTeam(t, h, "Doomed"), newTeam(t, h, "Kept")
	u1, u2, u3, outsider := newUser(t, h), newUser(t, h), newUser(t, h), newUser(t, h)
	addMember(t, h, kept.ID, u1.ID)
	addMember(t, h, doomed.ID, u1.ID)
	addMember(t, h, doomed.ID, u2.ID)
	addMember(t, h, doomed.ID, u3.ID)
	addMember(t, h, kept.ID, outsider.ID)
	noErr(t, "SetStatus deleted", h.Users().SetStatus(ctx(t), u3.ID, store.UserDeleted))

	noErr(t, "DeleteTeam", h.Teams().DeleteTeam(ctx(t), doomed.ID, base))
	_, err := h.Teams().TeamByID(ctx(t), doomed.ID)
	wantErr(t, "TeamByID of the deleted team", err, store.ErrNotFound)
	_, err = h.Teams().TeamByName(ctx(t), doomed.Name)
	wantErr(t, "TeamByName of the deleted team", err, store.ErrNotFound)
	wantUserTeams(t, "u1", h, u1.ID, kept.ID)
	wantUserTeams(t, "u2", h, u2.ID)
	wantUserTeams(t, "deleted u3", h, u3.ID)
	wantUserTeams(t, "outsider", h, outsider.ID, kept.ID)
	wantMembers(t, "deleted team", h, doomed.ID)
	wantMembers(t, "kept team", h, kept.ID, u1.ID, outsider.ID)
	list, err := h.Teams().ListTeams(ctx(t))
	noErr(t, "ListTeams", err)
	if len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("ListTeams after the delete: %+v, want only %s", list, kept.ID)
	}

	wantErr(t, "DeleteTeam again", h.Teams().DeleteTeam(ctx(t), doomed.ID, base), store.ErrNotFound)
	wantErr(t, "DeleteTeam unknown", h.Teams().DeleteTeam(ctx(t), "tm-missing", base), store.ErrNotFound)
	wantErr(t, "AddTeamMember of the deleted team", h.Teams().AddTeamMember(ctx(t), doomed.ID, u1.ID), store.ErrNotFound)
	// The name stays taken while the team can be restored, and is free once purged.
	taken := store.Team{ID: "tm-" + randHex(6), Name: "DOOMED", CreatedAt: base}
	wantErr(t, "CreateTeam with a deleted team's name", h.Teams().CreateTeam(ctx(t), taken), store.ErrConflict)
	noErr(t, "PurgeTeam", h.Teams().PurgeTeam(ctx(t), doomed.ID, base.Add(time.Nanosecond)))
	again := newTeam(t, h, "DOOMED")
	addMember(t, h, again.ID, u2.ID)
	wantMembers(t, "a new team of the deleted one's name", h, again.ID, u2.ID)
}

// testTeamAddConcurrent: one user added to 20 teams at once, from 20 goroutines, ends
// up in all of them (no read-modify-write loses another's change).
func testTeamAddConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	const n = 20
	var teams []string
	for i := range n {
		teams = append(teams, newTeam(t, h, fmt.Sprintf("Team %02d", i)).ID)
	}
	for range raceRounds {
		u := newUser(t, h)
		var fns []func() error
		for _, id := range teams {
			fns = append(fns, func() error { return h.Teams().AddTeamMember(t.Context(), id, u.ID) })
		}
		for _, err := range raceEach(fns...) {
			noErr(t, "concurrent AddTeamMember", err)
		}
		wantUserTeams(t, "user after concurrent adds", h, u.ID, teams...)
	}
}

// testTeamAddRemoveConcurrent: a user in 10 teams is taken out of them while being put
// in 10 others, all at once; they end up in exactly the other 10.
func testTeamAddRemoveConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	var old, fresh []string
	for i := range 10 {
		old = append(old, newTeam(t, h, fmt.Sprintf("Old %02d", i)).ID)
		fresh = append(fresh, newTeam(t, h, fmt.Sprintf("New %02d", i)).ID)
	}
	for range raceRounds {
		u := newUser(t, h)
		for _, id := range old {
			addMember(t, h, id, u.ID)
		}
		var fns []func() error
		for i := range old {
			fns = append(fns,
				func() error { return h.Teams().RemoveTeamMember(t.Context(), old[i], u.ID) },
				func() error { return h.Teams().AddTeamMember(t.Context(), fresh[i], u.ID) })
		}
		for _, err := range raceEach(fns...) {
			noErr(t, "concurrent AddTeamMember/RemoveTeamMember", err)
		}
		wantUserTeams(t, "user after concurrent changes", h, u.ID, fresh...)
	}
}

// testTeamDeleteWhileAdding: a team deleted while users are being added to it leaves
// no user with its id; each add either succeeds (before the delete) or finds no team.
func testTeamDeleteWhileAdding(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	var users []string
	for range 8 {
		users = append(users, newUser(t, h).ID)
	}
	other := newTeam(t, h, "Other")
	for round := range raceRounds {
		tm := newTeam(t, h, fmt.Sprintf("Short-lived %d", round))
		var fns []func() error
		for i, id := range users {
			fns = append(fns, func() error { return h.Teams().AddTeamMember(t.Context(), tm.ID, id) })
			if i%2 == 0 {
				fns = append(fns, func() error { return h.Teams().AddTeamMember(t.Context(), other.ID, id) })
			}
			if i == len(users)/2 {
				fns = append(fns, func() error { return h.Teams().DeleteTeam(t.Context(), tm.ID, base) })
			}
		}
		for _, err := range raceEach(fns...) {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("concurrent AddTeamMember/DeleteTeam: %v", err)
			}
		}
		for i, id := range users {
			got := userTeams(t, h, id)
			if slices.Contains(got, tm.ID) {
				t.Errorf("round %d: user %s still has the deleted team: %q", round, id, got)
			}
			if i%2 == 0 && !slices.Contains(got, other.ID) {
				t.Errorf("round %d: user %s lost the other team: %q", round, id, got)
			}
		}
		wantMembers(t, "deleted team", h, tm.ID)
	}
}
