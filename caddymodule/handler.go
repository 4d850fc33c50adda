package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/ulule/limiter/v3"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/web"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is `http.handlers.gatehouse`: it decides every request of a site and serves
// Gatehouse's pages under the portal prefix. Identity headers sent by the client are
// removed before anything else, in every spelling.
type Handler struct {
	// Tenant is the slug of the tenant this site belongs to. Default "default".
	// Mutually exclusive with TenantByHost.
	Tenant string `json:"tenant,omitempty"`

	// TenantByHost resolves the tenant from the request's host among the host names
	// registered with tenants (`gatehouse tenant create --host`). Default false.
	TenantByHost bool `json:"tenant_by_host,omitempty"`

	// Portal is the path prefix of Gatehouse's pages and API. Default "/auth".
	Portal string `json:"portal,omitempty"`

	// RemoteHeaders also sends Remote-User, Remote-Email, Remote-Name and
	// Remote-Groups upstream (a convention many apps read). Default false. Client-sent
	// Remote-* headers are removed either way.
	RemoteHeaders bool `json:"remote_headers,omitempty"`

	// Rules are matched in order against the normalised path; the first match decides.
	Rules []Rule `json:"rules,omitempty"`

	// Limits throttle proxied routes per client IP and per signed-in user: the first
	// matching path pattern applies. Default: none.
	Limits []RouteLimit `json:"limits,omitempty"`

	// DefaultPolicy applies when no rule matches: "signed_in" or "deny".
	// Default "signed_in".
	DefaultPolicy string `json:"default_policy,omitempty"`

	gw  *gateway.Gateway
	app *App
	log *zap.Logger
}

// Rule is one route rule.
type Rule struct {
	// Path pattern: exact ("/health"), prefix ("/public/*"), or with named
	// segments ("/api/deals/{id}").
	Path string `json:"path"`
	// Methods limits the rule to these methods (uppercase). Default: all.
	Methods []string `json:"methods,omitempty"`
	// Access is "public", "signed_in" or "deny".
	Access string `json:"access"`
}

