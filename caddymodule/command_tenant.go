package caddymodule

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

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
			if _, err := cliAudit(ctx, st.Tenant(t.ID), store.AuditRecord{
				Action: audit.ActionTenantCreate, Target: "tenant:" + t.Slug,
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

func tenantSecurityCmd() *cobra.Command {
	var c commonFlags
	var tenant, require2FA, passkeysForAdmins, grace, onAnomaly, lockDur, lockMax string
	var lockThreshold int
	cmd := &cobra.Command{
		Use:   "security --config <file> [--tenant <slug>] [--require-2fa on|off] [--grace 7d] [--passkeys-for-admins on|off] [--on-anomaly alert|second_factor|block] [--lockout-threshold n] [--lockout-duration d] [--lockout-max d]",
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
			if require2FA != "" || passkeysForAdmins != "" || grace != "" || onAnomaly != "" || lockThreshold >= 0 || lockDur != "" || lockMax != "" {
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
				if lockThreshold >= 0 {
					if lockThreshold > 100 {
						return fmt.Errorf("--lockout-threshold %d: 0 (default) to 100", lockThreshold)
					}
					next.LockoutThreshold = lockThreshold
				}
				for _, f := range []struct {
					flag, v string
					dst     *time.Duration
				}{{"--lockout-duration", lockDur, &next.LockoutDuration}, {"--lockout-max", lockMax, &next.LockoutMax}} {
					if f.v == "" {
						continue
					}
					d, err := caddy.ParseDuration(f.v)
					if err != nil || d < 0 {
						return fmt.Errorf("%s %q: a duration such as 15m (0 = the gateway's default)", f.flag, f.v)
					}
					*f.dst = d
				}
				switch onAnomaly {
				case "":
				case "alert", "second_factor", "block":
					next.AnomalyAction = onAnomaly
				default:
					return fmt.Errorf("--on-anomaly %q: use alert, second_factor or block", onAnomaly)
				}
				if err := th.Settings().PutSecuritySettings(ctx, next); err != nil {
					return err
				}
				if _, err := cliAudit(ctx, th, store.AuditRecord{
					Action: audit.ActionSecuritySettings, Target: "tenant:" + t.Slug,
					Details: map[string]string{"require_2fa": strconv.FormatBool(r2), "grace": g.String(), "require_passkeys_for_admins": strconv.FormatBool(pka),
						"anomaly_action": next.AnomalyAction},
				}); err != nil {
					return err
				}
				cur = next
			}
			g := cur.GracePeriod
			if g <= 0 && cur.UpdatedAt.IsZero() {
				g = authn.DefaultGracePeriod
			}
			action := cur.AnomalyAction
			if action == "" {
				action = "alert"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: require 2FA %v (grace %v), require passkeys for admins %v, on anomaly %s, lockout after %d failures for %v up to %v (0: gateway default)\n",
				t.Slug, cur.Require2FA, g, cur.RequirePasskeysForAdmins, action, cur.LockoutThreshold, cur.LockoutDuration, cur.LockoutMax)
			return nil
		},
	}
	c.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", DefaultTenantSlug, "tenant slug")
	cmd.Flags().StringVar(&require2FA, "require-2fa", "", "on or off")
	cmd.Flags().StringVar(&passkeysForAdmins, "passkeys-for-admins", "", "on or off")
	cmd.Flags().StringVar(&grace, "grace", "", "grace period for members without a second factor (e.g. 7d)")
	cmd.Flags().StringVar(&onAnomaly, "on-anomaly", "", "what an unusual sign-in leads to: alert, second_factor or block")
	cmd.Flags().IntVar(&lockThreshold, "lockout-threshold", -1, "failures that lock an account (0: the gateway's default)")
	cmd.Flags().StringVar(&lockDur, "lockout-duration", "", "first lock's length, doubling after (0: the gateway's default)")
	cmd.Flags().StringVar(&lockMax, "lockout-max", "", "cap of the doubling (0: the gateway's default)")
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
