package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// "gatehouse policy explain": which rule of a site's policy decides a request and
// why, for a given user, from the config the gateway runs with.

func init() { policySubcommands = append(policySubcommands, policyExplainCmd) }

func policyExplainCmd() *cobra.Command {
	var (
		f            commonFlags
		host, tenant string
		email        string
		mfa          bool
	)
	cmd := &cobra.Command{
		Use:   "explain --config <file> --host <host> [--tenant <slug>] [--user <email>] METHOD PATH",
		Short: "Show which rule decides a request, why the earlier ones did not, and the decision for a user",
		Long: `Finds the gatehouse handler that serves --host in the config, decides METHOD PATH
with its rules (inline rule lines or policy_file) exactly as the gateway does, and
prints every rule tried up to the deciding one with the reason each did not match,
the lenient readings of the request that reach another rule, and the decision.

With --user, the member's roles in --tenant (with the tenant's own role definitions
from the store) give their permissions and best scope, and the verdict says whether
the request would go through and with which X-Gatehouse-Scope. --mfa pretends the
session used a second factor.`,
		Example: `  $ gatehouse policy explain --config Caddyfile --host crm.example.com --user ana@example.com GET /api/users/42/deals`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if host == "" {
				return errors.New("--host is required (the site's host name, as requests name it)")
			}
			h, err := siteHandler(f, host)
			if err != nil {
				return err
			}
			p, err := h.compilePolicy()
			if err != nil {
				return fmt.Errorf("the policy of the site serving %s: %w", host, err)
			}
			var subj *policy.Subject
			if email != "" {
				if tenant == "" {
					tenant = h.Tenant
				}
				if tenant == "" {
					return errors.New("--tenant is required: the site finds its tenant by host")
				}
				env, err := openCLI(cmd.Context(), f, false)
				if err != nil {
					return err
				}
				defer env.Close()
				ws, err := env.workspace(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				addr, err := identity.NormalizeEmail(email)
				if err != nil {
					return fmt.Errorf("--user: %w", err)
				}
				u, err := ws.Users().UserByEmail(cmd.Context(), addr)
				if err != nil {
					return fmt.Errorf("--user %s: no member of tenant %s has this e-mail", email, tenant)
				}
				roles, _, err := session.TenantRoles(cmd.Context(), ws)
				if err != nil {
					return err
				}
				subj = &policy.Subject{UserID: u.ID, Teams: u.Teams, Grants: roles.Grants(u.Roles), MFA: mfa}
				fmt.Fprintf(cmd.OutOrStdout(), "User %s (%s) in tenant %s: roles %s, teams %s, status %s\n\n",
					u.Email, u.ID, tenant, orDash(strings.Join(u.Roles, ",")), orDash(strings.Join(u.Teams, ",")), u.Status)
			}
			return p.Explain(host, strings.ToUpper(args[0]), args[1], subj).Write(cmd.OutOrStdout())
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&host, "host", "", "the request's host (required)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug of --user (default: the site's tenant)")
	cmd.Flags().StringVar(&email, "user", "", "the member's e-mail: decide as them (default: anonymous)")
	cmd.Flags().BoolVar(&mfa, "mfa", false, "the session used a second factor")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// siteHandler returns the gatehouse handler that serves host in the config, with
// the defaults Provision gives it.
func siteHandler(f commonFlags, host string) (*Handler, error) {
	if f.config == "" {
		return nil, errors.New("--config is required (the Caddyfile or JSON config the gateway runs with)")
	}
	cfg, err := loadConfigQuiet(f.config, f.adapter)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	}
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []configRoute `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("--config %s: %w", f.config, err)
	}
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = h
	}
	names := make([]string, 0, len(doc.Apps.HTTP.Servers))
	for name := range doc.Apps.HTTP.Servers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if raw := findHandler(doc.Apps.HTTP.Servers[name].Routes, strings.ToLower(bare)); raw != nil {
			h := &Handler{}
			if err := json.Unmarshal(raw, h); err != nil {
				return nil, fmt.Errorf("--config %s: the gatehouse handler: %w", f.config, err)
			}
			h.applyDefaults()
			return h, nil
		}
	}
	return nil, fmt.Errorf("--host %s: no gatehouse handler in %s serves this host", host, f.config)
}

// configRoute is the part of a Caddy route that leads to a handler.
type configRoute struct {
	Match  []map[string]json.RawMessage `json:"match"`
	Handle []json.RawMessage            `json:"handle"`
}

// findHandler returns the first gatehouse handler in routes that a request for host
// reaches (routes without a host matcher match every host).
func findHandler(routes []configRoute, host string) json.RawMessage {
	for _, r := range routes {
		if !routeServesHost(r, host) {
			continue
		}
		for _, raw := range r.Handle {
			var h struct {
				Handler string        `json:"handler"`
				Routes  []configRoute `json:"routes"`
			}
			if json.Unmarshal(raw, &h) != nil {
				continue
			}
			switch h.Handler {
			case "gatehouse":
				return raw
			case "subroute":
				if found := findHandler(h.Routes, host); found != nil {
					return found
				}
			}
		}
	}
	return nil
}

func routeServesHost(r configRoute, host string) bool {
	if len(r.Match) == 0 {
		return true
	}
	for _, m := range r.Match {
		raw, ok := m["host"]
		if !ok {
			return true
		}
		var hosts []string
		if json.Unmarshal(raw, &hosts) != nil {
			continue
		}
		for _, h := range hosts {
			h = strings.ToLower(h)
			if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) && !strings.Contains(strings.TrimSuffix(host, h[1:]), ".") {
				return true
			}
		}
	}
	return false
}
