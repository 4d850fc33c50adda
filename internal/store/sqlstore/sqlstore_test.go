package sqlstore

import (
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

func newTenant(t *testing.T, s *Store) store.TenantHandle {
	t.Helper()
	id := "tn-" + rand16()
	if err := s.Tenants().CreateTenant(t.Context(), store.Tenant{ID: id, Slug: "s-" + rand16(), Name: "T"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return s.Tenant(id)
}

// TestAuditAppendOnly checks that the database itself refuses to change or remove
// audit rows, whatever code (or person) issues the statement.
func TestAuditAppendOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		if _, err := h.Audit().Append(t.Context(), store.AuditRecord{Action: "a"}, storetest.ChainHash); err != nil {
			t.Fatalf("Append: %v", err)
		}
		stmts := []string{
			"UPDATE audit_log SET action = 'forged'",
			"UPDATE audit_log SET seq = 2",
			"DELETE FROM audit_log",
		}
		if s.dialect == postgresDialect {
			stmts = append(stmts, "TRUNCATE audit_log")
		}
		for _, q := range stmts {
			_, err := s.db.ExecContext(t.Context(), q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: got %v, want the append-only refusal", q, err)
			}
		}
		list, err := h.Audit().ListAudit(t.Context(), 0, 10)
		if err != nil || len(list) != 1 || list[0].Action != "a" {
			t.Fatalf("audit rows after refused changes: %+v, %v", list, err)
		}

		// The signed checkpoints that vouch for the trail are append-only too.
		cp := store.AuditCheckpoint{Seq: 1, Hash: list[0].Hash, Time: time.Now(), KeyID: "k1", Signature: []byte{1, 2, 3}}
		if err := h.Checkpoints().AddCheckpoint(t.Context(), cp); err != nil {
			t.Fatalf("AddCheckpoint: %v", err)
		}
		stmts = []string{
			"UPDATE audit_checkpoints SET hash = X'00'",
			"UPDATE audit_checkpoints SET seq = 2",
			"DELETE FROM audit_checkpoints",
		}
		if s.dialect == postgresDialect {
			stmts = []string{
				"UPDATE audit_checkpoints SET hash = '\\x00'",
				"UPDATE audit_checkpoints SET seq = 2",
				"DELETE FROM audit_checkpoints",
				"TRUNCATE audit_checkpoints",
			}
		}
		for _, q := range stmts {
			_, err := s.db.ExecContext(t.Context(), q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: got %v, want the append-only refusal", q, err)
			}
		}
	})
}

// TestMigrationsIdempotent opens the same database repeatedly, one after another and
// at the same time; each Open must find the schema current and keep the data.
func TestMigrationsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				s, err := Open(t.Context(), dsn)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open of a fresh database: %v", err)
			}
		}
		s1 := openT(t, dsn)
		h := newTenant(t, s1)
		s2 := openT(t, dsn)
		if n, err := s2.Tenant(h.TenantID()).Users().CountUsers(t.Context()); err != nil || n != 0 {
			t.Fatalf("second Open: CountUsers = %d, %v", n, err)
		}
		if _, err := s2.Tenants().TenantByID(t.Context(), h.TenantID()); err != nil {
			t.Fatalf("tenant lost across Open: %v", err)
		}
		all, _ := migrations(s1.dialect)
		var n int
		if err := s1.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(all) {
			t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(all))
		}
	})
}

// TestNewerSchemaRefused: a build must not run on a schema migrated by a newer one.
func TestNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s := openT(t, dsn)
		if _, err := s.db.ExecContext(t.Context(), s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			int64(99999), "from_the_future", int64(0)); err != nil {
			t.Fatal(err)
		}
		if s2, err := Open(t.Context(), dsn); err == nil {
			s2.Close()
			t.Fatal("Open accepted a database with an unknown schema version")
		}
	})
}

