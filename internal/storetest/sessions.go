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
	{"ListUserSessions", testSessionList},
	{"Pending", testSessionPending},
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.UserID != want.UserID ||
		!bytes.Equal(got.TokenHash, want.TokenHash) || !slices.Equal(got.AuthMethods, want.AuthMethods) ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.Pending != want.Pending {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	sameTime(t, what+" LastActive", got.LastActive, want.LastActive)
	sameTime(t, what+" RevokedAt", got.RevokedAt, want.RevokedAt)
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
		UserAgent:   "Mozilla/5.0 (X11; Linux x86_64)",
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

func testSessionTouch(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	s := newSession(t, h, u.ID, base)

	later := base.Add(10*time.Minute + time.Microsecond)
	noErr(t, "TouchSession forward", h.Sessions().TouchSession(ctx(t), s.ID, later))
	noErr(t, "TouchSession backward", h.Sessions().TouchSession(ctx(t), s.ID, base.Add(time.Minute)))
	got, err := h.Sessions().SessionByID(ctx(t), s.ID)
	noErr(t, "SessionByID", err)
	sameTime(t, "LastActive after a forward and a backward touch", got.LastActive, later)
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
