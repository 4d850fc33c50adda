package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var maintenanceTests = []test{
	{"Lease", testLease},
	{"LeaseConcurrent", testLeaseConcurrent},
	{"Purge", testPurge},
	{"PurgeRefreshTokens", testPurgeRefreshTokens},
	{"ActiveSessions", testActiveSessions},
}

// acquire calls AcquireLease and checks its answer.
func acquire(t *testing.T, m store.Maintenance, what, name, holder string, ttl time.Duration, now time.Time, want bool) {
	t.Helper()
	got, err := m.AcquireLease(ctx(t), name, holder, ttl, now)
	noErr(t, what, err)
	if got != want {
		t.Fatalf("%s: AcquireLease = %v, want %v", what, got, want)
	}
}

// testLease: a free lease is taken, the holder renews it, another holder waits until
// it has ended (an end at exactly now has ended) and then takes it over.
func testLease(t *testing.T, st store.Store) {
	m := st.Maintenance()
	name, other := "lease-"+randHex(6), "lease-"+randHex(6)
	ttl := time.Minute

	acquire(t, m, "free lease", name, "a", ttl, base, true)
	acquire(t, m, "another holder while it runs", name, "b", ttl, base.Add(30*time.Second), false)
	acquire(t, m, "another lease name is independent", other, "b", ttl, base.Add(30*time.Second), true)
	acquire(t, m, "renewal by the holder", name, "a", ttl, base.Add(50*time.Second), true)
	// The renewal moved the end to base+110s.
	acquire(t, m, "another holder after the first end, before the renewed one", name, "b", ttl, base.Add(90*time.Second), false)
	acquire(t, m, "another holder as the renewed lease ends", name, "b", ttl, base.Add(110*time.Second), true)
	acquire(t, m, "the former holder after the take-over", name, "a", ttl, base.Add(120*time.Second), false)
	// A holder whose lease ended, and nobody took it, gets it again.
	acquire(t, m, "the new holder long after its lease ended", name, "b", ttl, base.Add(time.Hour), true)
}

// testLeaseConcurrent: of many instances asking for a free lease at once, exactly one
// gets it; likewise when the lease has ended and they race to take it over.
func testLeaseConcurrent(t *testing.T, st store.Store) {
	m := st.Maintenance()
	for round := range raceRounds {
		name := "lease-" + randHex(6)
		now := base.Add(time.Duration(round) * time.Hour)
		for _, at := range []time.Time{now, now.Add(time.Minute)} { // free, then ended
			var next atomic.Int64
			var wins atomic.Int64
			errs := race(20, func() error {
				holder := fmt.Sprintf("instance-%d", next.Add(1))
				ok, err := m.AcquireLease(t.Context(), name, holder, time.Minute, at)
				if ok {
					wins.Add(1)
				}
				return err
			})
			for _, err := range errs {
				noErr(t, "concurrent AcquireLease", err)
			}
			if n := wins.Load(); n != 1 {
				t.Fatalf("%d of %d concurrent AcquireLease calls got the lease at %v, want exactly 1", n, len(errs), at)
			}
		}
	}
}

