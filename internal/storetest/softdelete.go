package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Soft delete (issue 12 §4): a deleted user keeps their row for the restore window,
// but every query on live users leaves them out; RestoreUser brings them back;
// PurgeUser removes them, and everything that is theirs, after the window.
var softDeleteTests = []test{
	{"HiddenFromLiveQueries", testSoftDeleteHidden},
	{"EndsSessionsAndRefreshTokens", testSoftDeleteEndsSessions},
	{"LastOwner", testSoftDeleteLastOwner},
	{"Restore", testSoftDeleteRestore},
	{"Purge", testSoftDeletePurge},
	{"OtherTenant", testSoftDeleteOtherTenant},
}

// deleteUser soft-deletes id at at, failing the test on an error.
func deleteUser(t *testing.T, h store.TenantHandle, id string, at time.Time) {
	t.Helper()
	noErr(t, "DeleteUser", h.Users().DeleteUser(ctx(t), id, at))
}

// deletedIDs returns the ids DeletedUsers lists, in its order.
func deletedIDs(t *testing.T, h store.TenantHandle) []string {
	t.Helper()
	list, err := h.Users().DeletedUsers(ctx(t))
	noErr(t, "DeletedUsers", err)
	var ids []string
	for _, u := range list {
		ids = append(ids, u.ID)
	}
	return ids
}

// testSoftDeleteHidden: a deleted user is not found by id or e-mail, not listed, not
// changeable, not a team member nor a role holder — yet counted and their e-mail
// still taken.
func testSoftDeleteHidden(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	users := h.Users()
	keep := newUser(t, h)
	gone := newUser(t, h)
	team := store.Team{ID: "tm-" + randHex(4), Name: "Team " + randHex(4), CreatedAt: base}
	noErr(t, "CreateTeam", h.Teams().CreateTeam(ctx(t), team))
	noErr(t, "AddTeamMember", h.Teams().AddTeamMember(ctx(t), team.ID, gone.ID))
	noErr(t, "SetRoles", users.SetRoles(ctx(t), gone.ID, []string{"auditor"}))
	noErr(t, "PutRole", h.Roles().PutRole(ctx(t), store.Role{Name: "auditor", Permissions: []string{"audit:read:tenant"}, UpdatedAt: base}))

	deleteUser(t, h, gone.ID, base)

	if _, err := users.UserByID(ctx(t), gone.ID); err == nil {
		t.Error("UserByID found the deleted user")
	} else {
		wantErr(t, "UserByID of a deleted user", err, store.ErrNotFound)
	}
	_, err := users.UserByEmail(ctx(t), gone.Email)
	wantErr(t, "UserByEmail of a deleted user", err, store.ErrNotFound)
	list, err := users.ListUsers(ctx(t))
	noErr(t, "ListUsers", err)
	if len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("ListUsers: %d users (first %+v), want only %s", len(list), list, keep.ID)
	}
	if n, err := users.CountUsers(ctx(t)); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2 (a deleted account still counts until purged)", n, err)
	}
	// The address stays reserved while the member can be restored.
	dup := store.User{ID: "us-" + randHex(6), Email: gone.Email, DisplayName: "Impostor", Status: store.UserActive, CreatedAt: base}
	wantErr(t, "CreateUser with a deleted member's e-mail", users.CreateUser(ctx(t), dup), store.ErrConflict)

	// Nothing live changes a deleted user.
	wantErr(t, "SetStatus", users.SetStatus(ctx(t), gone.ID, store.UserDisabled), store.ErrNotFound)
	wantErr(t, "SetRoles", users.SetRoles(ctx(t), gone.ID, []string{"admin"}), store.ErrNotFound)
	wantErr(t, "SetPasswordHash", users.SetPasswordHash(ctx(t), gone.ID, "x"), store.ErrNotFound)
	wantErr(t, "SetDisplayName", users.SetDisplayName(ctx(t), gone.ID, "x"), store.ErrNotFound)
	wantErr(t, "SetLastLogin", users.SetLastLogin(ctx(t), gone.ID, base), store.ErrNotFound)
	wantErr(t, "SetNoLocationProfiling", users.SetNoLocationProfiling(ctx(t), gone.ID, true), store.ErrNotFound)
	wantErr(t, "AddTeamMember", h.Teams().AddTeamMember(ctx(t), team.ID, gone.ID), store.ErrNotFound)
	wantErr(t, "DeleteUser again", users.DeleteUser(ctx(t), gone.ID, base.Add(time.Hour)), store.ErrNotFound)
	members, err := h.Teams().TeamMembers(ctx(t), team.ID)
	noErr(t, "TeamMembers", err)
	if len(members) != 0 {
		t.Errorf("TeamMembers = %q, want none (the only member is deleted)", members)
	}
	// A role only a deleted member holds is unused.
	noErr(t, "DeleteRole held only by a deleted member", h.Roles().DeleteRole(ctx(t), "auditor", true))

	// The Deleted list has them, with the time.
	del, err := users.DeletedUsers(ctx(t))
	noErr(t, "DeletedUsers", err)
	if len(del) != 1 || del[0].ID != gone.ID || del[0].Email != gone.Email {
		t.Fatalf("DeletedUsers = %+v, want only %s", del, gone.ID)
	}
	sameTime(t, "DeletedAt", del[0].DeletedAt, base)
	if u := readUser(t, h, keep.ID); !u.DeletedAt.IsZero() {
		t.Errorf("a live user has DeletedAt %v", u.DeletedAt)
	}
	wantErr(t, "DeleteUser of an unknown user", users.DeleteUser(ctx(t), "us-nobody", base), store.ErrNotFound)
}

