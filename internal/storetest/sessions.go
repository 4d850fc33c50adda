package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var sessionTests = []test{
	{"CreateAndLookup", testSessionLookup},
	{"Conflicts", testSessionConflicts},
	{"Revoke", testSessionRevoke},
	{"Touch", testSessionTouch},
	{"Verify", testSessionVerify},
	{"RevokeUserSessions", testSessionRevokeUser},
	{"ListUserSessions", testSessionList},
	{"Pending", testSessionPending},
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.UserID != want.UserID ||
		!bytes.Equal(got.TokenHash, want.TokenHash) || !slices.Equal(got.AuthMethods, want.AuthMethods) ||
		got.IP != want.IP || got.LastIP != want.LastIP || got.UserAgent != want.UserAgent || got.Pending != want.Pending {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	sameTime(t, what+" LastActive", got.LastActive, want.LastActive)
	sameTime(t, what+" RevokedAt", got.RevokedAt, want.RevokedAt)
	sameTime(t, what+" VerifiedAt", got.VerifiedAt, want.VerifiedAt)
}

func testSessionLookup(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	want := store.Session{
		ID:          "se-" + randHex(6),
		TenantID:    "some-other-tenant", // ignored: the handle's tenant is used
		UserID:      u.ID,
		TokenHash:   randBytes(32),
		AuthMethods: []string{"pwd", "otp"},
		CreatedAt:   base,
		ExpiresAt:   base.Add(12 * time.Hour),
		LastActive:  base.Add(time.Nanosecond),
		IP:          "2001:db8::1",
		LastIP:      "2001:db8::2",
		UserAgent:   "Mozilla/5.0 (X11; Linux x86_64)",
		VerifiedAt:  base.Add(2 * time.Nanosecond),
	}
	noErr(t, "CreateSession", h.Sessions().CreateSession(ctx(t), want))
	want.TenantID = h.TenantID()

	got, err := h.Sessions().SessionByTokenHash(ctx(t), want.TokenHash)
	noErr(t, "SessionByTokenHash", err)
	checkSession(t, "SessionByTokenHash", got, want)

	got, err = h.Sessions().SessionByID(ctx(t), want.ID)
	noErr(t, "SessionByID", err)
	checkSession(t, "SessionByID", got, want)

	_, err = h.Sessions().SessionByTokenHash(ctx(t), randBytes(32))
	wantErr(t, "SessionByTokenHash unknown", err, store.ErrNotFound)
	_, err = h.Sessions().SessionByID(ctx(t), "se-missing")
	wantErr(t, "SessionByID unknown", err, store.ErrNotFound)
}

func testSessionConflicts(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	s := newSession(t, h, u.ID, base)

	dupID := s
	dupID.TokenHash = randBytes(32)
	wantErr(t, "CreateSession with taken id", h.Sessions().CreateSession(ctx(t), dupID), store.ErrConflict)

	dupHash := s
	dupHash.ID = "se-" + randHex(6)
	wantErr(t, "CreateSession with taken token hash", h.Sessions().CreateSession(ctx(t), dupHash), store.ErrConflict)
}

func testSessionRevoke(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	s, other := newSession(t, h, u.ID, base), newSession(t, h, u.ID, base)

	first := base.Add(time.Hour)
	noErr(t, "RevokeSession", h.Sessions().RevokeSession(ctx(t), s.ID, first))
	// Idempotent: a second revocation succeeds and keeps the first time.
	noErr(t, "RevokeSession again", h.Sessions().RevokeSession(ctx(t), s.ID, first.Add(time.Hour)))
	s.RevokedAt = first

	got, err := h.Sessions().SessionByTokenHash(ctx(t), s.TokenHash)
	noErr(t, "SessionByTokenHash revoked", err) // revoked sessions are still found
	checkSession(t, "revoked session", got, s)

	got, err = h.Sessions().SessionByID(ctx(t), other.ID)
	noErr(t, "SessionByID other", err)
	checkSession(t, "other session", got, other)

	wantErr(t, "RevokeSession unknown", h.Sessions().RevokeSession(ctx(t), "se-missing", first), store.ErrNotFound)
}

// readSession returns the session, failing the test if it is not found.
func readSession(t *testing.T, h store.TenantHandle, id string) store.Session {
	t.Helper()
	got, err := h.Sessions().SessionByID(ctx(t), id)
	noErr(t, "SessionByID", err)
	return got
}

// testSessionTouch: last_active only moves forward, and the last IP moves with it
// (only when the touch carries one); the creation IP never changes.
func testSessionTouch(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	s, other := newSession(t, h, u.ID, base), newSession(t, h, u.ID, base)
	ss := h.Sessions()
	if got := readSession(t, h, s.ID); got.LastIP != "" {
		t.Fatalf("new session: LastIP %q, want none until a touch records one", got.LastIP)
	}

	later := base.Add(10*time.Minute + time.Microsecond)
	noErr(t, "TouchSession forward", ss.TouchSession(ctx(t), s.ID, later, "198.51.100.7"))
	s.LastActive, s.LastIP = later, "198.51.100.7"
	checkSession(t, "after a forward touch", readSession(t, h, s.ID), s)

	noErr(t, "TouchSession backward", ss.TouchSession(ctx(t), s.ID, base.Add(time.Minute), "203.0.113.9"))
	checkSession(t, "after a backward touch (address not taken either)", readSession(t, h, s.ID), s)
	noErr(t, "TouchSession at the same time", ss.TouchSession(ctx(t), s.ID, later, "203.0.113.9"))
	checkSession(t, "after a touch at the same time", readSession(t, h, s.ID), s)

	latest := later.Add(time.Minute)
	noErr(t, "TouchSession forward without an address", ss.TouchSession(ctx(t), s.ID, latest, ""))
	s.LastActive = latest
	checkSession(t, "after a forward touch without an address (kept)", readSession(t, h, s.ID), s)

	noErr(t, "TouchSession forward with a new address", ss.TouchSession(ctx(t), s.ID, latest.Add(time.Second), "2001:db8::7"))
	s.LastActive, s.LastIP = latest.Add(time.Second), "2001:db8::7"
	checkSession(t, "after a touch from a new address", readSession(t, h, s.ID), s)

	checkSession(t, "the other session", readSession(t, h, other.ID), other)
	wantErr(t, "TouchSession unknown", ss.TouchSession(ctx(t), "se-missing", latest, "192.0.2.9"), store.ErrNotFound)
}

// testSessionVerify: VerifiedAt starts zero (the caller reads it as CreatedAt) and
// only moves forward; nothing else changes.
func testSessionVerify(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	s, other := newSession(t, h, u.ID, base), newSession(t, h, u.ID, base)
	ss := h.Sessions()
	checkSession(t, "new session (VerifiedAt zero)", readSession(t, h, s.ID), s)

	first := base.Add(30*time.Minute + time.Nanosecond)
	noErr(t, "VerifySession", ss.VerifySession(ctx(t), s.ID, first))
	s.VerifiedAt = first
	checkSession(t, "after VerifySession", readSession(t, h, s.ID), s)

	noErr(t, "VerifySession backward", ss.VerifySession(ctx(t), s.ID, base.Add(time.Minute)))
	noErr(t, "VerifySession at the same time", ss.VerifySession(ctx(t), s.ID, first))
	checkSession(t, "after an earlier verification (kept)", readSession(t, h, s.ID), s)

	second := first.Add(time.Hour)
	noErr(t, "VerifySession forward", ss.VerifySession(ctx(t), s.ID, second))
	s.VerifiedAt = second
	checkSession(t, "after a later verification", readSession(t, h, s.ID), s)

	checkSession(t, "the other session", readSession(t, h, other.ID), other)
	wantErr(t, "VerifySession unknown", ss.VerifySession(ctx(t), "se-missing", second), store.ErrNotFound)
}

// testSessionRevokeUser: every session of the user that is not revoked yet, pending
// ones included, is revoked except the one named; the count says how many; revoked
// sessions keep their first time; other users and tenants are untouched.
func testSessionRevokeUser(t *testing.T, st store.Store) {
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	u, other := newUserWithID(t, a, "us-same"), newUser(t, a)
	twin := newUserWithID(t, b, "us-same") // same id, other tenant
	ss := a.Sessions()

	s1, s2, current := newSession(t, a, u.ID, base), newSession(t, a, u.ID, base), newSession(t, a, u.ID, base)
	earlier := newSession(t, a, u.ID, base)
	firstRevocation := base.Add(time.Minute)
	noErr(t, "RevokeSession", ss.RevokeSession(ctx(t), earlier.ID, firstRevocation))
	earlier.RevokedAt = firstRevocation
	pending := store.Session{ID: "se-" + randHex(6), UserID: u.ID, TokenHash: randBytes(32),
		CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute), Pending: true}
	noErr(t, "CreateSession pending", ss.CreateSession(ctx(t), pending))
	pending.TenantID = a.TenantID()
	otherUsers := newSession(t, a, other.ID, base)
	twins := newSession(t, b, twin.ID, base)

	at := base.Add(time.Hour)
	n, err := ss.RevokeUserSessions(ctx(t), u.ID, current.ID, at)
	noErr(t, "RevokeUserSessions", err)
	if n != 3 {
		t.Errorf("RevokeUserSessions revoked %d sessions, want 3 (two complete, one pending)", n)
	}
	for _, s := range []store.Session{s1, s2, pending} {
		s.RevokedAt = at
		checkSession(t, "revoked session", readSession(t, a, s.ID), s)
	}
	checkSession(t, "the session spared", readSession(t, a, current.ID), current)
	checkSession(t, "the session revoked before (first time kept)", readSession(t, a, earlier.ID), earlier)
	checkSession(t, "another user's session", readSession(t, a, otherUsers.ID), otherUsers)
	checkSession(t, "the same user id's session in another tenant", readSession(t, b, twins.ID), twins)

	n, err = ss.RevokeUserSessions(ctx(t), u.ID, current.ID, at.Add(time.Hour))
	noErr(t, "RevokeUserSessions again", err)
	if n != 0 {
		t.Errorf("RevokeUserSessions again revoked %d sessions, want 0", n)
	}
	n, err = ss.RevokeUserSessions(ctx(t), u.ID, "", at.Add(time.Hour))
	noErr(t, "RevokeUserSessions sparing none", err)
	if n != 1 {
		t.Errorf("RevokeUserSessions sparing none revoked %d sessions, want 1", n)
	}
	current.RevokedAt = at.Add(time.Hour)
	checkSession(t, "the session spared before", readSession(t, a, current.ID), current)

	n, err = ss.RevokeUserSessions(ctx(t), "us-missing", "", at)
	noErr(t, "RevokeUserSessions of an unknown user", err)
	if n != 0 {
		t.Errorf("RevokeUserSessions of an unknown user revoked %d sessions", n)
	}
	checkSession(t, "another user's session at the end", readSession(t, a, otherUsers.ID), otherUsers)
	checkSession(t, "the other tenant's session at the end", readSession(t, b, twins.ID), twins)
}

