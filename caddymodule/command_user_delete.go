package caddymodule

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// userDeleteCmds are `gatehouse user delete|restore|deleted` (soft delete, issue 12 §4).
func userDeleteCmds() []*cobra.Command {
	return []*cobra.Command{userDeleteCmd(), userRestoreCmd(), userDeletedCmd()}
}

func userDeleteCmd() *cobra.Command {
	var m memberFlags
	cmd := &cobra.Command{
		Use:   "delete --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Delete a member: no sign-in, every session ends; restorable for 30 days, then purged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.Deletions().Delete(cmd.Context(), ws, admin.CLI(), m.target())
				if err != nil {
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: deleted; restorable until %s (gatehouse user restore)\n",
					u.Email, u.DeletedAt.Add(store.DeletedUserRestoreWindow).UTC().Format(time.RFC3339))
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}

func userRestoreCmd() *cobra.Command {
	var m memberFlags
	cmd := &cobra.Command{
		Use:   "restore --config <file> [--tenant <slug>] --email <e-mail>",
		Short: "Restore a member deleted less than 30 days ago (they sign in again; old sessions stay ended)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, m.commonFlags, m.tenant, false, func(env *cli, ws store.Workspace) error {
				u, err := env.admin.Deletions().Restore(cmd.Context(), ws, admin.CLI(), m.target())
				switch {
				case errors.Is(err, admin.ErrNoSuchUser):
					return fmt.Errorf("--email: no deleted member of tenant %s has this e-mail (gatehouse user deleted lists them)", ws.Slug)
				case errors.Is(err, admin.ErrRestoreWindowOver):
					return errors.New("--email: this member was deleted more than 30 days ago and is being purged")
				case err != nil:
					return memberError(err, ws)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: restored (%s)\n", u.Email, u.Status)
				return nil
			})
		},
	}
	m.add(cmd)
	return cmd
}

func userDeletedCmd() *cobra.Command {
	var c commonFlags
	var tenant string
	cmd := &cobra.Command{
		Use:   "deleted --config <file> [--tenant <slug>]",
		Short: "List deleted members with the days left to restore them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				list, err := env.admin.Deletions().Deleted(cmd.Context(), ws, admin.CLI())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tDELETED\tDAYS LEFT\tPURGED AFTER")
				for _, d := range list {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", d.User.Email, d.User.DeletedAt.UTC().Format(time.RFC3339),
						d.DaysLeft, d.PurgeAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	return cmd
}
