package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Tenant isolation: whatever tenant A owns is invisible through tenant B's handle, and
// nothing done through B's handle changes A's rows, even when B names A's ids and
// hashes exactly.
var isolationTests = []test{
	{"Users", testIsolationUsers},
	{"Sessions", testIsolationSessions},
	{"Audit", testIsolationAudit},
	{"OneTimeTokens", testIsolationTokens},
	{"TOTP", testIsolationTOTP},
	{"RecoveryCodes", testIsolationRecoveryCodes},
	{"Passkeys", testIsolationPasskeys},
	{"Settings", testIsolationSettings},
	{"LoginHistory", testIsolationLoginHistory},
	{"RefreshTokens", testIsolationRefreshTokens},
	{"Roles", testIsolationRoles},
	{"Teams", testIsolationTeams},
	{"Periods", testIsolationPeriods},
	{"UnknownTenant", testIsolationUnknownTenant},
}

func twoTenants(t *testing.T, st store.Store) (a, b store.TenantHandle) {
	return st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
}

func testIsolationUsers(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)

	_, err := b.Users().UserByID(ctx(t), u.ID)
	wantErr(t, "B: UserByID of A's user", err, store.ErrNotFound)
	_, err = b.Users().UserByEmail(ctx(t), u.Email)
	wantErr(t, "B: UserByEmail of A's user", err, store.ErrNotFound)
	list, err := b.Users().ListUsers(ctx(t))
	noErr(t, "B: ListUsers", err)
	n, err := b.Users().CountUsers(ctx(t))
	noErr(t, "B: CountUsers", err)
	if len(list) != 0 || n != 0 {
		t.Errorf("B sees %d users (count %d), want none", len(list), n)
	}

	wantErr(t, "B: SetPasswordHash on A's user", b.Users().SetPasswordHash(ctx(t), u.ID, "stolen"), store.ErrNotFound)
	wantErr(t, "B: SetLastLogin on A's user", b.Users().SetLastLogin(ctx(t), u.ID, base.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "B: SetDisplayName on A's user", b.Users().SetDisplayName(ctx(t), u.ID, "Mallory"), store.ErrNotFound)
	wantErr(t, "B: SetRoles on A's user", b.Users().SetRoles(ctx(t), u.ID, []string{"owner"}), store.ErrNotFound)
	wantErr(t, "B: SetStatus on A's user", b.Users().SetStatus(ctx(t), u.ID, store.UserDisabled), store.ErrNotFound)
	got, err := a.Users().UserByID(ctx(t), u.ID)
	noErr(t, "A: UserByID", err)
	checkUser(t, "A's user after B's attempts", got, u)
}

func testIsolationSessions(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	s := newSession(t, a, u.ID, base)

	_, err := b.Sessions().SessionByTokenHash(ctx(t), s.TokenHash)
	wantErr(t, "B: SessionByTokenHash of A's session", err, store.ErrNotFound)
	_, err = b.Sessions().SessionByID(ctx(t), s.ID)
	wantErr(t, "B: SessionByID of A's session", err, store.ErrNotFound)
	list, err := b.Sessions().ListUserSessions(ctx(t), u.ID, base.Add(time.Minute))
	noErr(t, "B: ListUserSessions", err)
	if len(list) != 0 {
		t.Errorf("B lists %d of A's sessions", len(list))
	}

	wantErr(t, "B: RevokeSession of A's session", b.Sessions().RevokeSession(ctx(t), s.ID, base.Add(time.Minute)), store.ErrNotFound)
	// The contract does not say what touching an absent session returns; it must
	// not be success-with-effect, which the read-back below checks.
	if err := b.Sessions().TouchSession(ctx(t), s.ID, base.Add(time.Hour), "203.0.113.66"); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("B: TouchSession of A's session: %v", err)
	}
	if err := b.Sessions().VerifySession(ctx(t), s.ID, base.Add(time.Hour)); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("B: VerifySession of A's session: %v", err)
	}
	n, err := b.Sessions().RevokeUserSessions(ctx(t), u.ID, "", base.Add(time.Hour))
	noErr(t, "B: RevokeUserSessions of A's user", err)
	if n != 0 {
		t.Errorf("B: RevokeUserSessions of A's user revoked %d sessions", n)
	}
	got, err := a.Sessions().SessionByID(ctx(t), s.ID)
	noErr(t, "A: SessionByID", err)
	checkSession(t, "A's session after B's attempts", got, s)
}

