package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// tenantStore is the tenant registry: the only table read without a tenant id.
type tenantStore struct{ s *Store }

// CreateTenant inserts the tenant and its hosts in one transaction, so a taken host
// leaves no half-created tenant behind.
func (ts tenantStore) CreateTenant(ctx context.Context, t store.Tenant) error {
	s := ts.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tenants (id, slug, name, created_at) VALUES (?, ?, ?, ?)`),
			t.ID, t.Slug, t.Name, timeArg(t.CreatedAt)); err != nil {
			return err
		}
		for _, h := range uniqueHosts(t.Hosts) {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tenant_hosts (host, tenant_id) VALUES (?, ?)`), h, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// uniqueHosts drops repeats so that listing a host twice is not a conflict with itself.
func uniqueHosts(hosts []string) []string {
	out := slices.Clone(hosts)
	slices.Sort(out)
	return slices.Compact(out)
}

func (ts tenantStore) TenantByID(ctx context.Context, id string) (store.Tenant, error) {
	return ts.one(ctx, `SELECT id, slug, name, created_at FROM tenants WHERE id = ?`, id)
}

func (ts tenantStore) TenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	return ts.one(ctx, `SELECT id, slug, name, created_at FROM tenants WHERE slug = ?`, slug)
}

func (ts tenantStore) TenantByHost(ctx context.Context, host string) (store.Tenant, error) {
	return ts.one(ctx, `SELECT t.id, t.slug, t.name, t.created_at FROM tenants t
		JOIN tenant_hosts h ON h.tenant_id = t.id WHERE h.host = ?`, host)
}

// one reads a single tenant and its hosts.
func (ts tenantStore) one(ctx context.Context, query string, arg string) (store.Tenant, error) {
	s := ts.s
	var t store.Tenant
	var created sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(query), arg).Scan(&t.ID, &t.Slug, &t.Name, &created)
	if err != nil {
		return store.Tenant{}, mapErr(err)
	}
	t.CreatedAt = timeOf(created)
	hosts, err := ts.hosts(ctx, `SELECT host, tenant_id FROM tenant_hosts WHERE tenant_id = ? ORDER BY host`, t.ID)
	if err != nil {
		return store.Tenant{}, err
	}
	t.Hosts = hosts[t.ID]
	return t, nil
}

// ListTenants returns every tenant ordered by slug. The registry is small (one row per
// workspace), so reading all hosts in a second query is cheaper than a query per tenant.
func (ts tenantStore) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	s := ts.s
	rows, err := s.db.QueryContext(ctx, `SELECT id, slug, name, created_at FROM tenants ORDER BY slug`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		var t store.Tenant
		var created sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Slug, &t.Name, &created); err != nil {
			return nil, mapErr(err)
		}
		t.CreatedAt = timeOf(created)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	hosts, err := ts.hosts(ctx, `SELECT host, tenant_id FROM tenant_hosts ORDER BY host`)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Hosts = hosts[out[i].ID]
	}
	return out, nil
}

// hosts groups (host, tenant_id) rows by tenant id.
func (ts tenantStore) hosts(ctx context.Context, query string, args ...any) (map[string][]string, error) {
	s := ts.s
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var host, tenantID string
		if err := rows.Scan(&host, &tenantID); err != nil {
			return nil, mapErr(err)
		}
		out[tenantID] = append(out[tenantID], host)
	}
	return out, mapErr(rows.Err())
}

// Interface guards
var _ store.TenantStore = tenantStore{}
