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

// `gatehouse role restore|deleted` and `gatehouse team restore|deleted`: deleted
// roles and teams (soft delete, issue 12 §4), restorable for 30 days.

// roleRestoreCmds are `role restore` and `role deleted`.
func roleRestoreCmds() []*cobra.Command {
	restore := func(cmd *cobra.Command, env *cli, ws store.Workspace, name string) error {
		r, err := env.admin.Roles().Restore(cmd.Context(), ws, admin.CLI(), name)
		switch {
		case errors.Is(err, admin.ErrNoSuchRole):
			return fmt.Errorf("tenant %s has no deleted role %q (gatehouse role deleted lists them)", ws.Slug, name)
		case errors.Is(err, admin.ErrRestoreWindowOver):
			return fmt.Errorf("role %q was deleted more than 30 days ago and is being purged", name)
		case err != nil:
			return roleError(err, ws, name)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "role %s restored: its holders have its permissions again\n", r.Name)
		return nil
	}
	list := func(cmd *cobra.Command, env *cli, ws store.Workspace) error {
		roles, err := env.admin.Roles().Deleted(cmd.Context(), ws, admin.CLI())
		if err != nil {
			return err
		}
		rows := make([]deletedRow, len(roles))
		for i, r := range roles {
			rows[i] = deletedRow{r.Name, r.DeletedAt, r.Window}
		}
		return printDeleted(cmd, "ROLE", rows)
	}
	return restoreCmds("role", restore, list)
}

// teamRestoreCmds are `team restore` and `team deleted`.
func teamRestoreCmds() []*cobra.Command {
	restore := func(cmd *cobra.Command, env *cli, ws store.Workspace, name string) error {
		t, err := env.admin.Teams().Restore(cmd.Context(), ws, admin.CLI(), admin.TeamRef{Name: name})
		switch {
		case errors.Is(err, admin.ErrNoSuchTeam):
			return fmt.Errorf("tenant %s has no deleted team %q (gatehouse team deleted lists them)", ws.Slug, name)
		case errors.Is(err, admin.ErrRestoreWindowOver):
			return fmt.Errorf("team %q was deleted more than 30 days ago and is being purged", name)
		case err != nil:
			return teamError(err, ws, name)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "team %q restored, with its members\n", t.Name)
		return nil
	}
	list := func(cmd *cobra.Command, env *cli, ws store.Workspace) error {
		teams, err := env.admin.Teams().Deleted(cmd.Context(), ws, admin.CLI())
		if err != nil {
			return err
		}
		rows := make([]deletedRow, len(teams))
		for i, t := range teams {
			rows[i] = deletedRow{t.Name, t.DeletedAt, t.Window}
		}
		return printDeleted(cmd, "TEAM", rows)
	}
	return restoreCmds("team", restore, list)
}

// deletedRow is one line of a `deleted` listing.
type deletedRow struct {
	name    string
	deleted time.Time
	admin.Window
}

// printDeleted writes a `deleted` listing as a table.
func printDeleted(cmd *cobra.Command, kind string, rows []deletedRow) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tDELETED\tDAYS LEFT\tPURGED AFTER\n", kind)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.name, r.deleted.UTC().Format(time.RFC3339), r.DaysLeft, r.PurgeAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// restoreCmds builds `<kind> restore NAME` and `<kind> deleted`.
func restoreCmds(kind string,
	restore func(*cobra.Command, *cli, store.Workspace, string) error,
	list func(*cobra.Command, *cli, store.Workspace) error) []*cobra.Command {
	var rf, lf tenantFlags
	restoreCmd := &cobra.Command{
		Use:   "restore NAME --config <file> [--tenant <slug>]",
		Short: "Restore a " + kind + " deleted less than 30 days ago",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inTenant(cmd, rf.commonFlags, rf.tenant, false, func(env *cli, ws store.Workspace) error {
				return restore(cmd, env, ws, args[0])
			})
		},
	}
	rf.add(restoreCmd)
	listCmd := &cobra.Command{
		Use:   "deleted --config <file> [--tenant <slug>]",
		Short: "List deleted " + kind + "s with the days left to restore them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return inTenant(cmd, lf.commonFlags, lf.tenant, false, func(env *cli, ws store.Workspace) error {
				return list(cmd, env, ws)
			})
		},
	}
	lf.add(listCmd)
	return []*cobra.Command{restoreCmd, listCmd}
}
