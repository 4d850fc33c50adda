// Package testdb gives tests a real store to run use cases on: a fresh SQLite file per
// test, and workspaces in it.
package testdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

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
