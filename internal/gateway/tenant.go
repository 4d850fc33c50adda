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

// ErrUnknownTenant: no tenant serves this host.
var ErrUnknownTenant = errors.New("unknown tenant")

// TenantResolver finds the tenant of a request.
type TenantResolver interface {
	Resolve(ctx context.Context, host string) (store.Tenant, store.TenantHandle, error)
}

// StaticTenant always resolves to one tenant (Caddyfile `tenant acme`).
type StaticTenant struct {
	Tenant store.Tenant
	Handle store.TenantHandle
}

// Resolve returns the configured tenant.
func (s *StaticTenant) Resolve(context.Context, string) (store.Tenant, store.TenantHandle, error) {
	return s.Tenant, s.Handle, nil
}

// HostTenants resolves the tenant from the request host among the hosts registered
// with the tenants (`gatehouse tenant create --host`). Answers are cached for TTL,
// misses included, so unknown hosts cannot hammer the store.
type HostTenants struct {
	Store store.Store
	TTL   time.Duration
	Now   func() time.Time

	mu    sync.RWMutex
	cache map[string]hostEntry
}

type hostEntry struct {
	t       store.Tenant
	found   bool
	expires time.Time
}

// maxHostCache bounds the cache; beyond it the cache is reset.
const maxHostCache = 10_000

// Resolve looks the host up (lowercase, port removed).
func (h *HostTenants) Resolve(ctx context.Context, host string) (store.Tenant, store.TenantHandle, error) {
	host = strings.ToLower(stripPort(host))
	now := h.Now()
	h.mu.RLock()
	e, ok := h.cache[host]
	h.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		t, err := h.Store.Tenants().TenantByHost(ctx, host)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = hostEntry{expires: now.Add(h.TTL)}
		case err != nil:
			return store.Tenant{}, nil, fmt.Errorf("resolving tenant of host %q: %w", host, err)
		default:
			e = hostEntry{t: t, found: true, expires: now.Add(h.TTL)}
		}
		h.mu.Lock()
		if h.cache == nil {
			h.cache = make(map[string]hostEntry)
		}
		if len(h.cache) >= maxHostCache {
			// Evict one entry (map order is arbitrary), preferring an unknown host, so a
			// flood of random subdomains cannot empty the cache of real tenants.
			victim := ""
			for k, old := range h.cache {
				if victim = k; !old.found {
					break
				}
			}
			delete(h.cache, victim)
		}
		h.cache[host] = e
		h.mu.Unlock()
	}
	if !e.found {
		return store.Tenant{}, nil, ErrUnknownTenant
	}
	return e.t, h.Store.Tenant(e.t.ID), nil
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
