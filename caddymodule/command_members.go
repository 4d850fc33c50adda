package caddymodule

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Member administration from the command line: the same use cases as the members
// page (internal/admin/members.go), acting as an owner.

// memberFlags are the flags every member command has.
type memberFlags struct {
	commonFlags
	tenant, email string
}

func (m *memberFlags) add(cmd *cobra.Command) {
	m.commonFlags.add(cmd)
	cmd.Flags().StringVar(&m.tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&m.email, "email", "", "the member's e-mail (required)")
}

func (m *memberFlags) target() admin.Target { return admin.Target{Email: m.email} }

// cliAdmin is the CLI acting as an owner; portalURL is the portal's public address
// for links ("" when neither --portal-url nor base_url gives one).
func cliAdmin(portalURL string) admin.Admin {
	by := admin.CLI()
	by.PortalURL = portalURL
	return by
}

// portalURL is the portal's public address for links the CLI makes: --portal-url, or
// base_url with the default portal prefix.
func (c *cli) portalURL(flag string) string {
	if flag != "" {
		return strings.TrimSuffix(flag, "/")
	}
	if c.app.BaseURL == "" {
		return ""
	}
	return c.app.BaseURL + defaultPortalPrefix
}

// memberError explains a member-administration error in the CLI's terms.
func memberError(err error, ws store.Workspace) error {
	switch {
	case errors.Is(err, admin.ErrNoSuchUser):
		return fmt.Errorf("--email: no member of tenant %s has this e-mail (gatehouse user list shows them)", ws.Slug)
	case errors.Is(err, admin.ErrLastOwner):
		return fmt.Errorf("tenant %s needs an active owner: make someone else owner first (gatehouse user set-role)", ws.Slug)
	case errors.Is(err, authn.ErrNoPortalURL):
		return errors.New("links need the portal's public address: set base_url in the config, or pass --portal-url https://host/auth")
	case errors.Is(err, admin.ErrAlreadyMember):
		return fmt.Errorf("--email: this address belongs to a member of tenant %s already", ws.Slug)
	case errors.Is(err, admin.ErrDeletedMember):
		return fmt.Errorf("--email: this address belongs to a deleted member of tenant %s: restore them (gatehouse user restore)", ws.Slug)
	case errors.Is(err, admin.ErrMemberDisabled):
		return errors.New("--email: this member is disabled: enable them first (gatehouse user enable)")
	case errors.Is(err, admin.ErrNoSuchSession):
		return errors.New("--session: not one of this member's live sessions (gatehouse user sessions lists them)")
	}
	return flagError(err, map[string]string{"email": "--email", "name": "--name", "role": "--role", "roles": "--role"})
}

func userStatusCmd(disable bool) *cobra.Command {
	var m memberFlags
	verb, short := "enable", "Let a disabled member sign in again"
	if disable {
		verb, short = "disable", "Disable a member: no sign-in with any factor, and every session ends at once"
	}
	cmd := &cobra.Command{
		Use:   verb + " --config <file> [--tenant <slug>] --email <e-mail>",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.SetDisabled(cmd.Context(), ws, admin.CLI(), m.target(), disable)
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", u.Email, u.Status)
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}

func userSetRoleCmd() *cobra.Command {
	var m memberFlags
	var role string
	cmd := &cobra.Command{
		Use:   "set-role --config <file> [--tenant <slug>] --email <e-mail> --role owner|admin|manager|member",
		Short: "Give a member a role (the last active owner keeps theirs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.SetRole(cmd.Context(), ws, admin.CLI(), m.target(), role)
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: role %s\n", u.Email, strings.Join(u.Roles, ","))
				return nil
			})
		},
	}
	m.add(cmd)
	cmd.Flags().StringVar(&role, "role", "", "a role of the tenant: owner, admin, manager, member or one of its own (gatehouse role list) (required)")
	return cmd
}