// testPurge: sessions revoked or expired before the cut-off, TOTP steps used before
// it and tokens used or expired before it go, in every tenant; everything live at
// the cut-off, and everything dead only at or after it, stays; the counts are right.
//
// The suite may share its database with earlier subtests, so the test works in 2001,
// long before anything the other tests write, and purges once before it starts.
func testPurge(t *testing.T, st store.Store) {
	m := st.Maintenance()
	cut := time.Date(2001, 9, 9, 1, 46, 40, 123456789, time.UTC)
	before := store.PurgeBefore{Sessions: cut, TOTPSteps: cut, Tokens: cut}
	_, err := m.Purge(ctx(t), before)
	noErr(t, "Purge before the test", err)

	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	ua, ub := newUser(t, a), newUser(t, b)
	session := func(h store.TenantHandle, userID string, expires, revoked time.Time, pending bool) store.Session {
		t.Helper()
		s := store.Session{ID: "se-" + randHex(6), UserID: userID, TokenHash: randBytes(32), AuthMethods: []string{"pwd"},
			CreatedAt: cut.Add(-48 * time.Hour), ExpiresAt: expires, RevokedAt: revoked, Pending: pending}
		noErr(t, "CreateSession", h.Sessions().CreateSession(ctx(t), s))
		s.TenantID = h.TenantID()
		return s
	}
	var never time.Time
	day := 24 * time.Hour
	goneSessions := []struct {
		h store.TenantHandle
		s store.Session
	}{
		{a, session(a, ua.ID, cut.Add(30*day), cut.Add(-time.Hour), false)},      // revoked before, would live on
		{b, session(b, ub.ID, cut.Add(-time.Nanosecond), never, false)},          // expired just before
		{a, session(a, ua.ID, cut.Add(-time.Minute), never, true)},               // pending, expired
		{b, session(b, ub.ID, cut.Add(-time.Hour), cut.Add(-2*time.Hour), true)}, // both
	}
	keptSessions := []struct {
		h store.TenantHandle
		s store.Session
	}{
		{a, session(a, ua.ID, cut.Add(day), never, false)},              // live
		{b, session(b, ub.ID, cut.Add(day), never, false)},              // live, other tenant
		{a, session(a, ua.ID, cut.Add(day), cut.Add(time.Hour), false)}, // revoked after the cut-off
		{a, session(a, ua.ID, cut.Add(day), cut, false)},                // revoked at the cut-off
		{b, session(b, ub.ID, cut, never, false)},                       // expires at the cut-off
		{a, session(a, ua.ID, cut.Add(10*time.Minute), never, true)},    // pending, not expired
	}

	// TOTP steps: two old ones go, the one used at the cut-off and a recent one stay.
	noErr(t, "UseTOTPStep old", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 1, cut.Add(-time.Hour)))
	noErr(t, "UseTOTPStep old, other tenant", b.TOTP().UseTOTPStep(ctx(t), ub.ID, 1, cut.Add(-time.Nanosecond)))
	noErr(t, "UseTOTPStep at the cut-off", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 2, cut))
	noErr(t, "UseTOTPStep recent", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 3, cut.Add(time.Minute)))

	// Tokens: used before, expired before (two tenants) go; live, used after and
	// expiring at the cut-off stay.
	token := func(h store.TenantHandle, expires, used time.Time) []byte {
		t.Helper()
		hash := randBytes(32)
		noErr(t, "CreateOneTimeToken", h.OneTimeTokens().CreateOneTimeToken(ctx(t), "reset", hash, "us-x", expires))
		if !used.IsZero() {
			_, err := h.OneTimeTokens().ConsumeOneTimeToken(ctx(t), "reset", hash, used)
			noErr(t, "ConsumeOneTimeToken", err)
		}
		return hash
	}
	token(a, cut.Add(day), cut.Add(-time.Hour))            // used before
	token(b, cut.Add(-time.Minute), never)                 // expired before
	live := token(a, cut.Add(day), never)                  // live
	liveB := token(b, cut.Add(day), never)                 // live, other tenant
	token(a, cut.Add(day), cut.Add(time.Minute))           // used after
	justAfter := token(a, cut.Add(time.Nanosecond), never) // expires just after the cut-off
	token(b, cut, never)                                   // expires at the cut-off

	got, err := m.Purge(ctx(t), before)
	noErr(t, "Purge", err)
	if want := (store.PurgeResult{Sessions: int64(len(goneSessions)), TOTPSteps: 2, Tokens: 2}); got != want {
		t.Errorf("Purge deleted %+v, want %+v", got, want)
	}

	for _, g := range goneSessions {
		_, err := g.h.Sessions().SessionByID(ctx(t), g.s.ID)
		wantErr(t, "SessionByID of a purged session", err, store.ErrNotFound)
	}
	for _, k := range keptSessions {
		checkSession(t, "session kept", readSession(t, k.h, k.s.ID), k.s)
	}
	// A purged step can be stored again; the kept ones are still recorded.
	noErr(t, "UseTOTPStep of a purged step", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 1, cut.Add(time.Hour)))
	wantErr(t, "UseTOTPStep of the step used at the cut-off", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 2, cut.Add(time.Hour)), store.ErrConflict)
	wantErr(t, "UseTOTPStep of the recent step", a.TOTP().UseTOTPStep(ctx(t), ua.ID, 3, cut.Add(time.Hour)), store.ErrConflict)
	wantLive(t, "live token after the purge", a.OneTimeTokens(), "reset", live, cut, "us-x")
	wantLive(t, "other tenant's live token after the purge", b.OneTimeTokens(), "reset", liveB, cut, "us-x")
	wantLive(t, "token expiring just after the cut-off", a.OneTimeTokens(), "reset", justAfter, cut, "us-x")

	// Nothing left to do: a second run deletes nothing, nor does a run without
	// cut-offs (the zero time means "none of this kind").
	got, err = m.Purge(ctx(t), before)
	noErr(t, "Purge again", err)
	if got != (store.PurgeResult{}) {
		t.Errorf("second Purge deleted %+v, want nothing", got)
	}
	got, err = m.Purge(ctx(t), store.PurgeBefore{})
	noErr(t, "Purge without cut-offs", err)
	if got != (store.PurgeResult{}) {
		t.Errorf("Purge without cut-offs deleted %+v, want nothing", got)
	}
	for _, k := range keptSessions {
		checkSession(t, "session kept after more purges", readSession(t, k.h, k.s.ID), k.s)
	}
}

