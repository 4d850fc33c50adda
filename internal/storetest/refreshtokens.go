package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var refreshTokenTests = []test{
	{"CreateAndLookup", testRefreshLookup},
	{"Conflicts", testRefreshConflicts},
	{"Rotate", testRefreshRotate},
	{"RotateConcurrent", testRefreshRotateConcurrent},
	{"RotateIsOneTransaction", testRefreshRotateAtomic},
	{"RevokeFamily", testRefreshRevokeFamily},
	{"LiveSessions", testRefreshLiveSessions},
}

func checkRefreshToken(t *testing.T, what string, got, want store.RefreshToken) {
	t.Helper()
	if got.ID != want.ID || got.FamilyID != want.FamilyID || got.ParentID != want.ParentID ||
		got.SessionID != want.SessionID || got.UserID != want.UserID || !bytes.Equal(got.TokenHash, want.TokenHash) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	sameTime(t, what+" UsedAt", got.UsedAt, want.UsedAt)
	sameTime(t, what+" RevokedAt", got.RevokedAt, want.RevokedAt)
}

// rootToken returns (without storing it) the first token of a new family for the
// session, created at created and living 30 days.
func rootToken(userID, sessionID string, created time.Time) store.RefreshToken {
	return store.RefreshToken{
		ID:        "rt-" + randHex(6),
		FamilyID:  "rf-" + randHex(6),
		SessionID: sessionID,
		UserID:    userID,
		TokenHash: randBytes(32),
		CreatedAt: created,
		ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
}

// childToken returns (without storing it) the token that replaces parent at created.
func childToken(parent store.RefreshToken, created time.Time) store.RefreshToken {
	return store.RefreshToken{
		ID:        "rt-" + randHex(6),
		FamilyID:  parent.FamilyID,
		ParentID:  parent.ID,
		SessionID: parent.SessionID,
		UserID:    parent.UserID,
		TokenHash: randBytes(32),
		CreatedAt: created,
		ExpiresAt: parent.ExpiresAt,
	}
}

func createRefresh(t *testing.T, h store.TenantHandle, tok store.RefreshToken) store.RefreshToken {
	t.Helper()
	noErr(t, "CreateRefreshToken", h.RefreshTokens().CreateRefreshToken(ctx(t), tok))
	return tok
}

// readRefresh returns the token with hash, failing the test if it is not found.
func readRefresh(t *testing.T, h store.TenantHandle, hash []byte) store.RefreshToken {
	t.Helper()
	got, err := h.RefreshTokens().RefreshTokenByHash(ctx(t), hash)
	noErr(t, "RefreshTokenByHash", err)
	return got
}

// wantNoRefresh checks that h finds no token with hash.
func wantNoRefresh(t *testing.T, what string, h store.TenantHandle, hash []byte) {
	t.Helper()
	got, err := h.RefreshTokens().RefreshTokenByHash(ctx(t), hash)
	wantErr(t, what, err, store.ErrNotFound)
	if got.ID != "" {
		t.Errorf("%s: token %+v with the error, want none", what, got)
	}
}

// rotate calls RotateRefreshToken and checks its answer.
func rotate(t *testing.T, what string, h store.TenantHandle, parentID string, child store.RefreshToken, now time.Time, want bool) {
	t.Helper()
	got, err := h.RefreshTokens().RotateRefreshToken(ctx(t), parentID, child, now)
	noErr(t, what, err)
	if got != want {
		t.Fatalf("%s: RotateRefreshToken = %v, want %v", what, got, want)
	}
}

// liveSessions returns LiveRefreshSessions sorted (the contract promises no order).
func liveSessions(t *testing.T, h store.TenantHandle, userID string, now time.Time) []string {
	t.Helper()
	got, err := h.RefreshTokens().LiveRefreshSessions(ctx(t), userID, now)
	noErr(t, "LiveRefreshSessions", err)
	slices.Sort(got)
	return got
}

// testRefreshLookup: every field round-trips exactly (the zero times and the empty
// parent of a family's first token included), used and revoked tokens are found
// alike, and an unknown hash is ErrNotFound.
func testRefreshLookup(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	root := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))
	checkRefreshToken(t, "first token of a family", readRefresh(t, h, root.TokenHash), root)

	// Every time set (nanoseconds apart), a parent, and no creation time.
	spent := childToken(root, time.Time{})
	spent.UsedAt, spent.RevokedAt = base.Add(time.Nanosecond), base.Add(2*time.Nanosecond)
	spent.ExpiresAt = base.Add(3 * time.Nanosecond)
	createRefresh(t, h, spent)
	checkRefreshToken(t, "used and revoked token", readRefresh(t, h, spent.TokenHash), spent)
	checkRefreshToken(t, "first token, read again", readRefresh(t, h, root.TokenHash), root)

	wantNoRefresh(t, "RefreshTokenByHash unknown", h, randBytes(32))
}

