package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
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
		Usage: "add|list|reset-2fa --config <file> ...",
		Short: "Manage Gatehouse users",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userAddCmd(), userListCmd(), userResetFactorsCmd())
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

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

func tenantCreateCmd() *cobra.Command {
	var c commonFlags
	var slug, name string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "create --config <file> --slug <slug> --name <name> [--host <host>...]",
		Short: "Create a tenant",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slugRE.MatchString(slug) {
				return fmt.Errorf("--slug %q: use 1-63 lowercase letters, digits and dashes", slug)
			}
			if strings.TrimSpace(name) == "" {
				name = slug
			}
			for i, h := range hosts {
				hosts[i] = strings.ToLower(strings.TrimSpace(h))
				if hosts[i] == "" || strings.ContainsAny(hosts[i], "/:@ ") {
					return fmt.Errorf("--host %q: give a bare host name such as acme.example.com", h)
				}
			}
			ctx := cmd.Context()
			st, _, err := cliStore(ctx, c.config, c.adapter)
			if err != nil {
				return err
			}
			defer st.Close()
			t := store.Tenant{ID: secret.NewID(), Slug: slug, Name: name, Hosts: hosts, CreatedAt: time.Now()}
			if err := st.Tenants().CreateTenant(ctx, t); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("tenant %q or one of its hosts exists already", slug)
				}
				return err
			}
			if _, err := audit.NewWriter(clock.Real{}).Write(ctx, st.Tenant(t.ID), store.AuditRecord{
				Action: audit.ActionTenantCreate, Outcome: audit.Success, ActorID: "cli", Target: "tenant:" + t.Slug,
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created tenant %s (%s) id %s\n", t.Slug, t.Name, t.ID)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&slug, "slug", "", "tenant slug (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "host name served by this tenant (repeatable)")
	return cmd
}

func tenantListCmd() *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "list --config <file>",
		Short: "List tenants",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, _, err := cliStore(cmd.Context(), c.config, c.adapter)
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.Tenants().ListTenants(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tNAME\tHOSTS\tID")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Slug, t.Name, strings.Join(t.Hosts, ","), t.ID)
			}
			return tw.Flush()
		},
	}
	c.add(cmd)
	return cmd
}

func userAddCmd() *cobra.Command {
	var c commonFlags
	var tenant, email, name string
	var roles []string
	var fromStdin bool
	var cost int
	cmd := &cobra.Command{
		Use:   "add --config <file> --tenant <slug> --email <e-mail> --role <role> [--password-stdin]",
		Short: "Add a user; without --password-stdin a password is generated and printed once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pw, generated := "", false
			if fromStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return fmt.Errorf("reading password from stdin: %w", err)
				}
				pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			} else {
				pw, generated = generatePassword(), true
			}
			st, app, t, err := cliTenant(ctx, c, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			if cost != 0 {
				app.BcryptCost = cost
			}
			u, err := authn.PrepareUser(authn.NewUser{Email: email, DisplayName: name, Password: pw, Roles: roles},
				&identity.Hasher{Cost: app.BcryptCost}, identity.PasswordRules{MinLength: app.MinPasswordLength}, clock.Real{})
			if err != nil {
				return err
			}
			th := st.Tenant(t.ID)
			if err := th.Users().CreateUser(ctx, u); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("a user with e-mail %s exists already in tenant %s", u.Email, t.Slug)
				}
				return err
			}
			if _, err := audit.NewWriter(clock.Real{}).Write(ctx, th, store.AuditRecord{
				Action: audit.ActionUserCreate, Outcome: audit.Success, ActorID: "cli", Target: "user:" + u.ID,
				Details: map[string]string{"email": u.Email, "roles": strings.Join(u.Roles, ",")},
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s to tenant %s (id %s, roles %s)\n", u.Email, t.Slug, u.ID, strings.Join(u.Roles, ","))
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password (shown once): %s\n", pw)
			}
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&email, "email", "", "e-mail address (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringSliceVar(&roles, "role", []string{identity.RoleMember}, "role (repeatable): owner, admin, manager, member")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().IntVar(&cost, "bcrypt-cost", 0, "override the configured bcrypt cost")
	return cmd
}