// testPurgeRefreshTokens: refresh tokens whose family expired, or that were revoked,
// before the cut-off go, in every tenant (each counted once); live ones, spent ones
// of a family still running, and those revoked or expiring at or after the cut-off
// stay. Only the refresh-token cut-off is set, so nothing else is purged.
//
// Like testPurge it works long before anything other tests write (in 1999), and
// purges once before it starts.
func testPurgeRefreshTokens(t *testing.T, st store.Store) {
	m := st.Maintenance()
	cut := time.Date(1999, 12, 31, 23, 59, 59, 987654321, time.UTC)
	day := 24 * time.Hour
	far := cut.Add(365 * day) // still before testPurge's 2001, and before anything else
	before := store.PurgeBefore{RefreshTokens: cut}
	_, err := m.Purge(ctx(t), store.PurgeBefore{RefreshTokens: far}) // an earlier, aborted run's tokens
	noErr(t, "Purge before the test", err)

	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	ua, ub := newUser(t, a), newUser(t, b)
	token := func(h store.TenantHandle, userID string, expires, used, revoked time.Time) store.RefreshToken {
		t.Helper()
		tok := rootToken(userID, "se-"+randHex(6), cut.Add(-48*time.Hour))
		tok.ExpiresAt, tok.UsedAt, tok.RevokedAt = expires, used, revoked
		return createRefresh(t, h, tok)
	}
	var never time.Time
	type held struct {
		h   store.TenantHandle
		tok store.RefreshToken
	}
	gone := []held{
		{a, token(a, ua.ID, cut.Add(-time.Nanosecond), never, never)},                           // expired just before
		{b, token(b, ub.ID, cut.Add(30*day), never, cut.Add(-time.Hour))},                       // revoked before, would live on
		{a, token(a, ua.ID, cut.Add(-time.Minute), cut.Add(-time.Hour), never)},                 // spent, family expired
		{b, token(b, ub.ID, cut.Add(-time.Hour), cut.Add(-2*time.Hour), cut.Add(-3*time.Hour))}, // all three
	}
	kept := []held{
		{a, token(a, ua.ID, cut.Add(day), never, never)},                    // live
		{b, token(b, ub.ID, cut.Add(day), never, never)},                    // live, other tenant
		{a, token(a, ua.ID, cut.Add(day), cut.Add(-time.Hour), never)},      // spent before, family running
		{a, token(a, ua.ID, cut.Add(day), never, cut)},                      // revoked at the cut-off
		{b, token(b, ub.ID, cut.Add(day), never, cut.Add(time.Nanosecond))}, // revoked just after
		{a, token(a, ua.ID, cut, cut.Add(-time.Hour), never)},               // expires at the cut-off
	}
	// A family rotated and then revoked before the cut-off goes whole.
	root := token(a, ua.ID, cut.Add(30*day), never, never)
	child := childToken(root, cut.Add(-3*time.Hour))
	rotate(t, "rotation", a, root.ID, child, cut.Add(-3*time.Hour), true)
	n, err := a.RefreshTokens().RevokeRefreshFamily(ctx(t), root.FamilyID, cut.Add(-2*time.Hour))
	noErr(t, "RevokeRefreshFamily", err)
	if n != 2 {
		t.Fatalf("RevokeRefreshFamily revoked %d, want 2", n)
	}
	gone = append(gone, held{a, root}, held{a, child})

	got, err := m.Purge(ctx(t), before)
	noErr(t, "Purge", err)
	if want := (store.PurgeResult{RefreshTokens: int64(len(gone))}); got != want {
		t.Errorf("Purge deleted %+v, want %+v", got, want)
	}
	for _, g := range gone {
		wantNoRefresh(t, "RefreshTokenByHash of a purged token", g.h, g.tok.TokenHash)
	}
	for _, k := range kept {
		checkRefreshToken(t, "refresh token kept", readRefresh(t, k.h, k.tok.TokenHash), k.tok)
	}

	// A second run deletes nothing, nor does a run with every other cut-off but this
	// one (the zero time skips refresh tokens).
	got, err = m.Purge(ctx(t), before)
	noErr(t, "Purge again", err)
	if got != (store.PurgeResult{}) {
		t.Errorf("second Purge deleted %+v, want nothing", got)
	}
	got, err = m.Purge(ctx(t), store.PurgeBefore{Sessions: cut, TOTPSteps: cut, Tokens: cut})
	noErr(t, "Purge without the refresh-token cut-off", err)
	if got.RefreshTokens != 0 {
		t.Errorf("Purge without the refresh-token cut-off deleted %d refresh tokens", got.RefreshTokens)
	}
	for _, k := range kept {
		checkRefreshToken(t, "refresh token kept after more purges", readRefresh(t, k.h, k.tok.TokenHash), k.tok)
	}

	// Once every family has ended, the rest goes too.
	got, err = m.Purge(ctx(t), store.PurgeBefore{RefreshTokens: far})
	noErr(t, "Purge after every family ended", err)
	if got.RefreshTokens != int64(len(kept)) {
		t.Errorf("Purge after every family ended deleted %d refresh tokens, want %d", got.RefreshTokens, len(kept))
	}
}