// testSoftDeleteEndsSessions: deleting revokes every session and refresh token of the
// user at once (and no one else's).
func testSoftDeleteEndsSessions(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	gone, other := newUser(t, h), newUser(t, h)
	s1, s2 := newSession(t, h, gone.ID, base), newSession(t, h, gone.ID, base)
	so := newSession(t, h, other.ID, base)
	rt := createRefresh(t, h, rootToken(gone.ID, s1.ID, base))
	rto := createRefresh(t, h, rootToken(other.ID, so.ID, base))
	at := base.Add(time.Minute)

	deleteUser(t, h, gone.ID, at)

	for _, id := range []string{s1.ID, s2.ID} {
		s, err := h.Sessions().SessionByID(ctx(t), id)
		noErr(t, "SessionByID", err)
		sameTime(t, "revoked_at of the deleted user's session", s.RevokedAt, at)
	}
	if s, err := h.Sessions().SessionByID(ctx(t), so.ID); err != nil || !s.RevokedAt.IsZero() {
		t.Errorf("another user's session: %+v, %v; want it live", s, err)
	}
	sameTime(t, "revoked_at of the deleted user's refresh token", readRefresh(t, h, rt.TokenHash).RevokedAt, at)
	if got := readRefresh(t, h, rto.TokenHash); !got.RevokedAt.IsZero() {
		t.Errorf("another user's refresh token revoked at %v", got.RevokedAt)
	}
}

// testSoftDeleteLastOwner: the last active owner cannot be deleted; a deleted owner
// is no owner (the one left can be neither deleted nor disabled).
func testSoftDeleteLastOwner(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	users := h.Users()
	first := newOwner(t, h)
	wantErr(t, "DeleteUser of the last owner", users.DeleteUser(ctx(t), first.ID, base), store.ErrLastOwner)
	checkUser(t, "the last owner after a refused delete", readUser(t, h, first.ID), first)
	if ids := deletedIDs(t, h); len(ids) != 0 {
		t.Fatalf("DeletedUsers after a refused delete = %q", ids)
	}

	second := newOwner(t, h)
	deleteUser(t, h, first.ID, base)
	wantErr(t, "DeleteUser of the remaining owner", users.DeleteUser(ctx(t), second.ID, base), store.ErrLastOwner)
	wantErr(t, "SetStatus disabling the remaining owner", users.SetStatus(ctx(t), second.ID, store.UserDisabled), store.ErrLastOwner)
	if n := activeOwners(t, h); n != 1 {
		t.Fatalf("%d active owners, want 1", n)
	}
	// Restored, the first owner counts again, and the second may go.
	noErr(t, "RestoreUser", users.RestoreUser(ctx(t), first.ID))
	deleteUser(t, h, second.ID, base)
}