func testSessionList(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	now := base.Add(2 * time.Hour)

	older := newSession(t, h, u.ID, base)
	newer := newSession(t, h, u.ID, base.Add(time.Minute))
	revoked := newSession(t, h, u.ID, base.Add(2*time.Minute))
	noErr(t, "RevokeSession", h.Sessions().RevokeSession(ctx(t), revoked.ID, base.Add(time.Hour)))
	expired := store.Session{ID: "se-" + randHex(6), UserID: u.ID, TokenHash: randBytes(32),
		CreatedAt: base, ExpiresAt: now} // expiring exactly at now counts as expired
	noErr(t, "CreateSession expired", h.Sessions().CreateSession(ctx(t), expired))
	newSession(t, h, other.ID, base)

	list, err := h.Sessions().ListUserSessions(ctx(t), u.ID, now)
	noErr(t, "ListUserSessions", err)
	if len(list) != 2 {
		t.Fatalf("ListUserSessions returned %d sessions, want 2 (revoked and expired left out)", len(list))
	}
	checkSession(t, "newest first", list[0], newer)
	checkSession(t, "then older", list[1], older)

	list, err = h.Sessions().ListUserSessions(ctx(t), "us-missing", now)
	noErr(t, "ListUserSessions unknown user", err)
	if len(list) != 0 {
		t.Errorf("ListUserSessions of unknown user returned %d sessions", len(list))
	}
}

