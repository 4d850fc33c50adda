package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	// Registers the "pgx" database/sql driver.
	_ "github.com/jackc/pgx/v5/stdlib"
	// Registers the "sqlite" database/sql driver.
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Connection settings. SQLite serialises writers anyway, so a small pool avoids many
// connections spinning on the busy handler; PostgreSQL's default max_connections is
// 100, shared by every gateway instance, so one instance must not take them all.
const (
	sqliteMaxConns   = 8
	postgresMaxConns = 20
	postgresMaxIdle  = 10
	// sqliteBusyTimeout is how long a statement waits for the write lock held by
	// another connection or process before failing with SQLITE_BUSY.
	sqliteBusyTimeout = 10 * time.Second
)

// Store is a SQL backend. It implements store.Store and is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
	rebinder
	// writeMu queues this process's SQLite writers in Go. SQLite admits one writer at
	// a time, and a writer that finds the lock taken sleeps in the busy handler (for
	// up to 100 ms a try), so letting all pool connections contend turns a burst of
	// audit appends into a burst of sleeps. Other processes still meet the busy
	// timeout. Unused on PostgreSQL, which has row locks.
	writeMu sync.Mutex
	// inUse is the SQLite file's lock file, held shared while the store is open so
	// that Restore can tell that a process uses the store (see lock.go); nil otherwise.
	inUse *os.File
	// file is the SQLite database file ("" for PostgreSQL and in-memory stores).
	file string
}

// Open connects to the database named by dsn (see the package documentation for the
// formats), applies pending migrations and returns the store.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, math.MaxInt64)
}

// open is Open with migrations applied up to version upTo only (tests use it to build
// an older schema and check the upgrade).
func open(ctx context.Context, dsn string, upTo int64) (*Store, error) {
	d, driverName, driverDSN, memory, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening %s: %w", d, err)
	}
	var inUse *os.File
	switch {
	case memory:
		// Each SQLite connection to ":memory:" is its own database, so the pool must
		// hold exactly one connection and never let it go.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	case d == sqliteDialect:
		// A first run creates the store's directory (private: it holds password hashes).
		// The file itself is created 0600 before SQLite opens it (its -wal and -shm
		// files inherit the mode).
		file := strings.SplitN(driverDSN, "?", 2)[0]
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlstore: creating directory for the SQLite file: %w", err)
		}
		if inUse, err = holdInUse(file); err != nil {
			db.Close()
			return nil, err
		}
		if f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
		db.SetMaxOpenConns(sqliteMaxConns)
		db.SetMaxIdleConns(sqliteMaxConns)
	default:
		db.SetMaxOpenConns(postgresMaxConns)
		db.SetMaxIdleConns(postgresMaxIdle)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, dialect: d, rebinder: rebinder{d: d}, inUse: inUse, file: sqliteFile(driverDSN, d, memory)}
	if err := ping(ctx, db, d); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connecting to %s: %w", d, err)
	}
	if err := s.migrate(ctx, upTo); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: migrating %s schema: %w", d, err)
	}
	return s, nil
}

// parseDSN picks the backend and translates a Gatehouse DSN into the driver's own.
func parseDSN(dsn string) (d dialect, driverName, driverDSN string, memory bool, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		// pgx parses the URL itself (sslmode, search_path and other runtime
		// parameters included); a malformed one fails at Ping with pgx's message.
		return postgresDialect, "pgx", dsn, false, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == ":memory:" {
			return sqliteDialect, "sqlite", ":memory:?" + sqliteParams(false), true, nil
		}
		// "sqlite:///abs" and "sqlite://rel" both drop the "//"; "sqlite:rel" has none.
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return 0, "", "", false, errors.New("sqlstore: sqlite DSN has no file path")
		}
		// The driver reads everything after '?' as its own parameters, and Open sets
		// those; a '?' in the path would be silently misread, so refuse it.
		if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
			return 0, "", "", false, fmt.Errorf("sqlstore: sqlite DSN %q: parameters and URI file names are not supported", dsn)
		}
		return sqliteDialect, "sqlite", path + "?" + sqliteParams(true), false, nil
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	return 0, "", "", false, fmt.Errorf("sqlstore: unsupported DSN scheme %q (want sqlite: or postgres://)", scheme)
}

// ping opens the first connection. On SQLite, switching a fresh file to WAL takes a
// lock that SQLite does not wait for with its busy handler, so instances opening one
// new file at the same moment retry while it answers SQLITE_BUSY (within the busy
// timeout, as any other statement would wait).
func ping(ctx context.Context, db *sql.DB, d dialect) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for {
		err := db.PingContext(ctx)
		var le *sqlite.Error
		if err == nil || d != sqliteDialect || !errors.As(err, &le) || le.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sqliteParams are the per-connection settings passed to modernc.org/sqlite.
func sqliteParams(file bool) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	v.Add("_pragma", "foreign_keys(1)")
	if file {
		// WAL lets readers run while one writer commits. In WAL mode
		// synchronous=NORMAL may lose the last commits on power loss; a security
		// event must be durable before its response is sent (SPEC §9), so FULL.
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "synchronous(FULL)")
	}
	v.Set("_txlock", "immediate")
	return v.Encode()
}

// Tenants returns the tenant registry.
func (s *Store) Tenants() store.TenantStore { return tenantStore{s} }

// Tenant returns a handle bound to tenantID. The id is kept private in the handle and
// supplied to every statement, so no query through it can reach another tenant.
func (s *Store) Tenant(tenantID string) store.TenantHandle {
	return handle{s: s, tenantID: tenantID}
}

// Ping checks that the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close releases the connections (and then the SQLite file's in-use lock).
func (s *Store) Close() error {
	err := s.db.Close()
	if s.inUse != nil {
		s.inUse.Close() // releases the shared lock
	}
	return err
}

// sqliteFile is the database file of a SQLite file DSN, "" otherwise.
func sqliteFile(driverDSN string, d dialect, memory bool) string {
	if d != sqliteDialect || memory {
		return ""
	}
	return strings.SplitN(driverDSN, "?", 2)[0]
}

// handle is a store.TenantHandle. Each sub-store copies the tenant id out of it.
type handle struct {
	s        *Store
	tenantID string
}

func (h handle) TenantID() string                       { return h.tenantID }
func (h handle) Users() store.UserStore                 { return userStore(h) }
func (h handle) Sessions() store.SessionStore           { return sessionStore(h) }
func (h handle) Audit() store.AuditStore                { return auditStore(h) }
func (h handle) OneTimeTokens() store.OneTimeTokenStore { return tokenStore(h) }
func (h handle) TOTP() store.TOTPStore                  { return totpStore(h) }
func (h handle) RecoveryCodes() store.RecoveryCodeStore { return recoveryStore(h) }
func (h handle) Passkeys() store.PasskeyStore           { return passkeyStore(h) }
func (h handle) Settings() store.SettingsStore          { return settingsStore(h) }
func (h handle) LoginHistory() store.LoginHistoryStore  { return loginHistoryStore(h) }
func (h handle) RefreshTokens() store.RefreshTokenStore { return refreshTokenStore(h) }
func (h handle) Roles() store.RoleStore                 { return roleStore(h) }
func (h handle) Teams() store.TeamStore                 { return teamStore(h) }
func (h handle) Periods() store.PeriodStore             { return periodStore(h) }
func (h handle) Checkpoints() store.CheckpointStore     { return checkpointStore(h) }

// Interface guards
var (
	_ store.Store        = (*Store)(nil)
	_ store.TenantHandle = handle{}
)
