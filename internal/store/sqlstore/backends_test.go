package sqlstore

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// backend names a database the tests run against. Each newDSN call returns the DSN of
// a fresh, empty database (a temporary SQLite file, or a new PostgreSQL schema dropped
// at the end of the test); tests that open one database twice reuse the string.
type backend struct {
	name   string
	newDSN func(t *testing.T) string
}

var backends = []backend{
	{"SQLite", sqliteDSN},
	{"Postgres", postgresDSN},
}

// sqliteDSN returns a DSN for a new SQLite file in the test's temporary directory.
func sqliteDSN(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")
}

// postgresDSN returns a DSN for a fresh schema on the test PostgreSQL server (see
// testpg: unreachable skips locally and fails in CI).
func postgresDSN(t *testing.T) string { return testpg.DSN(t) }

func rand16() string { return fmt.Sprintf("%x", randBytes(8)) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return b
}

// openT opens dsn and closes the store when the test ends.
func openT(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func TestConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t) // one database for the whole suite: Open re-runs migrations as a no-op
		storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t, dsn) })
	})
	t.Run("SQLiteMemory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t, "sqlite::memory:") })
	})
}

// mustOpen opens a store that storetest.Run will close.
func mustOpen(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}