func testIsolationAudit(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	for i := range 3 {
		_, err := a.Audit().Append(ctx(t), auditRecord(i), ChainHash)
		noErr(t, "A: Append", err)
	}
	list, err := b.Audit().ListAudit(ctx(t), 0, 100)
	noErr(t, "B: ListAudit", err)
	if len(list) != 0 {
		t.Fatalf("B sees %d of A's audit records", len(list))
	}
	// Each tenant has its own chain: B starts at 1 from the zero hash.
	r, err := b.Audit().Append(ctx(t), auditRecord(9), ChainHash)
	noErr(t, "B: Append", err)
	if r.Seq != 1 || r.TenantID != b.TenantID() {
		t.Errorf("B's first record: seq %d tenant %q, want 1 %q", r.Seq, r.TenantID, b.TenantID())
	}
	VerifyChain(t, a, 3)
	VerifyChain(t, b, 1)
}

func testIsolationTokens(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	hash := randBytes(32)
	now := base.Add(time.Minute)
	noErr(t, "A: CreateOneTimeToken", a.OneTimeTokens().CreateOneTimeToken(ctx(t), "setup", hash, "us-x", base.Add(time.Hour)))

	_, err := b.OneTimeTokens().CheckOneTimeToken(ctx(t), "setup", hash, now)
	wantErr(t, "B: CheckOneTimeToken of A's token", err, store.ErrNotFound)
	_, err = b.OneTimeTokens().ConsumeOneTimeToken(ctx(t), "setup", hash, now)
	wantErr(t, "B: ConsumeOneTimeToken of A's token", err, store.ErrNotFound)
	// B may well have a user "us-x" of its own: revoking its tokens leaves A's alone.
	noErr(t, "B: RevokeSubjectTokens of A's subject", b.OneTimeTokens().RevokeSubjectTokens(ctx(t), "setup", "us-x", now))
	subject, err := a.OneTimeTokens().ConsumeOneTimeToken(ctx(t), "setup", hash, now)
	noErr(t, "A: ConsumeOneTimeToken after B's attempts", err)
	if subject != "us-x" {
		t.Errorf("A: ConsumeOneTimeToken subject %q, want %q", subject, "us-x")
	}
}

// testIsolationRefreshTokens: B, with a user of the same id and a token of the same
// family and session ids, can neither see, rotate nor revoke A's tokens, nor list A's
// sessions; what B does acts on its own tokens only, and a rotation through a handle
// stores the child in that handle's tenant.
func testIsolationRefreshTokens(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	newUserWithID(t, b, u.ID)
	now := base.Add(time.Minute)
	tok := createRefresh(t, a, rootToken(u.ID, "se-"+randHex(6), base))

	wantNoRefresh(t, "B: RefreshTokenByHash of A's token", b, tok.TokenHash)
	if got := liveSessions(t, b, u.ID, now); len(got) != 0 {
		t.Errorf("B: LiveRefreshSessions lists A's sessions %v", got)
	}
	stolen := childToken(tok, now)
	rotate(t, "B: RotateRefreshToken of A's token", b, tok.ID, stolen, now, false)
	wantNoRefresh(t, "B's child of A's token, in B", b, stolen.TokenHash)
	wantNoRefresh(t, "B's child of A's token, in A", a, stolen.TokenHash)
	n, err := b.RefreshTokens().RevokeRefreshFamily(ctx(t), tok.FamilyID, now)
	noErr(t, "B: RevokeRefreshFamily of A's family", err)
	if n != 0 {
		t.Errorf("B: RevokeRefreshFamily of A's family revoked %d tokens", n)
	}
	checkRefreshToken(t, "A's token after B's attempts", readRefresh(t, a, tok.TokenHash), tok)

	// B's own token of the same family, session and user ids.
	mine := rootToken(u.ID, tok.SessionID, base)
	mine.FamilyID = tok.FamilyID
	createRefresh(t, b, mine)
	child := childToken(mine, now)
	rotate(t, "B: RotateRefreshToken of its own token", b, mine.ID, child, now, true)
	checkRefreshToken(t, "B's child, in B", readRefresh(t, b, child.TokenHash), child)
	wantNoRefresh(t, "B's child, in A", a, child.TokenHash)
	n, err = b.RefreshTokens().RevokeRefreshFamily(ctx(t), tok.FamilyID, now)
	noErr(t, "B: RevokeRefreshFamily of its own family", err)
	if n != 2 {
		t.Errorf("B: RevokeRefreshFamily of its own family revoked %d tokens, want 2", n)
	}
	if got := liveSessions(t, b, u.ID, now); len(got) != 0 {
		t.Errorf("B: LiveRefreshSessions after revoking its family: %v", got)
	}

	checkRefreshToken(t, "A's token after B's calls", readRefresh(t, a, tok.TokenHash), tok)
	if got := liveSessions(t, a, u.ID, now); len(got) != 1 || got[0] != tok.SessionID {
		t.Errorf("A: LiveRefreshSessions = %v, want [%s]", got, tok.SessionID)
	}
	achild := childToken(tok, now)
	rotate(t, "A: RotateRefreshToken after B's calls", a, tok.ID, achild, now, true)
	checkRefreshToken(t, "A's child, in A", readRefresh(t, a, achild.TokenHash), achild)
	wantNoRefresh(t, "A's child, in B", b, achild.TokenHash)
}

