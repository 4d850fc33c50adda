package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestBackupUnderLoad: a backup taken while writers append audit records is one
// consistent commit of the database: restored elsewhere, it opens, the chain of every
// trail verifies, and it holds what was committed before the backup began. The file is
// private (0600).
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, "sqlite://"+filepath.Join(dir, "live.db"))
	h := newTenant(t, s)
	const before = 50
	for range before {
		if _, err := h.Audit().Append(t.Context(), store.AuditRecord{Action: "seed"}, storetest.ChainHash); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var written atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := h.Audit().AppendBatch(ctx, []store.AuditRecord{{Action: "load"}, {Action: "load"}}, storetest.ChainHash)
				if err != nil && ctx.Err() == nil {
					t.Errorf("AppendBatch during the backup: %v", err)
					return
				}
				written.Add(2)
			}
		})
	}
	for written.Load() < 100 { // the writers are well under way
		time.Sleep(time.Millisecond)
	}
	out := filepath.Join(dir, "copy.db")
	err := s.Backup(t.Context(), out)
	afterBackup := written.Load()
	for written.Load() < afterBackup+50 { // and still writing after it
		time.Sleep(time.Millisecond)
	}
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := s.Backup(t.Context(), out); !errors.Is(err, os.ErrExist) {
		t.Errorf("Backup over an existing file: %v, want os.ErrExist", err)
	}

	restored := "sqlite://" + filepath.Join(t.TempDir(), "restored", "gatehouse.db")
	r, err := Restore(t.Context(), restored, out, time.Now())
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if r.Aside != "" || r.Version < 17 {
		t.Errorf("Restore into an empty place: %+v", r)
	}
	c := openT(t, restored)
	all := verifyWholeChain(t, c.Tenant(h.TenantID()))
	if n := int64(len(all)); n < before+100 || n > before+afterBackup {
		t.Errorf("the copy holds %d records; want at least %d (committed before it began) and at most %d", n, before+100, before+afterBackup)
	}
	if n := len(verifyWholeChain(t, h)); n <= len(all) {
		t.Errorf("the live store has %d records, the copy %d: the writers did not run past the backup", n, len(all))
	}
}

// TestBackupPostgresRefused: a PostgreSQL store has no built-in backup (pg_dump and
// point-in-time recovery do it), and Restore does not touch one.
func TestBackupPostgresRefused(t *testing.T) {
	dsn := postgresDSN(t)
	s := openT(t, dsn)
	if err := s.Backup(t.Context(), filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, ErrBackupUnsupported) {
		t.Errorf("Backup: %v, want ErrBackupUnsupported", err)
	}
	if _, err := Restore(t.Context(), dsn, filepath.Join(t.TempDir(), "x.db"), time.Now()); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("Restore: %v, want a refusal that names pg_dump", err)
	}
}

