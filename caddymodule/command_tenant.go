package caddymodule

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

func tenantCreateCmd() *cobra.Command {
	var c commonFlags
	var slug, name string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "create --config <file> --slug <slug> --name <name> [--host <host>...]",
		Short: "Create a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			env, err := openCLI(ctx, c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			t, err := env.admin.CreateTenant(ctx, env.store, admin.CLI(), admin.NewTenant{Slug: slug, Name: name, Hosts: hosts})
			if err != nil {
				return flagError(err, map[string]string{"slug": "--slug", "host": "--host"})
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openCLI(cmd.Context(), c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			ts, err := env.store.Tenants().ListTenants(cmd.Context())
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

func tenantSecurityCmd() *cobra.Command {
	var c commonFlags
	var tenant, require2FA, passkeysForAdmins, grace, onAnomaly, lockDur, lockMax, contact, expires string
	var lockThreshold int
	cmd := &cobra.Command{
		Use:   "security --config <file> [--tenant <slug>] [--require-2fa on|off] [--grace 7d] [--passkeys-for-admins on|off] [--on-anomaly alert|second_factor|block] [--lockout-threshold n] [--lockout-duration d] [--lockout-max d] [--disclosure-contact mailto:…|https:… --disclosure-expires 2027-06-30]",
		Short: "Show or change a tenant's sign-in policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ch admin.SecurityChange
			var err error
			if ch.Require2FA, err = onOff("--require-2fa", require2FA); err != nil {
				return err
			}
			if ch.PasskeysForAdmins, err = onOff("--passkeys-for-admins", passkeysForAdmins); err != nil {
				return err
			}
			if ch.Grace, err = durationFlag("--grace", grace, "7d"); err != nil {
				return err
			}
			if ch.LockoutDuration, err = durationFlag("--lockout-duration", lockDur, "15m"); err != nil {
				return err
			}
			if ch.LockoutMax, err = durationFlag("--lockout-max", lockMax, "24h"); err != nil {
				return err
			}
			if onAnomaly != "" {
				ch.AnomalyAction = &onAnomaly
			}
			if lockThreshold >= 0 {
				ch.LockoutThreshold = &lockThreshold
			}
			if cmd.Flags().Changed("disclosure-contact") {
				ch.DisclosureContact = &contact
			}
			if expires != "" {
				at, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				ch.DisclosureExpires = &at
			}
			ctx := cmd.Context()
			env, err := openCLI(ctx, c, false)
			if err != nil {
				return err
			}
			defer env.Close()
			ws, err := env.workspace(ctx, tenant)
			if err != nil {
				return err
			}
			var sec admin.Security
			if ch != (admin.SecurityChange{}) {
				sec, err = env.admin.UpdateSecurity(ctx, ws, admin.CLI(), ch)
			} else {
				sec, err = env.admin.Security(ctx, ws)
			}
			if err != nil {
				return flagError(err, map[string]string{"grace_period": "--grace", "anomaly_action": "--on-anomaly",
					"lockout_threshold": "--lockout-threshold", "lockout_duration": "--lockout-duration", "lockout_max": "--lockout-max",
					"disclosure_contact": "--disclosure-contact", "disclosure_expires": "--disclosure-expires"})
			}
			printSecurity(cmd.OutOrStdout(), ws.Slug, ws.Name, sec)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", admin.DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&require2FA, "require-2fa", "", "on or off")
	cmd.Flags().StringVar(&passkeysForAdmins, "passkeys-for-admins", "", "on or off")
	cmd.Flags().StringVar(&grace, "grace", "", "grace period for members without a second factor (e.g. 7d)")
	cmd.Flags().StringVar(&onAnomaly, "on-anomaly", "", "what an unusual sign-in leads to: alert, second_factor or block")
	cmd.Flags().IntVar(&lockThreshold, "lockout-threshold", -1, "failures that lock an account (0: the gateway's default)")
	cmd.Flags().StringVar(&lockDur, "lockout-duration", "", "first lock's length, doubling after (0: the gateway's default)")
	cmd.Flags().StringVar(&lockMax, "lockout-max", "", "cap of the doubling (0: the gateway's default)")
	cmd.Flags().StringVar(&contact, "disclosure-contact", "", `where to report vulnerabilities, for /.well-known/security.txt (mailto: or https:; "" removes it)`)
	cmd.Flags().StringVar(&expires, "disclosure-expires", "", "when that contact stops being valid (2027-06-30 or RFC 3339; at most a year ahead)")
	return cmd
}

// parseExpiry reads --disclosure-expires: a date (the start of that day, UTC) or an
// RFC 3339 time.
func parseExpiry(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--disclosure-expires %q: give a date (2027-06-30) or an RFC 3339 time (2027-06-30T00:00:00Z)", v)
}

// printSecurity shows the policy as it is in effect, durations as people write them.
func printSecurity(w io.Writer, slug, name string, s admin.Security) {
	onoff := map[bool]string{true: "on", false: "off"}
	req := onoff[s.Require2FA]
	if s.Require2FA {
		req += " since " + s.Require2FASince.UTC().Format("2006-01-02 15:04 MST")
	}
	source := func(own bool) string {
		if own {
			return "this tenant"
		}
		return "gateway default"
	}
	o, l := s.LockoutOverride, s.Lockout
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant %s (%s)\n", slug, name)
	fmt.Fprintf(tw, "  require 2FA:\t%s, grace period %s\n", req, admin.FormatDuration(s.Grace))
	fmt.Fprintf(tw, "  require passkeys for admins:\t%s\n", onoff[s.PasskeysForAdmins])
	fmt.Fprintf(tw, "  on unusual sign-in:\t%s\n", s.AnomalyAction)
	fmt.Fprintf(tw, "  lockout:\tafter %d failures (%s), for %s (%s), doubling up to %s (%s)\n",
		l.Threshold, source(o.Threshold > 0), admin.FormatDuration(l.Base), source(o.Base > 0), admin.FormatDuration(l.Max), source(o.Max > 0))
	if s.DisclosureContact != "" {
		fmt.Fprintf(tw, "  security.txt:	contact %s, expires %s\n", s.DisclosureContact, s.DisclosureExpires.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(tw, "  security.txt:	none (no disclosure contact)\n")
	}
	_ = tw.Flush()
}

// onOff reads an on/off flag (nil when not given).
func onOff(flag, v string) (*bool, error) {
	var b bool
	switch v {
	case "":
		return nil, nil
	case "on", "true", "yes":
		b = true
	case "off", "false", "no":
	default:
		return nil, fmt.Errorf("%s %q: use on or off", flag, v)
	}
	return &b, nil
}

// durationFlag reads a duration flag such as 7d or 15m (nil when not given).
func durationFlag(flag, v, example string) (*time.Duration, error) {
	if v == "" {
		return nil, nil
	}
	d, err := caddy.ParseDuration(v)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("%s %q: a duration such as %s", flag, v, example)
	}
	return &d, nil
}
