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
