package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrUnknownTenant: no tenant serves this host (or the configured slug does not exist).
var ErrUnknownTenant = errors.New("unknown tenant")

// TenantResolver finds the workspace of a request.
type TenantResolver interface {
	Resolve(ctx context.Context, host string) (store.Workspace, error)
}

// Registry is where tenants are looked up (a store.Store is one).
type Registry interface {
	Tenants() store.TenantStore
	Tenant(tenantID string) store.TenantHandle
}

// Directory caches tenant lookups for the request path, by slug and by host, misses
// included (so unknown hosts cannot hammer the store), for TTL. Forget drops it all,
// for a change this instance made (a workspace renamed); other instances see changes
// within TTL.
type Directory struct {
	Store Registry
	TTL   time.Duration
	Now   func() time.Time

	mu     sync.RWMutex
	bySlug map[string]dirEntry
	byHost map[string]dirEntry
}

type dirEntry struct {
	ws      store.Workspace // the tenant with its handle, built once per lookup (not per request)
	found   bool
	expires time.Time
}

// maxDirectory bounds the cache; beyond it one entry is evicted per insert.
const maxDirectory = 10_000

// BySlug finds the tenant with slug.
func (d *Directory) BySlug(ctx context.Context, slug string) (store.Workspace, error) {
	return d.lookup(ctx, false, slug)
}

// ByHost finds the tenant that registered host (lowercase, port removed).
func (d *Directory) ByHost(ctx context.Context, host string) (store.Workspace, error) {
	return d.lookup(ctx, true, strings.ToLower(stripPort(host)))
}

// lookup answers from the cache when it can: on the request path that is a read lock
// and a map lookup, without allocating.
func (d *Directory) lookup(ctx context.Context, byHost bool, key string) (store.Workspace, error) {
	now := d.Now()
	d.mu.RLock()
	e, ok := d.byHost[key]
	if !byHost {
		e, ok = d.bySlug[key]
	}
	d.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var t store.Tenant
		var err error
		if byHost {
			t, err = d.Store.Tenants().TenantByHost(ctx, key)
		} else {
			t, err = d.Store.Tenants().TenantBySlug(ctx, key)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = dirEntry{expires: now.Add(d.TTL)}
		case err != nil && ok && e.found:
			// The store is down: keep the tenant we knew (public routes keep working;
			// protected ones fail closed on the session lookup anyway).
			e.expires = now.Add(min(d.TTL, 5*time.Second))
		case err != nil:
			return store.Workspace{}, fmt.Errorf("resolving tenant %q: %w", key, err)
		default:
			e = dirEntry{ws: store.Workspace{Tenant: t, TenantHandle: d.Store.Tenant(t.ID)}, found: true, expires: now.Add(d.TTL)}
		}
		d.mu.Lock()
		if d.bySlug == nil {
			d.bySlug, d.byHost = make(map[string]dirEntry), make(map[string]dirEntry)
		}
		m := d.bySlug
		if byHost {
			m = d.byHost
		}
		if len(m) >= maxDirectory {
			// Evict one entry (map order is arbitrary), preferring a miss, so a flood of
			// random subdomains cannot empty the cache of real tenants.
			victim := ""
			for k, old := range m {
				if victim = k; !old.found {
					break
				}
			}
			delete(m, victim)
		}
		m[key] = e
		d.mu.Unlock()
	}
	if !e.found {
		return store.Workspace{}, ErrUnknownTenant
	}
	return e.ws, nil
}

// Forget drops every cached answer.
func (d *Directory) Forget() {
	d.mu.Lock()
	d.bySlug, d.byHost = nil, nil
	d.mu.Unlock()
}

// StaticTenant resolves every request to one tenant (Caddyfile `tenant acme`).
type StaticTenant struct {
	Dir  *Directory
	Slug string
}

// Resolve returns the configured tenant.
func (s StaticTenant) Resolve(ctx context.Context, _ string) (store.Workspace, error) {
	return s.Dir.BySlug(ctx, s.Slug)
}

// HostTenants resolves the tenant from the request host among the hosts registered
// with the tenants (`gatehouse tenant create --host`).
type HostTenants struct{ Dir *Directory }

// Resolve looks the host up.
func (h HostTenants) Resolve(ctx context.Context, host string) (store.Workspace, error) {
	return h.Dir.ByHost(ctx, host)
}

func stripPort(host string) string {
	if strings.IndexByte(host, ':') < 0 {
		return host // the common case; SplitHostPort would allocate an error
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}