// testIsolationRoles: B sees and deletes none of A's roles; B's role of the same name
// is its own; B's users holding the name do not keep A from deleting A's role, nor
// A's users B.
func testIsolationRoles(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	role := putRole(t, a, store.Role{Name: "auditor", Description: "A's", Permissions: []string{"audit:read:all"}, UpdatedAt: base})
	au := newUser(t, a)
	noErr(t, "A: SetRoles", a.Users().SetRoles(ctx(t), au.ID, []string{"auditor"}))

	checkRoles(t, "B: ListRoles", b)
	wantErr(t, "B: DeleteRole of A's role", b.Roles().DeleteRole(ctx(t), role.Name, false), store.ErrNotFound)
	wantErr(t, "B: DeleteRole ifUnused of A's role", b.Roles().DeleteRole(ctx(t), role.Name, true), store.ErrNotFound)
	mine := putRole(t, b, store.Role{Name: "auditor", Description: "B's", UpdatedAt: base.Add(time.Hour)})
	checkRoles(t, "A: ListRoles after B's calls", a, role)
	checkRoles(t, "B: ListRoles after its PutRole", b, mine)
	// A's user holds "auditor": only A's role is in use.
	noErr(t, "B: DeleteRole ifUnused of its own role", b.Roles().DeleteRole(ctx(t), "auditor", true))
	checkRoles(t, "A: ListRoles after B's delete", a, role)

	bu := newUserWithID(t, b, "us-"+randHex(6))
	noErr(t, "B: SetRoles", b.Users().SetRoles(ctx(t), bu.ID, []string{"auditor"}))
	noErr(t, "A: SetRoles takes the role away", a.Users().SetRoles(ctx(t), au.ID, nil))
	noErr(t, "A: DeleteRole ifUnused while only B's user holds the name", a.Roles().DeleteRole(ctx(t), "auditor", true))
	checkRoles(t, "A: ListRoles after the delete", a)
}

