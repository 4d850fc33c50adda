package caddymodule

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pw, generated := "", false
			if fromStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return fmt.Errorf("--password-stdin: reading the password: %w", err)
				}
				pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			} else {
				pw, generated = generatePassword(), true
			}
			if cost != 0 && (cost < 4 || cost > 31) {
				return fmt.Errorf("--bcrypt-cost %d: must be between 4 and 31", cost)
			}
			env, err := openCLI(ctx, c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			ws, err := env.workspace(ctx, tenant)
			if err != nil {
				return err
			}
			if cost != 0 {
				env.admin.Hasher = &identity.Hasher{Cost: cost}
			}
			u, err := env.admin.AddUser(ctx, ws, admin.CLI(), authn.NewUser{Email: email, DisplayName: name, Password: pw, Roles: roles})
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("--email %s: a user with this e-mail exists already in tenant %s", email, ws.Slug)
			}
			if err != nil {
				return flagError(err, map[string]string{"email": "--email", "name": "--name", "roles": "--role", "password": "--password-stdin"})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s to tenant %s (id %s, roles %s)\n", u.Email, ws.Slug, u.ID, strings.Join(u.Roles, ","))
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password (shown once): %s\n", pw)
			}
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
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
		Short: "List the members of a tenant with role, status, second factors and last sign-in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, true, func(env *cli, ws store.Workspace) error {
				ms, err := env.admin.Members(cmd.Context(), ws, admin.CLI())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tSTATUS\t2FA\tLAST SIGN-IN\tID")
				for _, m := range ms {
					u := m.User
					last := "never"
					if !u.LastLoginAt.IsZero() {
						last = u.LastLoginAt.UTC().Format(time.RFC3339)
					}
					status := string(u.Status)
					switch {
					case m.Invited:
						status += " (invited)"
					case m.Locked > 0:
						status += " (locked)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.DisplayName, strings.Join(u.Roles, ","), status,
						dash(strings.Join(m.Factors.Methods(), ",")), last, u.ID)
				}
				return tw.Flush()
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	return cmd
}

// generatePassword returns a random password: 26 base32 characters from crypto/rand
// (128 bits).
func generatePassword() string { return rand.Text() }

func userResetFactorsCmd() *cobra.Command {
	var m memberFlags
	cmd := &cobra.Command{
		Use:   "reset-2fa --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Remove a user's second factors (authenticator app, passkeys, recovery codes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.ResetFactors(cmd.Context(), ws, admin.CLI(), m.target())
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed the second factors of %s\n", u.Email)
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}

func userUnlockCmd() *cobra.Command {
	var m memberFlags
	cmd := &cobra.Command{
		Use:   "unlock --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Lift a sign-in lockout (needs the redis option: in-memory counters live in the running gateway)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, true, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.Unlock(cmd.Context(), ws, admin.CLI(), m.target())
				switch {
				case errors.Is(err, admin.ErrNoLockoutState):
					return errors.New("this gateway keeps lockout counters in its own memory: unlock through the admin page " +
						"(/auth/admin/security) or POST /auth/api/v1/admin/users/{id}/unlock, or configure the redis option")
				case err != nil:
					return memberError(err, ws)
				}
				switch {
				case u.User.ID == "" && !u.WasLocked:
					fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s (it was not locked, and no user of tenant %s has this e-mail)\n", u.Email, ws.Slug)
				case !u.WasLocked:
					fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s (it was not locked)\n", u.Email)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s\n", u.Email)
				}
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}
