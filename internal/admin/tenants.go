package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultTenantSlug is the workspace created on first run.
const DefaultTenantSlug = "default"

// Registry is the tenant registry and the way to a tenant's data (a store.Store is one).
type Registry interface {
	Tenants() store.TenantStore
	Tenant(tenantID string) store.TenantHandle
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// NewTenant describes a workspace to create.
type NewTenant struct {
	Slug, Name string
	Hosts      []string
}

// CreateTenant adds a workspace (operators: the CLI). Errors name the field.
func (s *Service) CreateTenant(ctx context.Context, reg Registry, by Admin, n NewTenant) (store.Tenant, error) {
	if !by.IsOwner() || by.UserID != audit.CLI.UserID {
		return store.Tenant{}, ErrForbidden // workspaces are an operator's business
	}
	if !slugRE.MatchString(n.Slug) {
		return store.Tenant{}, &FieldError{Field: "slug", Msg: fmt.Sprintf("%q: use 1-63 lowercase letters, digits and dashes", n.Slug)}
	}
	name := strings.TrimSpace(n.Name)
	if name == "" {
		name = n.Slug
	}
	hosts := make([]string, len(n.Hosts))
	for i, h := range n.Hosts {
		hosts[i] = strings.ToLower(strings.TrimSpace(h))
		if hosts[i] == "" || strings.ContainsAny(hosts[i], "/:@ ") {
			return store.Tenant{}, &FieldError{Field: "host", Msg: fmt.Sprintf("%q: give a bare host name such as acme.example.com", h)}
		}
	}
	t := store.Tenant{ID: secret.NewID(), Slug: n.Slug, Name: name, Hosts: hosts, CreatedAt: s.Clock.Now()}
	if err := reg.Tenants().CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Tenant{}, &FieldError{Field: "slug", Msg: fmt.Sprintf("tenant %q or one of its hosts exists already", n.Slug)}
		}
		return store.Tenant{}, err
	}
	ws := store.Workspace{Tenant: t, TenantHandle: reg.Tenant(t.ID)}
	return t, s.record(ctx, ws, by, audit.ActionTenantCreate, "tenant:"+t.Slug, nil)
}

// EnsureDefaultTenant creates the default workspace when the store has no tenant at
// all and returns it; when other tenants exist but not the default one it returns a
// zero Tenant. Several instances starting together create it once.
func EnsureDefaultTenant(ctx context.Context, reg Registry, clk clock.Clock) (store.Tenant, error) {
	t, err := reg.Tenants().TenantBySlug(ctx, DefaultTenantSlug)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, fmt.Errorf("looking up default tenant: %w", err)
	}
	all, err := reg.Tenants().ListTenants(ctx)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("listing tenants: %w", err)
	}
	for _, t := range all {
		if t.Slug == DefaultTenantSlug { // another instance created it since the lookup above
			return t, nil
		}
	}
	if len(all) > 0 {
		return store.Tenant{}, nil
	}
	t = store.Tenant{ID: secret.NewID(), Slug: DefaultTenantSlug, Name: "Gatehouse", CreatedAt: clk.Now()}
	if err := reg.Tenants().CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) { // another instance won the race
			return reg.Tenants().TenantBySlug(ctx, DefaultTenantSlug)
		}
		return store.Tenant{}, fmt.Errorf("creating default tenant: %w", err)
	}
	return t, nil
}

// IssueSetupLink makes a one-time setup token while the workspace has no user
// (authn.ErrSetupDone otherwise) and audits it; the caller shows the link.
func (s *Service) IssueSetupLink(ctx context.Context, ws store.Workspace) (string, error) {
	tok, err := authn.IssueSetupToken(ctx, ws, s.Clock)
	if err != nil {
		return "", err
	}
	return tok, s.record(ctx, ws, Admin{Actor: audit.System}, audit.ActionSetupLink, "tenant:"+ws.Slug, nil)
}
