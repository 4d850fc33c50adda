package caddymodule

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Roles and teams from the command line: the same use cases as the Roles page and the
// members pages (internal/admin/roles.go, teams.go), acting as an owner. The running
// gateway applies a change within session_cache_ttl.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "role",
		Usage: "list|set|delete|restore|deleted --config <file> [--tenant <slug>] ...",
		Short: "Manage a tenant's roles and their permissions",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(roleListCmd(), roleSetCmd(), roleDeleteCmd())
			cmd.AddCommand(roleRestoreCmds()...)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "team",
		Usage: "list|create|delete|restore|deleted|add|remove --config <file> [--tenant <slug>] ...",
		Short: "Manage a tenant's teams and who is in them",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(teamListCmd(), teamCreateCmd(), teamDeleteCmd(), teamMemberCmd(true), teamMemberCmd(false))
			cmd.AddCommand(teamRestoreCmds()...)
		},
	})
}

// tenantFlags are --config, --adapter and --tenant.
type tenantFlags struct {
	commonFlags
	tenant string
}

func (f *tenantFlags) add(cmd *cobra.Command) {
	f.commonFlags.add(cmd)
	cmd.Flags().StringVar(&f.tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
}

// roleError explains a role-administration error in the CLI's terms.
func roleError(err error, ws store.Workspace, name string) error {
	switch {
	case errors.Is(err, admin.ErrOwnerFixed):
		return errors.New("the owner role always has everything: it cannot be changed or deleted")
	case errors.Is(err, admin.ErrNoSuchRole):
		return fmt.Errorf("tenant %s has no role %q (gatehouse role list shows them)", ws.Slug, name)
	case errors.Is(err, admin.ErrRoleDeletedName):
		return fmt.Errorf("tenant %s has a deleted role %q: restore it (gatehouse role restore) or choose another name", ws.Slug, name)
	}
	return flagError(err, map[string]string{"name": "NAME", "description": "--description", "permissions": "--permission"})
}

func roleListCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "list --config <file> [--tenant <slug>]",
		Short: "List a tenant's roles with their permissions and how many members hold each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				list, err := env.admin.Roles().List(cmd.Context(), ws, admin.CLI())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tKIND\tMEMBERS\tPERMISSIONS\tDESCRIPTION")
				for _, r := range list {
					perms := strings.Join(r.PermissionStrings(), ",")
					if r.Name == policy.RoleOwner {
						perms = "everything (fixed)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Name, roleKind(r), r.Members, dash(perms), dash(r.Description))
				}
				return tw.Flush()
			})
		},
	}
	f.add(cmd)
	return cmd
}

func roleKind(r admin.RoleInfo) string {
	switch {
	case r.Changed:
		return "built-in, changed"
	case r.Builtin:
		return "built-in"
	}
	return "custom"
}

func roleSetCmd() *cobra.Command {
	var f tenantFlags
	var perms []string
	var description string
	cmd := &cobra.Command{
		Use:   "set NAME --config <file> [--tenant <slug>] --permission <resource:action:scope> ... [--description <text>]",
		Short: "Add a role, or change the permissions of one (built-in ones too, owner excepted)",
		Long: `Sets the role's permissions to exactly the --permission flags given (each
resource:action:scope, scope own, team or tenant, "*" for any resource or action);
a role that does not exist yet is added. Members holding the role get the new
permissions within session_cache_ttl. Without --permission the role grants nothing.`,
		Example: "  gatehouse role set sales --config Caddyfile --permission deals:read:tenant --permission deals:edit:own",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				r, err := env.admin.Roles().Set(cmd.Context(), ws, admin.CLI(), policy.RoleSpec{Name: args[0], Description: description, Permissions: perms})
				if err != nil {
					return roleError(err, ws, args[0])
				}
				fmt.Fprintf(cmd.OutOrStdout(), "role %s (%s): %s\n", r.Name, roleKind(r), dash(strings.Join(r.PermissionStrings(), ",")))
				return nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringArrayVar(&perms, "permission", nil, "a permission resource:action:scope (repeat for each)")
	cmd.Flags().StringVar(&description, "description", "", "what the role is for")
	return cmd
}

func roleDeleteCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "delete NAME --config <file> [--tenant <slug>]",
		Short: "Delete a role of the tenant's own (its holders lose it; restorable for 30 days), or reset a built-in one to its default",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				d, err := env.admin.Roles().Delete(cmd.Context(), ws, admin.CLI(), args[0])
				if err != nil {
					return roleError(err, ws, args[0])
				}
				if d.Reset {
					fmt.Fprintf(cmd.OutOrStdout(), "role %s: back to its default permissions\n", d.Name)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "role %s deleted; restorable for 30 days (gatehouse role restore)\n", d.Name)
				}
				return nil
			})
		},
	}
	f.add(cmd)
	return cmd
}

