package sqlstore

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestUpgradeToSecondFactors builds a version-2 database with a session in it, then
// opens it with this build: migration 3 must apply on top of existing rows, and the
// old session must read back as a complete (not pending) sign-in.
func TestUpgradeToSecondFactors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		old, err := open(t.Context(), dsn, 2)
		if err != nil {
			t.Fatalf("open at version 2: %v", err)
		}
		h := newTenant(t, old)
		insertOldUser(t, old, h.TenantID(), "u1", "a@example.test")
		// The version-2 column list: CreateSession of this build would name "pending".
		if _, err := old.db.ExecContext(t.Context(), old.q(`INSERT INTO sessions
			(id, tenant_id, user_id, token_hash, auth_methods, created_at, expires_at, last_active, revoked_at, ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			"s1", h.TenantID(), "u1", randBytes(32), `["pwd"]`, int64(1), time.Now().Add(time.Hour).UnixNano(), nil, nil, "", ""); err != nil {
			t.Fatalf("inserting a version-2 session: %v", err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openT(t, dsn)
		th := s.Tenant(h.TenantID())
		sess, err := th.Sessions().SessionByID(t.Context(), "s1")
		if err != nil || sess.Pending {
			t.Fatalf("old session after upgrade: pending=%v, %v; want a complete session", sess.Pending, err)
		}
		// The new tables work on the upgraded database.
		if err := th.TOTP().UseTOTPStep(t.Context(), "u1", 1, time.Now()); err != nil {
			t.Fatalf("UseTOTPStep after upgrade: %v", err)
		}
		if set, err := th.Settings().SecuritySettings(t.Context()); err != nil || set != (store.SecuritySettings{}) {
			t.Fatalf("SecuritySettings after upgrade: %+v, %v", set, err)
		}
	})
}

// TestUpgradeToSessionDetails builds a version-8 database with a session and a setup
// token in it, then opens it with this build: migration 9 must apply on top of them,
// the session read back with no last IP and no verification time, the token with no
// subject, and both keep working.
func TestUpgradeToSessionDetails(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		old, err := open(t.Context(), dsn, 8)
		if err != nil {
			t.Fatalf("open at version 8: %v", err)
		}
		h := newTenant(t, old)
		insertOldUser(t, old, h.TenantID(), "u1", "a@example.test")
		created := time.Now().Add(-time.Hour).UTC()
		if _, err := old.db.ExecContext(t.Context(), old.q(`INSERT INTO sessions
			(id, tenant_id, user_id, token_hash, auth_methods, created_at, expires_at, last_active, revoked_at, ip, user_agent, pending)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			"s1", h.TenantID(), "u1", randBytes(32), `["pwd"]`, created.UnixNano(), time.Now().Add(time.Hour).UnixNano(),
			created.UnixNano(), nil, "192.0.2.1", "", false); err != nil {
			t.Fatalf("inserting a version-8 session: %v", err)
		}
		hash := randBytes(32)
		if _, err := old.db.ExecContext(t.Context(), old.q(`INSERT INTO one_time_tokens (tenant_id, purpose, token_hash, expires_at)
			VALUES (?, ?, ?, ?)`), h.TenantID(), "setup", hash, time.Now().Add(time.Hour).UnixNano()); err != nil {
			t.Fatalf("inserting a version-8 token: %v", err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openT(t, dsn)
		th := s.Tenant(h.TenantID())
		sess, err := th.Sessions().SessionByID(t.Context(), "s1")
		if err != nil || sess.LastIP != "" || !sess.VerifiedAt.IsZero() || sess.IP != "192.0.2.1" {
			t.Fatalf("old session after upgrade: %+v, %v; want no last IP, zero VerifiedAt", sess, err)
		}
		if err := th.Sessions().TouchSession(t.Context(), "s1", time.Now(), "198.51.100.1"); err != nil {
			t.Fatalf("TouchSession after upgrade: %v", err)
		}
		if sess, _ := th.Sessions().SessionByID(t.Context(), "s1"); sess.LastIP != "198.51.100.1" {
			t.Fatalf("LastIP after a touch: %q", sess.LastIP)
		}
		if subject, err := th.OneTimeTokens().CheckOneTimeToken(t.Context(), "setup", hash, time.Now()); err != nil || subject != "" {
			t.Fatalf("old token after upgrade: %q, %v; want live, no subject", subject, err)
		}
		if subject, err := th.OneTimeTokens().ConsumeOneTimeToken(t.Context(), "setup", hash, time.Now()); err != nil || subject != "" {
			t.Fatalf("ConsumeOneTimeToken of the old token: %q, %v", subject, err)
		}
		if ok, err := s.Maintenance().AcquireLease(t.Context(), "purge", "me", time.Minute, time.Now()); !ok || err != nil {
			t.Fatalf("AcquireLease after upgrade: %v, %v", ok, err)
		}
	})
}