// testIsolationTeams: B, with a team and a user of the same ids and the same team name,
// sees, joins, changes and deletes only its own; A's team and memberships are intact.
func testIsolationTeams(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	tm := newTeam(t, a, "Shared Name")
	u := newUser(t, a)
	addMember(t, a, tm.ID, u.ID)

	_, err := b.Teams().TeamByID(ctx(t), tm.ID)
	wantErr(t, "B: TeamByID of A's team", err, store.ErrNotFound)
	_, err = b.Teams().TeamByName(ctx(t), tm.Name)
	wantErr(t, "B: TeamByName of A's team", err, store.ErrNotFound)
	list, err := b.Teams().ListTeams(ctx(t))
	noErr(t, "B: ListTeams", err)
	if len(list) != 0 {
		t.Errorf("B lists A's teams %+v", list)
	}
	wantMembers(t, "B: TeamMembers of A's team", b, tm.ID)
	wantErr(t, "B: DeleteTeam of A's team", b.Teams().DeleteTeam(ctx(t), tm.ID, base), store.ErrNotFound)
	wantErr(t, "B: AddTeamMember of A's team and user", b.Teams().AddTeamMember(ctx(t), tm.ID, u.ID), store.ErrNotFound)
	wantErr(t, "B: RemoveTeamMember of A's user", b.Teams().RemoveTeamMember(ctx(t), tm.ID, u.ID), store.ErrNotFound)

	// B's own team and user with A's ids, and A's team name in another case.
	btm := createTeam(t, b, store.Team{ID: tm.ID, Name: "SHARED NAME", CreatedAt: base.Add(time.Hour)})
	newUserWithID(t, b, u.ID)
	addMember(t, b, tm.ID, u.ID)
	wantMembers(t, "B: TeamMembers of its team", b, tm.ID, u.ID)
	noErr(t, "B: RemoveTeamMember", b.Teams().RemoveTeamMember(ctx(t), tm.ID, u.ID))
	wantUserTeams(t, "A's user after B's removal", a, u.ID, tm.ID)
	addMember(t, b, tm.ID, u.ID)
	noErr(t, "B: DeleteTeam of its team", b.Teams().DeleteTeam(ctx(t), btm.ID, base))
	wantUserTeams(t, "B's user after B's delete", b, u.ID)

	got, err := a.Teams().TeamByName(ctx(t), "shared name")
	noErr(t, "A: TeamByName after B's calls", err)
	checkTeam(t, "A's team after B's calls", got, tm)
	wantUserTeams(t, "A's user after B's calls", a, u.ID, tm.ID)
	wantMembers(t, "A: TeamMembers after B's calls", a, tm.ID, u.ID)
}

// testIsolationPeriods: a period done in A is not done in B, and B marking it changes
// nothing in A.
func testIsolationPeriods(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	markPeriod(t, a, "A: MarkPeriodDone", "review", "2026-Q1", base, true)
	wantPeriodDone(t, b, "B: PeriodDone of A's period", "review", "2026-Q1", false)
	markPeriod(t, b, "B: MarkPeriodDone of A's period", "review", "2026-Q1", base, true)
	markPeriod(t, a, "A: MarkPeriodDone again", "review", "2026-Q1", base, false)
	markPeriod(t, b, "B: MarkPeriodDone again", "review", "2026-Q1", base, false)
	wantPeriodDone(t, a, "A: PeriodDone", "review", "2026-Q1", true)
}

// testIsolationUnknownTenant: a handle for a tenant that does not exist finds nothing.
func testIsolationUnknownTenant(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, a)
	ghost := st.Tenant("tn-ghost-" + randHex(8))
	if ghost.TenantID() == a.TenantID() {
		t.Fatal("random tenant ids collided")
	}
	_, err := ghost.Users().UserByID(ctx(t), u.ID)
	wantErr(t, "ghost: UserByID", err, store.ErrNotFound)
	n, err := ghost.Users().CountUsers(ctx(t))
	noErr(t, "ghost: CountUsers", err)
	list, err := ghost.Audit().ListAudit(ctx(t), 0, 10)
	noErr(t, "ghost: ListAudit", err)
	if n != 0 || len(list) != 0 {
		t.Errorf("unknown tenant sees %d users, %d audit records", n, len(list))
	}
	checkRoles(t, "ghost: ListRoles", ghost)
	teams, err := ghost.Teams().ListTeams(ctx(t))
	noErr(t, "ghost: ListTeams", err)
	if len(teams) != 0 {
		t.Errorf("unknown tenant sees teams %+v", teams)
	}
	wantPeriodDone(t, ghost, "ghost: PeriodDone", "review", "2026-Q1", false)
	wantErr(t, "ghost: DeleteRole ifUnused", ghost.Roles().DeleteRole(ctx(t), "auditor", true), store.ErrNotFound)
	wantErr(t, "ghost: AddTeamMember", ghost.Teams().AddTeamMember(ctx(t), "tm-x", u.ID), store.ErrNotFound)
}
