package caddymodule

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// `gatehouse requests list|fulfil|refuse`: the Requests page (data-subject requests,
// issue 12 §3) on the command line, through admin.Requests, acting as an owner.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "requests",
		Usage: "list|fulfil|refuse --config <file> [--tenant <slug>] ...",
		Short: "List a tenant's data-subject requests with their deadlines; fulfil or refuse one",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(requestsListCmd(), requestsResolveCmd(true), requestsResolveCmd(false))
		},
	})
}

func requestsListCmd() *cobra.Command {
	var c commonFlags
	var tenant string
	var open bool
	cmd := &cobra.Command{
		Use:   "list --config <file> [--tenant <slug>] [--open]",
		Short: "List the data-subject requests, newest first, with the days left to answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.readOnly = true
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				list, err := admin.Requests{Service: env.admin}.List(cmd.Context(), ws, admin.CLI())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tMEMBER\tASKED\tSTATUS\tDEADLINE\tDAYS LEFT")
				for _, r := range list {
					if open && r.Status != store.RequestOpen {
						continue
					}
					who := r.Email
					if r.Erased {
						who = "(erased member)"
					}
					left := "-"
					switch {
					case r.Overdue:
						left = "overdue"
					case r.Status == store.RequestOpen:
						left = fmt.Sprint(r.DaysLeft)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, who, r.CreatedAt.UTC().Format(time.RFC3339),
						r.Status, r.Deadline.UTC().Format(time.RFC3339), left)
				}
				return tw.Flush()
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().BoolVar(&open, "open", false, "only the open requests")
	return cmd
}

// requestsResolveCmd is `requests fulfil` (fulfil) or `requests refuse`.
func requestsResolveCmd(fulfil bool) *cobra.Command {
	var c commonFlags
	var tenant, id, reason string
	use, short := "refuse --config <file> [--tenant <slug>] --id <request> --reason <why>",
		"Refuse an open request, saying why"
	if fulfil {
		use, short = "fulfil --config <file> [--tenant <slug>] --id <request> [--reason <note>]",
			"Fulfil an open request (an erasure erases the member at once; a restriction is lifted)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return errors.New("--id is required (gatehouse requests list shows the ids)")
			}
			return inTenant(cmd, c, tenant, false, func(env *cli, ws store.Workspace) error {
				desk := admin.Requests{Service: env.admin}
				resolve := desk.Refuse
				if fulfil {
					resolve = desk.Fulfil
				}
				r, err := resolve(cmd.Context(), ws, admin.CLI(), id, reason)
				switch {
				case errors.Is(err, admin.ErrNoSuchRequest):
					return fmt.Errorf("--id: tenant %s has no open request %s (gatehouse requests list --open shows them)", ws.Slug, id)
				case errors.Is(err, admin.ErrReasonRequired):
					return errors.New("--reason: say why the request is refused")
				case err != nil:
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: the %s request is %s\n", r.ID, r.Kind, r.Status)
				return nil
			})
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&id, "id", "", "the request's id (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why it is refused (required to refuse), or a note on the fulfilment")
	return cmd
}