func userListCmd() *cobra.Command {
	var c commonFlags
	var tenant string
	cmd := &cobra.Command{
		Use:   "list --config <file> [--tenant <slug>]",
		Short: "List the users of a tenant",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, _, t, err := cliTenant(ctx, c, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			us, err := st.Tenant(t.ID).Users().ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tSTATUS\tLAST SIGN-IN\tID")
			for _, u := range us {
				last := "never"
				if !u.LastLoginAt.IsZero() {
					last = u.LastLoginAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.DisplayName, strings.Join(u.Roles, ","), u.Status, last, u.ID)
			}
			return tw.Flush()
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	return cmd
}

// generatePassword returns a random password: 26 base32 characters from crypto/rand
// (128 bits).
func generatePassword() string { return rand.Text() }

func tenantSecurityCmd() *cobra.Command {
	var c commonFlags
	var tenant, require2FA, passkeysForAdmins, grace string
	cmd := &cobra.Command{
		Use:   "security --config <file> [--tenant <slug>] [--require-2fa on|off] [--grace 7d] [--passkeys-for-admins on|off]",
		Short: "Show or change a tenant's second-factor policy",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, _, t, err := cliTenant(ctx, c, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			th := st.Tenant(t.ID)
			cur, err := th.Settings().SecuritySettings(ctx)
			if err != nil {
				return err
			}
			if require2FA != "" || passkeysForAdmins != "" || grace != "" {
				r2, pka, g := cur.Require2FA, cur.RequirePasskeysForAdmins, cur.GracePeriod
				if g <= 0 && cur.UpdatedAt.IsZero() {
					g = authn.DefaultGracePeriod
				}
				if r2, err = onOff("--require-2fa", require2FA, r2); err != nil {
					return err
				}
				if pka, err = onOff("--passkeys-for-admins", passkeysForAdmins, pka); err != nil {
					return err
				}
				if grace != "" {
					d, err := caddy.ParseDuration(grace)
					if err != nil || d < 0 || d > 90*24*time.Hour {
						return fmt.Errorf("--grace %q: a duration from 0 to 90d, e.g. 7d", grace)
					}
					g = d
				}
				next := authn.UpdateSettings(cur, r2, g, pka, "cli", time.Now())
				if err := th.Settings().PutSecuritySettings(ctx, next); err != nil {
					return err
				}
				if _, err := audit.NewWriter(clock.Real{}).Write(ctx, th, store.AuditRecord{
					Action: audit.ActionSecuritySettings, Outcome: audit.Success, ActorID: "cli", Target: "tenant:" + t.Slug,
					Details: map[string]string{"require_2fa": strconv.FormatBool(r2), "grace": g.String(), "require_passkeys_for_admins": strconv.FormatBool(pka)},
				}); err != nil {
					return err
				}
				cur = next
			}
			g := cur.GracePeriod
			if g <= 0 && cur.UpdatedAt.IsZero() {
				g = authn.DefaultGracePeriod
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: require 2FA %v (grace %v), require passkeys for admins %v\n", t.Slug, cur.Require2FA, g, cur.RequirePasskeysForAdmins)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&require2FA, "require-2fa", "", "on or off")
	cmd.Flags().StringVar(&passkeysForAdmins, "passkeys-for-admins", "", "on or off")
	cmd.Flags().StringVar(&grace, "grace", "", "grace period for members without a second factor (e.g. 7d)")
	return cmd
}

func onOff(flag, v string, cur bool) (bool, error) {
	switch v {
	case "":
		return cur, nil
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return cur, fmt.Errorf("%s %q: use on or off", flag, v)
}

func userResetFactorsCmd() *cobra.Command {
	var c commonFlags
	var tenant, email string
	cmd := &cobra.Command{
		Use:   "reset-2fa --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Remove a user's second factors (authenticator app, passkeys, recovery codes)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, _, t, err := cliTenant(ctx, c, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			th := st.Tenant(t.ID)
			norm, err := identity.NormalizeEmail(email)
			if err != nil {
				return err
			}
			u, err := th.Users().UserByEmail(ctx, norm)
			if err != nil {
				return fmt.Errorf("user %s: %w", norm, err)
			}
			if err := (&authn.MFA{Clock: clock.Real{}}).ResetFactors(ctx, th, u.ID); err != nil {
				return err
			}
			if _, err := audit.NewWriter(clock.Real{}).Write(ctx, th, store.AuditRecord{
				Action: audit.ActionFactorsReset, Outcome: audit.Success, ActorID: "cli", Target: "user:" + u.ID,
				Details: map[string]string{"email": u.Email},
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the second factors of %s\n", u.Email)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&email, "email", "", "the user's e-mail (required)")
	return cmd
}
