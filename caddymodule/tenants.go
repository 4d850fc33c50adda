package caddymodule

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultTenantSlug is the tenant created on first run.
const DefaultTenantSlug = "default"

// ensureDefaultTenant creates the default tenant when the store has no tenant at all and
// returns it; when other tenants exist but not the default one it returns a zero Tenant.
func ensureDefaultTenant(ctx context.Context, st store.Store, clk clock.Clock) (store.Tenant, error) {
	t, err := st.Tenants().TenantBySlug(ctx, DefaultTenantSlug)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, fmt.Errorf("looking up default tenant: %w", err)
	}
	all, err := st.Tenants().ListTenants(ctx)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("listing tenants: %w", err)
	}
	if len(all) > 0 {
		return store.Tenant{}, nil
	}
	t = store.Tenant{ID: secret.NewID(), Slug: DefaultTenantSlug, Name: "Gatehouse", CreatedAt: clk.Now()}
	if err := st.Tenants().CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) { // another instance won the race
			return st.Tenants().TenantBySlug(ctx, DefaultTenantSlug)
		}
		return store.Tenant{}, fmt.Errorf("creating default tenant: %w", err)
	}
	return t, nil
}