// TestUpgradeToTokens builds a version-9 database with a user, a session and a
// one-time token in it, then opens it with this build: migration 10 must apply on top
// of them, the old rows keep working, and the new tables (signing keys, refresh
// tokens and their purge) work on the upgraded database.
func TestUpgradeToTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		old, err := open(t.Context(), dsn, 9)
		if err != nil {
			t.Fatalf("open at version 9: %v", err)
		}
		h := newTenant(t, old)
		insertOldUser(t, old, h.TenantID(), "u1", "a@example.test")
		now := time.Now().UTC()
		sess := store.Session{ID: "s1", UserID: "u1", TokenHash: randBytes(32), AuthMethods: []string{"pwd"},
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastActive: now}
		if err := old.Tenant(h.TenantID()).Sessions().CreateSession(t.Context(), sess); err != nil {
			t.Fatalf("creating a version-9 session: %v", err)
		}
		hash := randBytes(32)
		if err := old.Tenant(h.TenantID()).OneTimeTokens().CreateOneTimeToken(t.Context(), "reset", hash, "u1", now.Add(time.Hour)); err != nil {
			t.Fatalf("creating a version-9 token: %v", err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := openT(t, dsn)
		th := s.Tenant(h.TenantID())
		if got, err := th.Sessions().SessionByID(t.Context(), "s1"); err != nil || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Fatalf("old session after upgrade: %+v, %v", got, err)
		}
		if subject, err := th.OneTimeTokens().ConsumeOneTimeToken(t.Context(), "reset", hash, now); err != nil || subject != "u1" {
			t.Fatalf("old token after upgrade: %q, %v", subject, err)
		}

		key := store.SigningKey{KID: "k1", Algorithm: "ES256", PublicKey: randBytes(91), PrivateKey: randBytes(150),
			SealKeyID: "fk1", CreatedAt: now, ActivatesAt: now}
		if err := s.SigningKeys().CreateSigningKey(t.Context(), key); err != nil {
			t.Fatalf("CreateSigningKey after upgrade: %v", err)
		}
		if keys, err := s.SigningKeys().ListSigningKeys(t.Context()); err != nil || len(keys) != 1 || keys[0].KID != "k1" {
			t.Fatalf("ListSigningKeys after upgrade: %+v, %v", keys, err)
		}
		root := store.RefreshToken{ID: "r1", FamilyID: "f1", SessionID: "s1", UserID: "u1", TokenHash: randBytes(32),
			CreatedAt: now, ExpiresAt: sess.ExpiresAt}
		if err := th.RefreshTokens().CreateRefreshToken(t.Context(), root); err != nil {
			t.Fatalf("CreateRefreshToken after upgrade: %v", err)
		}
		child := store.RefreshToken{ID: "r2", FamilyID: "f1", ParentID: "r1", SessionID: "s1", UserID: "u1",
			TokenHash: randBytes(32), CreatedAt: now, ExpiresAt: sess.ExpiresAt}
		if ok, err := th.RefreshTokens().RotateRefreshToken(t.Context(), "r1", child, now); !ok || err != nil {
			t.Fatalf("RotateRefreshToken after upgrade: %v, %v", ok, err)
		}
		if live, err := th.RefreshTokens().LiveRefreshSessions(t.Context(), "u1", now); err != nil || len(live) != 1 || live[0] != "s1" {
			t.Fatalf("LiveRefreshSessions after upgrade: %v, %v", live, err)
		}
		if n, err := th.RefreshTokens().RevokeRefreshFamily(t.Context(), "f1", now); err != nil || n != 2 {
			t.Fatalf("RevokeRefreshFamily after upgrade: %d, %v", n, err)
		}
		got, err := s.Maintenance().Purge(t.Context(), store.PurgeBefore{RefreshTokens: now.Add(time.Nanosecond)})
		if err != nil || got != (store.PurgeResult{RefreshTokens: 2}) {
			t.Fatalf("Purge after upgrade: %+v, %v", got, err)
		}
	})
}

// insertOldUser adds a user with the column list of schema version 1, which every older
// database has (CreateUser of this build names newer columns).
func insertOldUser(t *testing.T, s *Store, tenantID, id, email string) {
	t.Helper()
	if _, err := s.db.ExecContext(t.Context(), s.q(`INSERT INTO users
		(id, tenant_id, email, display_name, password_hash, status, roles, teams, created_at, last_login_at)
		VALUES (?, ?, ?, '', '', 'active', '[]', '[]', NULL, NULL)`), id, tenantID, email); err != nil {
		t.Fatalf("inserting an old-schema user: %v", err)
	}
}