func userResetPasswordCmd() *cobra.Command {
	var m memberFlags
	var portal string
	cmd := &cobra.Command{
		Use:   "reset-password --config <file> [--tenant <slug>] --email <e-mail> [--portal-url <url>]",
		Short: "Mail a member a password-reset link (single use, 30 minutes) and print it",
		Long: `Makes a password-reset link for the member, queues it in the mail outbox (the
running gateway delivers it) and prints it, for handing over another way. An
earlier link stops working. The link needs the portal's public address: base_url
from the config, or --portal-url.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				link, err := env.admin.SendPasswordReset(cmd.Context(), ws, cliAdmin(env.portalURL(portal)), m.target())
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "reset link for %s (single use, valid for %s; also mailed):\n%s\n", m.email, authn.ResetLinkLifetime, link)
				return nil
			})
		},
	}
	m.add(cmd)
	cmd.Flags().StringVar(&portal, "portal-url", "", "the portal's public address (default: base_url + /auth)")
	return cmd
}

func userInviteCmd() *cobra.Command {
	var m memberFlags
	var name, role, portal string
	var noMail bool
	cmd := &cobra.Command{
		Use:   "invite --config <file> [--tenant <slug>] --email <e-mail> [--role <role>] [--name <name>] [--no-mail] [--portal-url <url>]",
		Short: "Invite a member: a single-use link (7 days) with which they set their password",
		Long: `Adds the member without a password and prints a single-use link (valid 7 days)
with which they set one. The link is also mailed unless --no-mail. Inviting again
someone who has not accepted yet replaces their link.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, link, err := env.admin.Invite(cmd.Context(), ws, cliAdmin(env.portalURL(portal)),
					admin.Invitation{Email: m.email, Name: name, Role: role, Mail: !noMail})
				if err != nil {
					return memberError(err, ws)
				}
				how := "also mailed"
				if noMail {
					how = "not mailed: hand it over yourself"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "invited %s as %s (single use, valid for 7 days; %s):\n%s\n", u.Email, strings.Join(u.Roles, ","), how, link)
				return nil
			})
		},
	}
	m.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", identity.RoleMember, "a role of the tenant: owner, admin, manager, member or one of its own (gatehouse role list)")
	cmd.Flags().BoolVar(&noMail, "no-mail", false, "only print the link")
	cmd.Flags().StringVar(&portal, "portal-url", "", "the portal's public address (default: base_url + /auth)")
	return cmd
}

func userSessionsCmd() *cobra.Command {
	var m memberFlags
	cmd := &cobra.Command{
		Use:   "sessions --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "List a member's live sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				d, err := env.admin.Member(cmd.Context(), ws, admin.CLI(), m.target())
				if err != nil {
					return memberError(err, ws)
				}
				if len(d.Sessions) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s has no live session\n", d.User.Email)
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tDEVICE\tIP\tLOCATION\tSIGNED IN\tLAST ACTIVE\tMETHODS")
				for _, s := range d.Sessions {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Device, s.IP, dash(s.Location),
						s.CreatedAt.UTC().Format(time.RFC3339), s.LastActive.UTC().Format(time.RFC3339), strings.Join(s.Methods, ","))
				}
				return tw.Flush()
			})
		},
	}
	m.add(cmd)
	return cmd
}

func userRevokeSessionsCmd() *cobra.Command {
	var m memberFlags
	var sessionID string
	cmd := &cobra.Command{
		Use:   "revoke-sessions --config <file> [--tenant <slug>] --email <e-mail> [--session <id>]",
		Short: "Sign a member out everywhere, or of one session (--session)",
		Long: `Ends the member's sessions (or the one --session names). The gateway refuses
them on their next request; instances that cached one do within
session_cache_ttl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				n, err := env.admin.RevokeSessions(cmd.Context(), ws, admin.CLI(), m.target(), sessionID)
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ended %d session(s) of %s\n", n, m.email)
				return nil
			})
		},
	}
	m.add(cmd)
	cmd.Flags().StringVar(&sessionID, "session", "", "end only this session (an ID from gatehouse user sessions)")
	return cmd
}

func tenantRenameCmd() *cobra.Command {
	var c commonFlags
	var tenant, name string
	cmd := &cobra.Command{
		Use:   "rename --config <file> [--tenant <slug>] --name <name>",
		Short: "Change a tenant's display name (its slug stays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				if err := env.admin.RenameTenant(cmd.Context(), ws, admin.CLI(), name); err != nil {
					return flagError(err, map[string]string{"name": "--name"})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "tenant %s is now called %q\n", ws.Slug, strings.TrimSpace(name))
				return nil
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&name, "name", "", "the new display name (required)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