// TestTwoStoresOneChain: two Store instances (as two gateway processes would be) append
// to one tenant's trail concurrently; the chain must stay single and gap-free.
func TestTwoStoresOneChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		id := newTenant(t, s1).TenantID()
		const perStore, each = 25, 2
		var wg sync.WaitGroup
		errs := make(chan error, 2*perStore*each)
		for _, s := range []*Store{s1, s2} {
			h := s.Tenant(id)
			for g := range perStore {
				wg.Go(func() {
					for i := range each {
						r := store.AuditRecord{Time: time.Now(), Action: "test.append", Target: strings.Repeat("x", g+i)}
						if _, err := h.Audit().Append(t.Context(), r, storetest.ChainHash); err != nil {
							errs <- err
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Append: %v", err)
		}
		storetest.VerifyChain(t, s2.Tenant(id), 2*perStore*each)
	})
}

// TestForeignKeys: tenant data cannot be created for a tenant or user that does not
// exist; the backend reports the missing parent as ErrNotFound.
func TestForeignKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		ghost := s.Tenant("tn-ghost-" + rand16())
		err := ghost.Users().CreateUser(t.Context(), store.User{ID: "u1", Email: "a@example.test", Status: store.UserActive})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateUser in unknown tenant: %v, want ErrNotFound", err)
		}
		h := newTenant(t, s)
		err = h.Sessions().CreateSession(t.Context(), store.Session{ID: "s1", UserID: "nobody", TokenHash: randBytes(32), ExpiresAt: time.Now().Add(time.Hour)})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateSession for unknown user: %v, want ErrNotFound", err)
		}
		if _, err := ghost.Audit().Append(t.Context(), store.AuditRecord{Action: "x"}, storetest.ChainHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Append in unknown tenant: %v, want ErrNotFound", err)
		}
		// Second factors belong to an existing user, settings to an existing tenant.
		now := time.Now()
		factorWrites := map[string]error{
			"PutPendingTOTP for unknown user":       h.TOTP().PutPendingTOTP(t.Context(), store.TOTPSecret{UserID: "nobody", Ciphertext: randBytes(40), KeyID: "k"}),
			"UseTOTPStep for unknown user":          h.TOTP().UseTOTPStep(t.Context(), "nobody", 1, now),
			"ReplaceRecoveryCodes for unknown user": h.RecoveryCodes().ReplaceRecoveryCodes(t.Context(), "nobody", [][]byte{randBytes(32)}, now),
			"AddPasskey for unknown user": h.Passkeys().AddPasskey(t.Context(), store.Passkey{ID: "p1", UserID: "nobody",
				CredentialID: randBytes(32), PublicKey: randBytes(40)}),
			"PutSecuritySettings in unknown tenant": ghost.Settings().PutSecuritySettings(t.Context(), store.SecuritySettings{Require2FA: true}),
			"CreateRefreshToken for unknown user": h.RefreshTokens().CreateRefreshToken(t.Context(), store.RefreshToken{ID: "r1",
				FamilyID: "f1", SessionID: "s1", UserID: "nobody", TokenHash: randBytes(32), ExpiresAt: now.Add(time.Hour)}),
			"CreateRefreshToken in unknown tenant": ghost.RefreshTokens().CreateRefreshToken(t.Context(), store.RefreshToken{ID: "r1",
				FamilyID: "f1", SessionID: "s1", UserID: "u1", TokenHash: randBytes(32), ExpiresAt: now.Add(time.Hour)}),
		}
		for what, err := range factorWrites {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
			}
		}
	})
}

// TestTimesExact: nanosecond precision survives, and times come back in UTC.
func TestTimesExact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		at := time.Date(2031, 7, 8, 9, 10, 11, 987654321, time.FixedZone("X", -7*3600))
		u := store.User{ID: "u1", Email: "a@example.test", Status: store.UserActive, CreatedAt: at}
		if err := h.Users().CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		got, err := h.Users().UserByID(t.Context(), "u1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(at) || got.CreatedAt.Location() != time.UTC || !got.LastLoginAt.IsZero() {
			t.Fatalf("CreatedAt %v (%v), LastLoginAt %v; want %v in UTC and zero", got.CreatedAt, got.CreatedAt.Location(), got.LastLoginAt, at)
		}
	})
}

// TestSQLitePragmas: every pooled connection runs with WAL, foreign keys and a busy
// timeout (they are per-connection settings, so they must come from the DSN).
func TestSQLitePragmas(t *testing.T) {
	s := openT(t, sqliteDSN(t))
	conns := make([]*sql.Conn, 3) // distinct connections from the pool
	for i := range conns {
		c, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		var mode string
		var fk, busy int
		if err := c.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(mode, "wal") || fk != 1 || busy != int(sqliteBusyTimeout.Milliseconds()) {
			t.Errorf("connection %d: journal_mode=%s foreign_keys=%d busy_timeout=%d", i, mode, fk, busy)
		}
	}
}
