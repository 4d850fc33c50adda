// Package testenv holds the helpers the tests of several packages share: a real store
// to run use cases on, and the rule for tests that need a service or tool this machine
// may lack (skip with the reason outside CI; fail in CI, where nothing may skip).
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

// CI tells whether the tests run in CI (the CI variable is set): there, a missing
// service or tool is a failure, never a skip.
func CI() bool { return os.Getenv("CI") != "" }

// Need stops a test that cannot run here: outside CI it is skipped with why, in CI it
// fails.
func Need(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skipf("skipping outside CI: %s (in CI this fails)", why)
}

// Short skips a slow test (end to end, real browser, real servers) under go test
// -short, the fast loop; `make test` and CI run it.
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: not in the -short loop (make test and CI run it)", what)
	}
}

// Store opens a fresh SQLite store in the test's temporary directory.
func Store(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Workspace creates a tenant with slug in st and returns it with its handle.
func Workspace(t testing.TB, st store.Store, slug string) store.Workspace {
	t.Helper()
	tn := store.Tenant{ID: secret.NewID(), Slug: slug, Name: "Workspace " + slug, CreatedAt: time.Now()}
	if err := st.Tenants().CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return store.Workspace{Tenant: tn, TenantHandle: st.Tenant(tn.ID)}
}