// testSessionPending: the half-signed-in flag round-trips, and defaults to false.
func testSessionPending(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	full := newSession(t, h, u.ID, base)
	pending := store.Session{ID: "se-" + randHex(6), UserID: u.ID, TokenHash: randBytes(32),
		AuthMethods: []string{"pwd"}, CreatedAt: base.Add(time.Minute), ExpiresAt: base.Add(10 * time.Minute),
		Pending: true}
	noErr(t, "CreateSession pending", h.Sessions().CreateSession(ctx(t), pending))
	pending.TenantID = h.TenantID()

	got, err := h.Sessions().SessionByTokenHash(ctx(t), pending.TokenHash)
	noErr(t, "SessionByTokenHash pending", err)
	checkSession(t, "pending session by hash", got, pending)
	got, err = h.Sessions().SessionByID(ctx(t), pending.ID)
	noErr(t, "SessionByID pending", err)
	checkSession(t, "pending session by id", got, pending)
	got, err = h.Sessions().SessionByID(ctx(t), full.ID)
	noErr(t, "SessionByID full", err)
	checkSession(t, "complete session", got, full)

	list, err := h.Sessions().ListUserSessions(ctx(t), u.ID, base.Add(2*time.Minute))
	noErr(t, "ListUserSessions", err)
	if len(list) != 2 {
		t.Fatalf("ListUserSessions returned %d sessions, want 2", len(list))
	}
	checkSession(t, "listed pending session", list[0], pending)
	checkSession(t, "listed complete session", list[1], full)
}