// testRefreshConflicts: a taken token hash or id is ErrConflict, and the refused token
// changes nothing.
func testRefreshConflicts(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	tok := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))

	dupHash := rootToken(u.ID, "se-"+randHex(6), base.Add(time.Hour))
	dupHash.TokenHash = bytes.Clone(tok.TokenHash)
	wantErr(t, "CreateRefreshToken with a taken hash", h.RefreshTokens().CreateRefreshToken(ctx(t), dupHash), store.ErrConflict)
	dupID := rootToken(u.ID, "se-"+randHex(6), base.Add(time.Hour))
	dupID.ID = tok.ID
	wantErr(t, "CreateRefreshToken with a taken id", h.RefreshTokens().CreateRefreshToken(ctx(t), dupID), store.ErrConflict)
	wantNoRefresh(t, "RefreshTokenByHash of the refused token", h, dupID.TokenHash)
	checkRefreshToken(t, "token after the refused duplicates", readRefresh(t, h, tok.TokenHash), tok)
	if got := liveSessions(t, h, u.ID, base); !slices.Equal(got, []string{tok.SessionID}) {
		t.Errorf("LiveRefreshSessions after the refused duplicates: %v, want only %v", got, tok.SessionID)
	}
}

// testRefreshRotate: a live token rotates once (it is marked used at the rotation
// time and its child stored); a used, revoked or unknown parent does not rotate and
// no child is stored; the child rotates in turn.
func testRefreshRotate(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	root := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)

	child := childToken(root, t1)
	rotate(t, "rotation of a live token", h, root.ID, child, t1, true)
	root.UsedAt = t1
	checkRefreshToken(t, "parent after the rotation", readRefresh(t, h, root.TokenHash), root)
	checkRefreshToken(t, "child after the rotation", readRefresh(t, h, child.TokenHash), child)

	again := childToken(root, t2)
	rotate(t, "second rotation of the parent", h, root.ID, again, t2, false)
	wantNoRefresh(t, "child of a refused rotation", h, again.TokenHash)
	checkRefreshToken(t, "parent after the refused rotation (first use time kept)", readRefresh(t, h, root.TokenHash), root)

	grandchild := childToken(child, t2)
	rotate(t, "rotation of the child", h, child.ID, grandchild, t2, true)
	child.UsedAt = t2
	checkRefreshToken(t, "child after its rotation", readRefresh(t, h, child.TokenHash), child)
	checkRefreshToken(t, "grandchild", readRefresh(t, h, grandchild.TokenHash), grandchild)

	// A revoked token never rotates, used or not.
	revoked := rootToken(u.ID, "se-"+randHex(6), base)
	revoked.RevokedAt = t1
	createRefresh(t, h, revoked)
	orphan := childToken(revoked, t2)
	rotate(t, "rotation of a revoked token", h, revoked.ID, orphan, t2, false)
	wantNoRefresh(t, "child of a revoked token", h, orphan.TokenHash)
	checkRefreshToken(t, "revoked token after the refused rotation", readRefresh(t, h, revoked.TokenHash), revoked)

	ghost := rootToken(u.ID, "se-"+randHex(6), base)
	ghostChild := childToken(ghost, t2)
	rotate(t, "rotation of an unknown token", h, ghost.ID, ghostChild, t2, false)
	wantNoRefresh(t, "child of an unknown token", h, ghostChild.TokenHash)

	if got := liveSessions(t, h, u.ID, t2); !slices.Equal(got, []string{root.SessionID}) {
		t.Errorf("LiveRefreshSessions after the rotations: %v, want only %v", got, root.SessionID)
	}
}

// errLostRotation stands for a rotation that reported false, so that races can be
// checked with exactlyOneWins.
var errLostRotation = errors.New("rotation refused")