// testActiveSessions: the count spans tenants and takes only the sessions live at
// the instant asked: not pending, created by then, neither expired nor revoked by
// then. The test works in 1995, before anything other tests create, so the count is
// exactly its own sessions whatever the database holds.
func testActiveSessions(t *testing.T, st store.Store) {
	m := st.Maintenance()
	now := time.Date(1995, 5, 5, 12, 0, 0, 987654321, time.UTC)
	count := func(at time.Time) int64 {
		t.Helper()
		n, err := m.ActiveSessions(ctx(t), at)
		noErr(t, "ActiveSessions", err)
		return n
	}
	if n := count(now); n != 0 {
		t.Fatalf("ActiveSessions in 1995 before the test = %d, want 0", n)
	}
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	ua, ub := newUser(t, a), newUser(t, b)
	session := func(h store.TenantHandle, userID string, created, expires, revoked time.Time, pending bool) {
		t.Helper()
		s := store.Session{ID: "se-" + randHex(6), UserID: userID, TokenHash: randBytes(32), AuthMethods: []string{"pwd"},
			CreatedAt: created, ExpiresAt: expires, RevokedAt: revoked, Pending: pending}
		noErr(t, "CreateSession", h.Sessions().CreateSession(ctx(t), s))
	}
	var never time.Time
	hour := time.Hour
	session(a, ua.ID, now.Add(-hour), now.Add(hour), never, false)                // live
	session(b, ub.ID, now.Add(-hour), now.Add(hour), now.Add(time.Minute), false) // live, other tenant, revoked later
	session(a, ua.ID, now.Add(-hour), now, never, false)                          // expires at now: gone
	session(a, ua.ID, now.Add(-hour), now.Add(hour), now, false)                  // revoked at now: gone
	session(b, ub.ID, now.Add(-hour), now.Add(hour), never, true)                 // pending: not a sign-in yet
	session(a, ua.ID, now.Add(time.Nanosecond), now.Add(hour), never, false)      // created after now
	if n := count(now); n != 2 {
		t.Errorf("ActiveSessions = %d, want 2 (one live per tenant)", n)
	}
	if n := count(now.Add(time.Minute)); n != 2 {
		t.Errorf("ActiveSessions a minute later = %d, want 2 (one revoked, one created since)", n)
	}
	if n := count(now.Add(2 * hour)); n != 0 {
		t.Errorf("ActiveSessions after every expiry = %d, want 0", n)
	}
}