// TestRestoreRefusesStoreInUse: while a process has the store open (as a running
// gateway does), Restore refuses and changes nothing; once it is closed, Restore
// replaces the database and keeps the old one aside, whose latest commits (possibly
// still in its WAL) are intact. While a restore holds the store, Open refuses.
func TestRestoreRefusesStoreInUse(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "gatehouse.db")
	src := openT(t, "sqlite://"+filepath.Join(dir, "src.db"))
	srcTenant := newTenant(t, src)
	backup := filepath.Join(dir, "backup.db")
	if err := src.Backup(t.Context(), backup); err != nil {
		t.Fatalf("Backup: %v", err)
	}

	live, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	liveTenant := newTenant(t, live)
	_, err = Restore(t.Context(), dsn, backup, time.Now())
	if !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("Restore while the store is open: %v, want ErrStoreInUse", err)
	}
	if _, err := live.Tenants().TenantByID(t.Context(), liveTenant.TenantID()); err != nil {
		t.Fatalf("the open store after a refused restore: %v", err)
	}
	live.Close()

	// A restore in progress (holding the lock) keeps gateways out.
	lock, err := takeExclusive(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatalf("takeExclusive: %v", err)
	}
	if _, err := Open(t.Context(), dsn); !errors.Is(err, ErrRestoring) {
		t.Errorf("Open during a restore: %v, want ErrRestoring", err)
	}
	lock.Close()

	now := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	r, err := Restore(t.Context(), dsn, backup, now)
	if err != nil {
		t.Fatalf("Restore of a closed store: %v", err)
	}
	if want := filepath.Join(dir, "gatehouse.db.before-restore-20261201T170000Z"); r.Aside != want {
		t.Errorf("Aside = %q, want %q", r.Aside, want)
	}
	got := openT(t, dsn)
	if _, err := got.Tenants().TenantByID(t.Context(), srcTenant.TenantID()); err != nil {
		t.Errorf("the restored store lacks the backup's tenant: %v", err)
	}
	if _, err := got.Tenants().TenantByID(t.Context(), liveTenant.TenantID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the restored store still has the replaced one's tenant: %v", err)
	}
	old := openT(t, "sqlite://"+r.Aside)
	if _, err := old.Tenants().TenantByID(t.Context(), liveTenant.TenantID()); err != nil {
		t.Errorf("the database kept aside lost its tenant: %v", err)
	}
}

// TestRestoreRefusesForeignFiles: only an intact Gatehouse SQLite database is put in
// place; anything else is refused and the store is left as it was.
func TestRestoreRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "gatehouse.db")
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	keep := newTenant(t, s).TenantID()
	s.Close()

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sqliteWith := func(name string, stmts ...string) string {
		p := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return p
	}
	// A Gatehouse database with one page overwritten by garbage.
	src := openT(t, "sqlite://"+filepath.Join(dir, "src.db"))
	for range 200 {
		newTenant(t, src)
	}
	good := filepath.Join(dir, "good.db")
	if err := src.Backup(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := 3 * 4096; i < 4*4096 && i < len(b); i++ {
		b[i] = 0xA5
	}
	cases := map[string]string{
		"text file":                write("notes.txt", []byte(strings.Repeat("not a database\n", 400))),
		"empty file":               write("empty.db", nil),
		"other SQLite database":    sqliteWith("other.db", `CREATE TABLE t (x)`, `INSERT INTO t VALUES (1)`),
		"empty migrations table":   sqliteWith("nomig.db", `CREATE TABLE schema_migrations (version INTEGER)`),
		"newer schema":             sqliteWith("newer.db", `CREATE TABLE schema_migrations (version INTEGER)`, `INSERT INTO schema_migrations VALUES (999999)`),
		"corrupt Gatehouse backup": write("corrupt.db", b),
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Restore(t.Context(), dsn, file, time.Now())
			if !errors.Is(err, ErrNotABackup) {
				t.Fatalf("Restore: %v, want ErrNotABackup", err)
			}
			t.Log(err)
		})
	}
	if _, err := Restore(t.Context(), dsn, filepath.Join(dir, "missing.db"), time.Now()); err == nil {
		t.Error("Restore of a missing file succeeded")
	}
	after := openT(t, dsn)
	if _, err := after.Tenants().TenantByID(t.Context(), keep); err != nil {
		t.Errorf("the store after refused restores: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") || strings.Contains(e.Name(), "before-restore") {
			t.Errorf("a refused restore left %s behind", e.Name())
		}
	}
}

// verifyWholeChain checks the chain of h's whole trail, however long, and returns it.
func verifyWholeChain(t *testing.T, h store.TenantHandle) []store.AuditRecord {
	t.Helper()
	n := 0
	for after := int64(0); ; {
		page, err := h.Audit().ListAudit(t.Context(), after, 1000)
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(page) == 0 {
			break
		}
		n += len(page)
		after = page[len(page)-1].Seq
	}
	return storetest.VerifyChain(t, h, n)
}