// teamError explains a team-administration error in the CLI's terms.
func teamError(err error, ws store.Workspace, name string) error {
	switch {
	case errors.Is(err, admin.ErrNoSuchTeam):
		return fmt.Errorf("tenant %s has no team %q (gatehouse team list shows them)", ws.Slug, name)
	case errors.Is(err, admin.ErrTeamExists):
		return fmt.Errorf("tenant %s has a team %q already (names are compared regardless of case)", ws.Slug, name)
	case errors.Is(err, admin.ErrNoSuchUser):
		return memberError(err, ws)
	}
	return flagError(err, map[string]string{"name": "NAME"})
}

func teamListCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "list --config <file> [--tenant <slug>]",
		Short: "List a tenant's teams with how many members each has",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				list, err := env.admin.Teams().List(cmd.Context(), ws, admin.CLI())
				if err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "tenant %s has no teams\n", ws.Slug)
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TEAM\tMEMBERS\tID")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, t.Members, t.ID)
				}
				return tw.Flush()
			})
		},
	}
	f.add(cmd)
	return cmd
}

func teamCreateCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "create NAME --config <file> [--tenant <slug>]",
		Short: "Create a team (1 to 64 characters, unique regardless of case)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				t, err := env.admin.Teams().Create(cmd.Context(), ws, admin.CLI(), args[0])
				if err != nil {
					return teamError(err, ws, args[0])
				}
				fmt.Fprintf(cmd.OutOrStdout(), "team %q created (id %s)\n", t.Name, t.ID)
				return nil
			})
		},
	}
	f.add(cmd)
	return cmd
}

func teamDeleteCmd() *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "delete NAME --config <file> [--tenant <slug>]",
		Short: "Delete a team; its members leave it (restorable, with them, for 30 days)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, f.commonFlags, f.tenant, false, func(env *cli, ws store.Workspace) error {
				t, err := env.admin.Teams().Delete(cmd.Context(), ws, admin.CLI(), admin.TeamRef{Name: args[0]})
				if err != nil {
					return teamError(err, ws, args[0])
				}
				fmt.Fprintf(cmd.OutOrStdout(), "team %q deleted; restorable for 30 days (gatehouse team restore)\n", t.Name)
				return nil
			})
		},
	}
	f.add(cmd)
	return cmd
}

// teamMemberCmd is `team add` (add) or `team remove`.
func teamMemberCmd(add bool) *cobra.Command {
	var m memberFlags
	verb, short, done := "remove", "Take a member out of a team", "removed from"
	if add {
		verb, short, done = "add", "Put a member in a team", "added to"
	}
	cmd := &cobra.Command{
		Use:   verb + " TEAM --config <file> [--tenant <slug>] --email <e-mail>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				teams := env.admin.Teams()
				change := teams.RemoveMember
				if add {
					change = teams.AddMember
				}
				t, u, err := change(cmd.Context(), ws, admin.CLI(), admin.TeamRef{Name: args[0]}, m.target())
				if err != nil {
					return teamError(err, ws, args[0])
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s %q (in %d team(s))\n", u.Email, done, t.Name, len(u.Teams))
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}
