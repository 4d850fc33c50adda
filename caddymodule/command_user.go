package caddymodule

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

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
			if _, err := cliAudit(ctx, th, store.AuditRecord{
				Action: audit.ActionUserCreate, Target: "user:" + u.ID,
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
			if _, err := cliAudit(ctx, th, store.AuditRecord{
				Action: audit.ActionFactorsReset, Target: "user:" + u.ID,
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

func userUnlockCmd() *cobra.Command {
	var c commonFlags
	var tenant, email string
	cmd := &cobra.Command{
		Use:   "unlock --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Lift a sign-in lockout (needs the redis option: in-memory counters live in the running gateway)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, app, t, err := cliTenant(ctx, c, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			if app.Redis == "" {
				return errors.New("this gateway keeps lockout counters in its own memory: unlock through the admin page " +
					"(/auth/admin/security) or POST /auth/api/v1/admin/users/{id}/unlock, or configure the redis option")
			}
			prefix := app.RedisKeyPrefix
			if prefix == "" {
				prefix = kv.DefaultKeyPrefix
			}
			url := caddy.NewReplacer().ReplaceAll(app.Redis, "")
			r, err := kv.OpenRedis(ctx, url, kv.RedisOptions{KeyPrefix: prefix})
			if err != nil {
				return fmt.Errorf("redis %s: %w", redactDSN(url), err)
			}
			defer r.Close()
			norm, err := identity.NormalizeEmail(email)
			if err != nil {
				return err
			}
			if err := (&authn.Lockout{KV: r}).Unlock(ctx, t.ID, norm); err != nil {
				return err
			}
			th := st.Tenant(t.ID)
			target := ""
			if u, err := th.Users().UserByEmail(ctx, norm); err == nil {
				target = "user:" + u.ID
			}
			if _, err := cliAudit(ctx, th, store.AuditRecord{
				Action: audit.ActionAccountUnlocked, Target: target,
				Details: map[string]string{"email": norm},
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s\n", norm)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&email, "email", "", "the e-mail the lockout is for (required)")
	return cmd
}
