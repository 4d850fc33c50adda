package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "tenant",
		Usage: "create|list|security --config <file> ...",
		Short: "Manage Gatehouse tenants (workspaces)",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(tenantCreateCmd(), tenantListCmd(), tenantSecurityCmd())
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "user",
		Usage: "add|list|reset-2fa|unlock --config <file> ...",
		Short: "Manage Gatehouse users",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userAddCmd(), userListCmd(), userResetFactorsCmd(), userUnlockCmd())
		},
	})
}

// cliStore opens the store the config file names (the same Caddyfile or JSON the
// server runs with), running migrations like the server does.
func cliStore(ctx context.Context, configFile, adapter string) (store.Store, *App, error) {
	if configFile == "" {
		return nil, nil, errors.New("--config is required (the Caddyfile or JSON config the gateway runs with)")
	}
	cfg, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, nil, fmt.Errorf("loading config %s: %w", configFile, err)
	}
	var doc struct {
		Apps struct {
			Gatehouse json.RawMessage `json:"gatehouse"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, nil, fmt.Errorf("reading config %s: %w", configFile, err)
	}
	var app App
	if len(doc.Apps.Gatehouse) > 0 {
		if err := json.Unmarshal(doc.Apps.Gatehouse, &app); err != nil {
			return nil, nil, fmt.Errorf("reading gatehouse app config: %w", err)
		}
	}
	if err := app.applyDefaults(); err != nil {
		return nil, nil, err
	}
	dsn := caddy.NewReplacer().ReplaceAll(app.Store, "")
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("opening store %s: %w", redactDSN(dsn), err)
	}
	if _, err := ensureDefaultTenant(ctx, st, clock.Real{}); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, &app, nil
}

// cliTenant opens the store and finds the tenant a command works on.
func cliTenant(ctx context.Context, c commonFlags, slug string) (store.Store, *App, store.Tenant, error) {
	st, app, err := cliStore(ctx, c.config, c.adapter)
	if err != nil {
		return nil, nil, store.Tenant{}, err
	}
	t, err := st.Tenants().TenantBySlug(ctx, slug)
	if err != nil {
		st.Close()
		return nil, nil, store.Tenant{}, fmt.Errorf("tenant %q: %w", slug, err)
	}
	return st, app, t, nil
}

type commonFlags struct{ config, adapter string }

func (c *commonFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.config, "config", "c", "", "Caddyfile or JSON config the gateway runs with (required)")
	cmd.Flags().StringVarP(&c.adapter, "adapter", "a", "", "config adapter (default: caddyfile for files named Caddyfile*)")
}

// cliAudit records a CLI action in the tenant's audit trail (actor "cli").
func cliAudit(ctx context.Context, th store.TenantHandle, rec store.AuditRecord) (store.AuditRecord, error) {
	rec.ActorID, rec.Outcome = "cli", audit.Success
	return audit.NewWriter(clock.Real{}).Write(ctx, th, rec)
}