// testRefreshRotateConcurrent races 16 rotations of one parent, each with its own
// child (in several rounds): exactly one reports true, without any error, and exactly
// its child is stored.
func testRefreshRotateConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	for round := range raceRounds {
		now := base.Add(time.Duration(round+1) * time.Minute)
		root := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))
		children := make([]store.RefreshToken, 16)
		fns := make([]func() error, len(children))
		for i := range children {
			children[i] = childToken(root, now)
			fns[i] = func() error {
				ok, err := h.RefreshTokens().RotateRefreshToken(t.Context(), root.ID, children[i], now)
				if err == nil && !ok {
					return errLostRotation
				}
				return err
			}
		}
		errs := raceEach(fns...)
		exactlyOneWins(t, "concurrent RotateRefreshToken", errs, errLostRotation)
		for i, err := range errs {
			got, lookupErr := h.RefreshTokens().RefreshTokenByHash(ctx(t), children[i].TokenHash)
			switch {
			case err == nil:
				noErr(t, "RefreshTokenByHash of the winner's child", lookupErr)
				checkRefreshToken(t, "winner's child", got, children[i])
			default:
				wantErr(t, "RefreshTokenByHash of a loser's child", lookupErr, store.ErrNotFound)
			}
		}
		root.UsedAt = now
		checkRefreshToken(t, "parent after the race", readRefresh(t, h, root.TokenHash), root)
	}
}

// testRefreshRotateAtomic: a rotation whose child cannot be stored (its hash is taken)
// fails with ErrConflict and leaves the parent unused, so a retry with a good child
// succeeds.
func testRefreshRotateAtomic(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	root := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))
	other := createRefresh(t, h, rootToken(u.ID, "se-"+randHex(6), base))
	now := base.Add(time.Minute)

	bad := childToken(root, now)
	bad.TokenHash = bytes.Clone(other.TokenHash)
	ok, err := h.RefreshTokens().RotateRefreshToken(ctx(t), root.ID, bad, now)
	wantErr(t, "RotateRefreshToken with a taken child hash", err, store.ErrConflict)
	if ok {
		t.Errorf("RotateRefreshToken with a taken child hash reported true")
	}
	checkRefreshToken(t, "parent after the failed rotation (still unused)", readRefresh(t, h, root.TokenHash), root)
	checkRefreshToken(t, "token whose hash the child named", readRefresh(t, h, other.TokenHash), other)

	good := childToken(root, now)
	rotate(t, "rotation after the failed one", h, root.ID, good, now, true)
	checkRefreshToken(t, "child of the retried rotation", readRefresh(t, h, good.TokenHash), good)
}