// testSoftDeleteRestore: a restored user is live again, as they were (a disabled one
// stays disabled), with their sessions still ended.
func testSoftDeleteRestore(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	users := h.Users()
	u := newUser(t, h)
	noErr(t, "SetStatus", users.SetStatus(ctx(t), u.ID, store.UserDisabled))
	u.Status = store.UserDisabled
	sess := newSession(t, h, u.ID, base)
	deleteUser(t, h, u.ID, base.Add(time.Hour))

	wantErr(t, "RestoreUser of a live user", users.RestoreUser(ctx(t), newUser(t, h).ID), store.ErrNotFound)
	wantErr(t, "RestoreUser of an unknown user", users.RestoreUser(ctx(t), "us-nobody"), store.ErrNotFound)
	noErr(t, "RestoreUser", users.RestoreUser(ctx(t), u.ID))
	wantErr(t, "RestoreUser twice", users.RestoreUser(ctx(t), u.ID), store.ErrNotFound)

	got := readUser(t, h, u.ID)
	checkUser(t, "restored user", got, u)
	if !got.DeletedAt.IsZero() {
		t.Errorf("restored user has DeletedAt %v", got.DeletedAt)
	}
	if byMail, err := users.UserByEmail(ctx(t), u.Email); err != nil || byMail.ID != u.ID {
		t.Errorf("UserByEmail after restore: %+v, %v", byMail, err)
	}
	if ids := deletedIDs(t, h); len(ids) != 0 {
		t.Errorf("DeletedUsers after restore = %q", ids)
	}
	s, err := h.Sessions().SessionByID(ctx(t), sess.ID)
	noErr(t, "SessionByID", err)
	if s.RevokedAt.IsZero() {
		t.Error("a session ended by the deletion is live again after the restore")
	}
}