// RouteLimit limits requests to a path pattern.
type RouteLimit struct {
	// Path pattern, as in rules.
	Path string `json:"path"`
	// PerIP is "<count>/<period>" (e.g. "60/1m") per client IP; PerUser the same per
	// signed-in user (optional).
	PerIP   string `json:"per_ip"`
	PerUser string `json:"per_user,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.gatehouse", New: func() caddy.Module { return new(Handler) }}
}

// Provision compiles the policy and wires the site to the app's services.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.log = ctx.Logger()
	if h.Portal == "" {
		h.Portal = "/auth"
	}
	if h.Tenant == "" && !h.TenantByHost {
		h.Tenant = DefaultTenantSlug
	}
	if h.DefaultPolicy == "" {
		h.DefaultPolicy = policy.SignedIn.String()
	}
	if err := h.Validate(); err != nil {
		return err
	}
	pol, err := h.compilePolicy()
	if err != nil {
		return err
	}
	appVal, err := ctx.App("gatehouse")
	if err != nil {
		return fmt.Errorf("loading gatehouse app: %w", err)
	}
	h.app = appVal.(*App)
	svc := h.app.svc
	var resolver gateway.TenantResolver
	if h.TenantByHost {
		resolver = &gateway.HostTenants{Store: svc.store, TTL: 30 * time.Second, Now: svc.clock.Now}
	} else {
		t, err := svc.store.Tenants().TenantBySlug(ctx, h.Tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w (create it with: gatehouse tenant create --slug %s)", h.Tenant, err, h.Tenant)
		}
		resolver = &gateway.StaticTenant{Tenant: t, Handle: svc.store.Tenant(t.ID)}
		h.app.notePortal(t.ID, h.Portal)
	}
	portal := &web.Portal{
		Prefix: h.Portal, Sessions: svc.sessions, Authn: svc.authn, MFA: svc.mfa, Passkeys: svc.passkeys, Limiter: svc.limiter, Audit: svc.audit,
		Notifier: svc.notifier, Risk: web.RiskConfig{GeoIP: svc.geoip, MaxSpeedKmh: h.app.MaxTravelSpeed}, BaseURL: h.app.BaseURL,
		Hasher: svc.hasher, Rules: svc.rules, Clock: svc.clock, Logger: h.log, Metrics: h.app.metrics,
	}
	portal.Init()
	routeLimits, err := h.routeLimits(svc.limiter)
	if err != nil {
		return err
	}
	h.gw = &gateway.Gateway{RouteLimits: routeLimits,
		Prefix: h.Portal, Tenants: resolver, Policy: pol, Sessions: svc.sessions, RemoteHeaders: h.RemoteHeaders,
		Portal: portal, Metrics: h.app.metrics, Logger: h.log,
	}
	return nil
}

// Validate checks the configuration without changing anything; every problem is
// reported at once.
func (h *Handler) Validate() error {
	var errs []error
	if h.Tenant != "" && h.TenantByHost {
		errs = append(errs, errors.New("tenant and tenant_by_host are mutually exclusive"))
	}
	if h.Portal != "" && (!strings.HasPrefix(h.Portal, "/") || strings.HasSuffix(h.Portal, "/") || strings.ContainsAny(h.Portal, "*{}?#%\\ ")) {
		errs = append(errs, fmt.Errorf("portal %q: must be a path like /auth, without a trailing slash", h.Portal))
	}
	if h.DefaultPolicy != "" {
		if a, err := policy.ParseAccess(h.DefaultPolicy); err != nil || a == policy.Public {
			errs = append(errs, fmt.Errorf("default_policy %q: must be signed_in or deny", h.DefaultPolicy))
		}
	}
	if _, err := h.compilePolicy(); err != nil {
		errs = append(errs, err)
	}
	if _, err := h.routeLimits(ratelimit.New(nil, nil)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (h *Handler) compilePolicy() (*policy.Policy, error) {
	def := policy.SignedIn
	if h.DefaultPolicy != "" {
		a, err := policy.ParseAccess(h.DefaultPolicy)
		if err != nil {
			return nil, err
		}
		def = a
	}
	rules := make([]policy.Rule, 0, len(h.Rules))
	var errs []error
	for i, r := range h.Rules {
		a, err := policy.ParseAccess(r.Access)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i+1, r.Path, err))
			continue
		}
		rules = append(rules, policy.Rule{Path: r.Path, Methods: upper(r.Methods), Access: a})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return policy.Compile(rules, def)
}

// ServeHTTP decides the request and calls next only when it is allowed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	https := session.SecureRequest(r) // Secure, __Host- cookies unless plain HTTP on loopback
	d := h.gw.Decide(r, https, clientIP(r))
	switch d.Outcome {
	case gateway.Allow:
		if d.Entry != nil {
			if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
				repl.Set("http.auth.user.id", d.Entry.User.ID)
				repl.Set("http.auth.user.email", d.Entry.User.Email)
				repl.Set("http.auth.user.tenant", d.Tenant.Slug)
				repl.Set("http.auth.user.session_id", d.Entry.Session.ID)
			}
		}
		return next.ServeHTTP(w, r)
	case gateway.Portal:
		req := web.Request{Tenant: d.Tenant, Handle: d.Handle, HTTPS: https, ClientIP: clientIP(r)}
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			req.RequestID = repl.ReplaceAll("{http.request.uuid}", "")
		}
		h.gw.Portal.Serve(w, r, d.Path, req)
		return nil
	default:
		h.gw.Respond(w, r, d)
		return nil
	}
}

// routeLimits compiles the site's route limits (nil without any).
func (h *Handler) routeLimits(base *ratelimit.Limiter) (*gateway.RouteLimits, error) {
	if len(h.Limits) == 0 {
		return nil, nil
	}
	var ls []gateway.RouteLimit
	var errs []error
	for _, l := range h.Limits {
		ip, err := parseRate(l.PerIP)
		if err != nil {
			errs = append(errs, fmt.Errorf("limit %s per-IP %q: %w", l.Path, l.PerIP, err))
		}
		var user limiter.Rate
		if l.PerUser != "" {
			if user, err = parseRate(l.PerUser); err != nil {
				errs = append(errs, fmt.Errorf("limit %s per-user %q: %w", l.Path, l.PerUser, err))
			}
		}
		ls = append(ls, gateway.RouteLimit{Path: l.Path, PerIP: ratelimit.Rule{PerIP: ip, PerUser: user}})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return gateway.NewRouteLimits(ls, base)
}

func upper(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(m)
	}
	return out
}

// clientIP is Caddy's client_ip variable, which honours trusted_proxies; never a raw
// X-Forwarded-For.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return ""
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
