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