// testRefreshRevokeFamily: every token of the family not revoked yet is revoked at now
// and counted, used ones included; one revoked earlier keeps its time; other
// families, of the same user and session or not, and another tenant's family of the
// same id are untouched; a revoked family's live token no longer rotates.
func testRefreshRevokeFamily(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	ub := newUserWithID(t, b, u.ID)
	sessionID := "se-" + randHex(6)
	t1, t2, now := base.Add(time.Minute), base.Add(2*time.Minute), base.Add(time.Hour)

	root := createRefresh(t, a, rootToken(u.ID, sessionID, base))
	c1 := childToken(root, t1)
	rotate(t, "first rotation", a, root.ID, c1, t1, true)
	c2 := childToken(c1, t2)
	rotate(t, "second rotation", a, c1.ID, c2, t2, true)
	root.UsedAt, c1.UsedAt = t1, t2
	early := childToken(root, base) // revoked before the family (a caller's own record)
	early.RevokedAt = t1
	createRefresh(t, a, early)

	sameSession := createRefresh(t, a, rootToken(u.ID, sessionID, base))    // another family
	otherUser := createRefresh(t, a, rootToken(newUser(t, a).ID, "", base)) // another user's family
	inB := rootToken(ub.ID, sessionID, base)
	inB.FamilyID = root.FamilyID // the same family id in another tenant
	createRefresh(t, b, inB)

	n, err := a.RefreshTokens().RevokeRefreshFamily(ctx(t), root.FamilyID, now)
	noErr(t, "RevokeRefreshFamily", err)
	if n != 3 {
		t.Errorf("RevokeRefreshFamily revoked %d tokens, want 3", n)
	}
	for _, tok := range []store.RefreshToken{root, c1, c2} {
		tok.RevokedAt = now
		checkRefreshToken(t, "token of the revoked family", readRefresh(t, a, tok.TokenHash), tok)
	}
	checkRefreshToken(t, "token revoked before the family", readRefresh(t, a, early.TokenHash), early)
	checkRefreshToken(t, "another family of the session", readRefresh(t, a, sameSession.TokenHash), sameSession)
	checkRefreshToken(t, "another user's family", readRefresh(t, a, otherUser.TokenHash), otherUser)
	checkRefreshToken(t, "the same family id in another tenant", readRefresh(t, b, inB.TokenHash), inB)

	n, err = a.RefreshTokens().RevokeRefreshFamily(ctx(t), root.FamilyID, now.Add(time.Hour))
	noErr(t, "RevokeRefreshFamily again", err)
	if n != 0 {
		t.Errorf("RevokeRefreshFamily again revoked %d tokens, want 0", n)
	}
	n, err = a.RefreshTokens().RevokeRefreshFamily(ctx(t), "rf-missing-"+randHex(4), now)
	noErr(t, "RevokeRefreshFamily of an unknown family", err)
	if n != 0 {
		t.Errorf("RevokeRefreshFamily of an unknown family revoked %d tokens", n)
	}

	stolen := childToken(c2, now)
	rotate(t, "rotation of the revoked family's last token", a, c2.ID, stolen, now.Add(time.Minute), false)
	wantNoRefresh(t, "child of a revoked family", a, stolen.TokenHash)
	if got := liveSessions(t, a, u.ID, now); !slices.Equal(got, []string{sessionID}) {
		t.Errorf("LiveRefreshSessions after the revocation: %v, want %v (the other family)", got, sessionID)
	}
	if got := liveSessions(t, b, ub.ID, now); !slices.Equal(got, []string{sessionID}) {
		t.Errorf("other tenant's LiveRefreshSessions after the revocation: %v, want %v", got, sessionID)
	}
}

// testRefreshLiveSessions: a session counts, once, when the user has a token of it
// that is neither used, revoked nor expired at now (one expiring at now has expired).
func testRefreshLiveSessions(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, v := newUser(t, h), newUser(t, h)
	now := base.Add(time.Hour)
	session := func(name string) string { return "se-" + name + "-" + randHex(4) }
	add := func(userID, sessionID string, expires, used, revoked time.Time) store.RefreshToken {
		t.Helper()
		tok := rootToken(userID, sessionID, base)
		tok.ExpiresAt, tok.UsedAt, tok.RevokedAt = expires, used, revoked
		return createRefresh(t, h, tok)
	}
	var never time.Time
	later := now.Add(24 * time.Hour)

	if got := liveSessions(t, h, u.ID, now); len(got) != 0 {
		t.Fatalf("LiveRefreshSessions of a user without tokens: %v", got)
	}

	live := session("live")
	add(u.ID, live, later, never, never)
	rotated := session("rotated")
	parent := add(u.ID, rotated, later, never, never)
	rotate(t, "rotation", h, parent.ID, childToken(parent, base), base, true)
	twice := session("two-families")
	add(u.ID, twice, later, never, never)
	add(u.ID, twice, later, never, never)
	justAlive := session("expires-just-after-now")
	add(u.ID, justAlive, now.Add(time.Nanosecond), never, never)

	add(u.ID, session("expires-at-now"), now, never, never)
	add(u.ID, session("expired"), now.Add(-time.Hour), never, never)
	add(u.ID, session("used"), later, base, never)
	add(u.ID, session("revoked"), later, never, base)
	add(v.ID, session("other-user"), later, never, never)

	want := []string{live, rotated, twice, justAlive}
	slices.Sort(want)
	if got := liveSessions(t, h, u.ID, now); !slices.Equal(got, want) {
		t.Errorf("LiveRefreshSessions = %v, want %v", got, want)
	}
	if got := liveSessions(t, h, v.ID, now); len(got) != 1 {
		t.Errorf("LiveRefreshSessions of the other user = %v, want its one session", got)
	}
	if got := liveSessions(t, h, "us-missing", now); len(got) != 0 {
		t.Errorf("LiveRefreshSessions of an unknown user = %v", got)
	}
}