// testSoftDeletePurge: PurgeUser removes only users deleted before the cut-off, and
// with them their sessions, factors, refresh tokens, links and sign-in history; the
// e-mail is free afterwards.
func testSoftDeletePurge(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	users := h.Users()
	gone, other := newUser(t, h), newUser(t, h)
	for _, u := range []store.User{gone, other} {
		s := newSession(t, h, u.ID, base)
		createRefresh(t, h, rootToken(u.ID, s.ID, base))
		newPasskey(t, h, u.ID, base, 0)
		noErr(t, "PutPendingTOTP", h.TOTP().PutPendingTOTP(ctx(t), store.TOTPSecret{UserID: u.ID, Ciphertext: randBytes(40), KeyID: "k1", CreatedAt: base}))
		noErr(t, "ConfirmTOTP", h.TOTP().ConfirmTOTP(ctx(t), u.ID, base))
		noErr(t, "UseTOTPStep", h.TOTP().UseTOTPStep(ctx(t), u.ID, 42, base))
		noErr(t, "ReplaceRecoveryCodes", h.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codeHashes(3), base))
		addLogin(t, h, loginEvent(u.ID, base, "dev-"+u.ID, "DE"))
		noErr(t, "CreateOneTimeToken", h.OneTimeTokens().CreateOneTimeToken(ctx(t), "reset", []byte("tok-"+u.ID), u.ID, base.Add(time.Hour)))
	}
	deleted := base.Add(time.Hour)
	deleteUser(t, h, gone.ID, deleted)

	wantErr(t, "PurgeUser of a live user", users.PurgeUser(ctx(t), other.ID, deleted.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "PurgeUser within the window (cut-off = deletion time)", users.PurgeUser(ctx(t), gone.ID, deleted), store.ErrNotFound)
	if ids := deletedIDs(t, h); len(ids) != 1 {
		t.Fatalf("DeletedUsers after a purge within the window = %q, want the user", ids)
	}
	noErr(t, "PurgeUser after the window", users.PurgeUser(ctx(t), gone.ID, deleted.Add(time.Nanosecond)))
	wantErr(t, "PurgeUser twice", users.PurgeUser(ctx(t), gone.ID, deleted.Add(time.Hour)), store.ErrNotFound)

	if ids := deletedIDs(t, h); len(ids) != 0 {
		t.Errorf("DeletedUsers after the purge = %q", ids)
	}
	wantErr(t, "RestoreUser after the purge", users.RestoreUser(ctx(t), gone.ID), store.ErrNotFound)
	if n, err := users.CountUsers(ctx(t)); err != nil || n != 1 {
		t.Errorf("CountUsers after the purge = %d, %v; want 1", n, err)
	}
	// Everything of the purged user is gone; the other user's is all there.
	for _, c := range []struct {
		id   string
		want int
	}{{gone.ID, 0}, {other.ID, 1}} {
		keys, err := h.Passkeys().ListPasskeys(ctx(t), c.id)
		noErr(t, "ListPasskeys", err)
		codes, err := h.RecoveryCodes().CountRecoveryCodes(ctx(t), c.id)
		noErr(t, "CountRecoveryCodes", err)
		_, totpErr := h.TOTP().TOTPByUser(ctx(t), c.id)
		_, loginErr := h.LoginHistory().LastLoginEvent(ctx(t), c.id)
		seen, err := h.LoginHistory().DeviceSeen(ctx(t), c.id, "dev-"+c.id)
		noErr(t, "DeviceSeen", err)
		_, tokErr := h.OneTimeTokens().CheckOneTimeToken(ctx(t), "reset", []byte("tok-"+c.id), base)
		live, err := h.RefreshTokens().LiveRefreshSessions(ctx(t), c.id, base)
		noErr(t, "LiveRefreshSessions", err)
		have := map[string]bool{"passkeys": len(keys) == 1, "recovery codes": codes == 3, "TOTP": totpErr == nil,
			"sign-in history": loginErr == nil, "seen devices": seen, "one-time links": tokErr == nil, "refresh tokens": len(live) == 1}
		for what, ok := range have {
			if ok != (c.want == 1) {
				t.Errorf("user %s (want kept: %v): %s present = %v", c.id, c.want == 1, what, ok)
			}
		}
	}
	// The purged user's session row is gone (the store has no other way to ask).
	if n, err := countSessions(t, h, gone.ID); err != nil || n != 0 {
		t.Errorf("sessions of the purged user: %d, %v", n, err)
	}
	// The address is free again.
	again := store.User{ID: "us-" + randHex(6), Email: gone.Email, DisplayName: "New", Status: store.UserActive, CreatedAt: base}
	noErr(t, "CreateUser with a purged member's e-mail", users.CreateUser(ctx(t), again))
}

// countSessions counts the user's sessions through RevokeUserSessions at a time
// after everything (it counts only unrevoked ones; a purged user has none at all).
func countSessions(t *testing.T, h store.TenantHandle, userID string) (int, error) {
	t.Helper()
	return h.Sessions().RevokeUserSessions(ctx(t), userID, "", base.Add(48*time.Hour))
}

// testSoftDeleteOtherTenant: deleting, restoring and purging act on one tenant only,
// even for the same user id elsewhere.
func testSoftDeleteOtherTenant(t *testing.T, st store.Store) {
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	id := "us-" + randHex(6)
	newUserWithID(t, a, id)
	ub := newUserWithID(t, b, id)
	sb := newSession(t, b, id, base)
	deleteUser(t, a, id, base)
	checkUser(t, "the other tenant's user", readUser(t, b, id), ub)
	if s, err := b.Sessions().SessionByID(ctx(t), sb.ID); err != nil || !s.RevokedAt.IsZero() {
		t.Errorf("the other tenant's session: %+v, %v; want it live", s, err)
	}
	wantErr(t, "RestoreUser in the other tenant", b.Users().RestoreUser(ctx(t), id), store.ErrNotFound)
	wantErr(t, "PurgeUser in the other tenant", b.Users().PurgeUser(ctx(t), id, base.Add(time.Hour)), store.ErrNotFound)
	noErr(t, "PurgeUser", a.Users().PurgeUser(ctx(t), id, base.Add(time.Hour)))
	checkUser(t, "the other tenant's user after the purge", readUser(t, b, id), ub)
}
