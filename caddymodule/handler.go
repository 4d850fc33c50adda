package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/ulule/limiter/v3"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/web"
	"github.com/gatehouse-dev/gatehouse/policies"
)

// defaultPortalPrefix is where the portal lives unless the portal option moves it.
const defaultPortalPrefix = "/auth"

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is `http.handlers.gatehouse`: it decides every request of a site and serves
// Gatehouse's pages under the portal prefix. Identity headers sent by the client are
// removed before the request goes on, in every spelling.
type Handler struct {
	// Tenant is the slug of the tenant this site belongs to. Default "default".
	// Mutually exclusive with TenantByHost.
	Tenant string `json:"tenant,omitempty"`

	// TenantByHost resolves the tenant from the request's host among the host names
	// registered with tenants (`gatehouse tenant create --host`). Default false.
	TenantByHost bool `json:"tenant_by_host,omitempty"`

	// Portal is the path prefix of Gatehouse's pages and API. Default "/auth".
	Portal string `json:"portal,omitempty"`

	// HomeURL is where the portal's "Back to the app" link and the end of first-run
	// setup lead: a same-site path or an absolute URL. Default "/".
	HomeURL string `json:"home_url,omitempty"`

	// RemoteHeaders also sends Remote-User, Remote-Email, Remote-Name and
	// Remote-Groups upstream (a convention many apps read). Default false. Client-sent
	// Remote-* headers are removed either way.
	RemoteHeaders bool `json:"remote_headers,omitempty"`

	// StripHeaders names more request headers to remove before the upstream sees them
	// (besides Gatehouse's own and identity.DefaultForeignHeaders). Default: none.
	StripHeaders []string `json:"strip_headers,omitempty"`

	// KeepHeaders names headers of identity.DefaultForeignHeaders that this site's
	// upstream needs from the client and may keep (e.g. X-Original-URL behind a trusted
	// front proxy). Default: none (all are stripped).
	KeepHeaders []string `json:"keep_headers,omitempty"`

	// Rules are matched in order against the normalised path; the first match decides.
	Rules []Rule `json:"rules,omitempty"`

	// Limits throttle proxied routes per client IP and per signed-in user: the first
	// matching path pattern applies. Default: none.
	Limits []RouteLimit `json:"limits,omitempty"`

	// DefaultPolicy applies when no rule matches: "signed_in" or "deny".
	// Default "signed_in"; "deny" with PolicyFile.
	DefaultPolicy string `json:"default_policy,omitempty"`

	// PolicyFile is a YAML file of route rules (README "Route policies"), read at
	// start; instead of Rules. A path policies/NAME.yaml that is not on disk is read
	// from the examples built into the binary. Default: none.
	PolicyFile string `json:"policy_file,omitempty"`

	// TokenAudience is the audience ("aud") of this site's access tokens, which bearer
	// requests must name. Default: the site's origin (e.g. https://app.example.com).
	TokenAudience string `json:"token_audience,omitempty"`

	// IdentityHeaders chooses the identity headers sent upstream (identity.ParseSelection
	// words: user_id email name tenant_id tenant roles teams session_id auth_methods
	// permission assertion, "default", "all", and +word/-word relative to the default).
	// Default: user_id email tenant roles permission (README "Identity headers").
	IdentityHeaders []string `json:"identity_headers,omitempty"`

	// NoAssertion stops the X-Gatehouse-Assertion header (a signed JWT with the
	// identity) even when IdentityHeaders names it. Default false.
	NoAssertion bool `json:"no_assertion,omitempty"`

	// ForwardAuthorization lets a bearer Authorization header through to the upstream.
	// Default false: the upstream gets the verified identity, not the credential.
	ForwardAuthorization bool `json:"forward_authorization,omitempty"`

	// SecurityHeaders adds HSTS (HTTPS only), nosniff, frame options, a referrer
	// policy and an operator's CSP to the upstream's responses where the app set none
	// (README "Response headers"). Default: none added.
	SecurityHeaders *SecurityHeaders `json:"security_headers,omitempty"`

	// ForwardAuthEndpoint is the path of a verify route for a front proxy (nginx
	// auth_request, Traefik forwardAuth, Caddy forward_auth) that decides the request
	// named by its X-Forwarded-* headers (README "Forward auth"). Default: none.
	ForwardAuthEndpoint string `json:"forward_auth_endpoint,omitempty"`

	app    *App
	secHdr *secHeaders // compiled SecurityHeaders; nil: none
	// securityTxt answers /.well-known/security.txt from the workspace's settings.
	securityTxt *securityTxts
	log         *zap.Logger
	policy      *policy.Policy
	strip       *identity.Stripper
	send        identity.Selection // compiled IdentityHeaders
	limits      []gateway.RouteLimit

	wired *wiring
}

// wiring connects a provisioned handler to the app's services, once.
type wiring struct {
	once  sync.Once
	ready atomic.Pointer[site] // set once the site is wired
	err   error
}

// site is a handler wired to the app's services.
type site struct {
	gw     *gateway.Gateway
	portal *web.Portal
	audit  *auditing
}

// Rule is one route rule.
type Rule struct {
	// Path pattern: exact ("/health"), prefix ("/public/*"), or with named
	// segments ("/api/deals/{id}").
	Path string `json:"path"`
	// Methods limits the rule to these methods (uppercase). Default: all.
	Methods []string `json:"methods,omitempty"`
	// Access is "public", "signed_in" or "deny"; empty when Require is set.
	Access string `json:"access,omitempty"`
	// Require is the permission ("resource:action", e.g. "deals:edit") the route
	// needs. Default: none.
	Require string `json:"require,omitempty"`
	// Scope is the least scope the route needs: "own" (the default), "team" or
	// "tenant" (with Require).
	Scope string `json:"scope,omitempty"`
	// OwnerParam names the path parameter that must be the user's id when their best
	// scope for Require is own. Default: none.
	OwnerParam string `json:"owner_param,omitempty"`
	// TeamParam names the path parameter that must be one of the user's teams when
	// their best scope is below tenant. Default: none.
	TeamParam string `json:"team_param,omitempty"`
	// MFA requires a session signed in with a second factor. Default false.
	MFA bool `json:"mfa,omitempty"`
	// NoAudit stops recording the route's proxied writes in the audit trail.
	// Default false: POST, PUT, PATCH and DELETE are recorded.
	NoAudit bool `json:"no_audit,omitempty"`
	// AuditMethods are more methods to record (e.g. GET). Default: none.
	AuditMethods []string `json:"audit_methods,omitempty"`
}

// policyRule translates r.
func (r Rule) policyRule() (policy.Rule, error) {
	pr := policy.Rule{Path: r.Path, Methods: upper(r.Methods), Require: r.Require,
		OwnerParam: r.OwnerParam, TeamParam: r.TeamParam, MFA: r.MFA, NoAudit: r.NoAudit, AuditMethods: upper(r.AuditMethods)}
	var errs []error
	switch {
	case r.Require != "" && r.Access != "":
		errs = append(errs, fmt.Errorf("access %q and require %q: a rule has one or the other", r.Access, r.Require))
	case r.Require != "":
		pr.Access = policy.RequirePermission
	default:
		a, err := policy.ParseAccess(r.Access)
		if err != nil {
			errs = append(errs, err)
		}
		pr.Access = a
	}
	if r.Scope != "" {
		sc, err := policy.ParseScope(r.Scope)
		if err != nil {
			errs = append(errs, err)
		}
		pr.Scope = sc
	}
	return pr, errors.Join(errs...)
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

// Provision fills in the defaults and compiles the policy, the route limits and the
// header stripper; every problem is reported at once. It opens nothing: the gateway
// is wired to the app's services on the first request after the app started.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.log = ctx.Logger()
	h.wired = new(wiring)
	h.applyDefaults()
	var errs []error
	var err error
	if h.policy, err = h.compilePolicy(); err != nil {
		errs = append(errs, err)
	} else if _, serr := os.Stat(h.PolicyFile); h.PolicyFile != "" && serr != nil {
		h.log.Warn("policy_file is not on disk: using the example of that name built into the binary",
			zap.String("policy_file", h.PolicyFile), zap.Error(serr))
	}
	if h.limits, err = h.routeLimits(); err != nil {
		errs = append(errs, err)
	}
	if h.strip, err = identity.NewStripper(h.StripHeaders, h.KeepHeaders); err != nil {
		errs = append(errs, fmt.Errorf("strip_header/keep_header: %w", err))
	}
	if h.send, err = h.selection(); err != nil {
		errs = append(errs, err)
	}
	h.securityTxt = &securityTxts{}
	if h.SecurityHeaders != nil {
		if h.secHdr, err = h.SecurityHeaders.compile(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	appVal, err := ctx.App("gatehouse")
	if err != nil {
		return fmt.Errorf("loading gatehouse app: %w", err)
	}
	h.app = appVal.(*App)
	if !h.TenantByHost {
		h.app.serveTenant(h.Tenant, h.Portal)
	}
	return nil
}

// selection compiles IdentityHeaders and NoAssertion.
func (h *Handler) selection() (identity.Selection, error) {
	sel := identity.DefaultSelection
	if len(h.IdentityHeaders) > 0 {
		var err error
		if sel, err = identity.ParseSelection(h.IdentityHeaders); err != nil {
			return 0, fmt.Errorf("identity_headers: %w", err)
		}
	}
	if h.NoAssertion {
		sel &^= identity.SendAssertion
	}
	return sel, nil
}

// applyDefaults fills in what the configuration left out.
func (h *Handler) applyDefaults() {
	if h.Portal == "" {
		h.Portal = defaultPortalPrefix
	}
	if h.Tenant == "" && !h.TenantByHost {
		h.Tenant = admin.DefaultTenantSlug
	}
	if h.DefaultPolicy == "" {
		h.DefaultPolicy = policy.SignedIn.String()
		if h.PolicyFile != "" {
			h.DefaultPolicy = policy.Deny.String()
		}
	}
	if h.HomeURL == "" {
		h.HomeURL = "/"
	}
}

// Validate checks the configuration without building or changing anything.
func (h *Handler) Validate() error {
	var errs []error
	if h.Tenant != "" && h.TenantByHost {
		errs = append(errs, errors.New("tenant and tenant_by_host are mutually exclusive"))
	}
	if !strings.HasPrefix(h.Portal, "/") || strings.HasSuffix(h.Portal, "/") || strings.ContainsAny(h.Portal, "*{}?#%\\ ") {
		errs = append(errs, fmt.Errorf("portal %q: must be a path like /auth, without a trailing slash", h.Portal))
	}
	if a, err := policy.ParseAccess(h.DefaultPolicy); err != nil || a == policy.Public {
		errs = append(errs, fmt.Errorf("default_policy %q: must be signed_in or deny", h.DefaultPolicy))
	}
	if err := validForwardAuthEndpoint(h.ForwardAuthEndpoint, h.Portal); err != nil {
		errs = append(errs, err)
	}
	if !validHomeURL(h.HomeURL) {
		errs = append(errs, fmt.Errorf("home_url %q: must be a same-site path such as / or an absolute http(s) URL", h.HomeURL))
	}
	return errors.Join(errs...)
}

func validHomeURL(u string) bool {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return !strings.ContainsAny(u, " \t\r\n<>\"")
	}
	return strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.ContainsAny(u, "\\ \t\r\n<>\"")
}

func (h *Handler) compilePolicy() (*policy.Policy, error) {
	def, err := policy.ParseAccess(h.DefaultPolicy)
	if err != nil || def == policy.Public {
		return nil, fmt.Errorf("default_policy %q: must be signed_in or deny", h.DefaultPolicy)
	}
	if h.PolicyFile != "" {
		if len(h.Rules) > 0 {
			return nil, fmt.Errorf("policy_file %s and rule lines: use one or the other", h.PolicyFile)
		}
		data, err := readPolicyFile(h.PolicyFile)
		if err != nil {
			return nil, err
		}
		rules, err := policy.ParseFile(h.PolicyFile, data)
		if err != nil {
			return nil, fmt.Errorf("policy_file: %w", err)
		}
		return policy.Compile(rules, def)
	}
	rules := make([]policy.Rule, 0, len(h.Rules))
	var errs []error
	for i, r := range h.Rules {
		pr, err := r.policyRule()
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i+1, r.Path, err))
			continue
		}
		rules = append(rules, pr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return policy.Compile(rules, def)
}

// readPolicyFile reads a policy file from disk or, for policies/NAME.yaml not on
// disk, from the examples built into the binary.
func readPolicyFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		if rest, ok := strings.CutPrefix(filepath.ToSlash(name), "policies/"); ok && !strings.Contains(rest, "/") {
			if b, err2 := policies.FS.ReadFile(rest); err2 == nil {
				return b, nil
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("policy_file: %w", err)
	}
	return data, nil
}

// routeLimits parses the site's route limits.
func (h *Handler) routeLimits() ([]gateway.RouteLimit, error) {
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, err := gateway.NewRouteLimits(ls, ratelimit.New(nil, nil)); err != nil { // patterns compile
		return nil, err
	}
	return ls, nil
}

// startWait bounds how long a request waits for the app to start.
const startWait = 15 * time.Second

// site wires the gateway and the portal to the app's services, once, after the app
// started (a request that arrives earlier waits for it).
func (h *Handler) site(ctx context.Context) (*site, error) {
	w := h.wired
	if s := w.ready.Load(); s != nil {
		return s, nil // every request after the first: no wait, no allocation
	}
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	svc, err := h.app.services(ctx)
	if err != nil {
		return nil, err
	}
	w.once.Do(func() {
		var s *site
		if s, w.err = h.build(svc); w.err == nil {
			w.ready.Store(s)
		}
	})
	return w.ready.Load(), w.err
}

func (h *Handler) build(svc *services) (*site, error) {
	var resolver gateway.TenantResolver = gateway.StaticTenant{Dir: svc.tenants, Slug: h.Tenant}
	if h.TenantByHost {
		resolver = gateway.HostTenants{Dir: svc.tenants}
	}
	var routeLimits *gateway.RouteLimits
	if len(h.limits) > 0 {
		var err error
		if routeLimits, err = gateway.NewRouteLimits(h.limits, svc.limiter); err != nil {
			return nil, err
		}
	}
	portal := &web.Portal{
		Prefix: h.Portal, HomeURL: h.HomeURL, BaseURL: h.app.BaseURL,
		SignIn: svc.signIn, Account: svc.account, Admin: svc.admin, Sessions: svc.sessions,
		Limiter: svc.limiter, Metrics: h.app.metrics, Rules: svc.rules, Clock: svc.clock, Logger: h.log,
		Tokens: svc.tokens, Keys: svc.keys, TokenAudience: h.TokenAudience, Exports: svc.exports,
	}
	portal.Init()
	gw := &gateway.Gateway{RouteLimits: routeLimits, Strip: h.strip,
		Prefix: h.Portal, Tenants: resolver, Policy: h.policy, Sessions: svc.sessions, RemoteHeaders: h.RemoteHeaders,
		Metrics: h.app.metrics, Logger: h.log,
		Bearer: svc.verifier, TokenAudience: h.TokenAudience, ForwardAuthorization: h.ForwardAuthorization,
		Send: h.send,
	}
	if h.send.Has(identity.SendAssertion) {
		gw.Assertions = svc.assertions
	}
	au := &auditing{policy: h.policy, commit: svc.audit, denials: svc.denials, log: h.log}
	return &site{gw: gw, portal: portal, audit: au}, nil
}

// ServeHTTP decides the request and calls next only when it is allowed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	s, err := h.site(r.Context())
	if err != nil {
		h.log.Error("gateway not ready", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return nil
	}
	https := session.SecureRequest(r) // Secure, __Host- cookies unless plain HTTP on loopback
	gw := s.gw
	if h.ForwardAuthEndpoint != "" && r.URL.Path == h.ForwardAuthEndpoint {
		h.serveForwardAuth(w, r, s)
		return nil
	}
	if r.URL.Path == securityTxtPath && h.securityTxt.serve(w, r, gw, r.TLS != nil, h.log) {
		return nil // the workspace's RFC 9116 file: public, whatever the rules say
	}
	ip := clientIP(r)
	d := gw.Decide(r, https, ip)
	switch d.Outcome {
	case gateway.Allow:
		if err := gw.Apply(r, d); err != nil {
			// No assertion can be made (no signing key): the upstream must not get a
			// signed-in request without the assertion it may rely on.
			h.log.Error("signing the assertion", zap.Error(err))
			gw.Respond(w, r, gateway.Decision{Outcome: gateway.Unavailable})
			return nil
		}
		repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if d.Entry != nil && repl != nil {
			repl.Set("http.auth.user.id", d.Entry.User.ID)
			repl.Set("http.auth.user.email", d.Entry.User.Email)
			repl.Set("http.auth.user.tenant", d.Workspace.Slug)
			repl.Set("http.auth.user.session_id", d.Entry.Session.ID)
		}
		if h.secHdr != nil {
			w = h.secHdr.wrap(w, r.TLS != nil)
		}
		return s.audit.proxy(w, r, d, repl, next, gw)
	case gateway.Portal:
		req := web.Request{Workspace: d.Workspace, HTTPS: https, ClientIP: ip, HostVerified: h.TenantByHost}
		req.RequestID = requestID(r)
		s.portal.ServeHTTP(w, r.WithContext(web.WithRequest(r.Context(), req)))
		return nil
	default:
		s.audit.denied(r, d, gw)
		gw.Respond(w, r, d)
		return nil
	}
}

// requestID is Caddy's id of the request ({http.request.uuid}), "" outside Caddy.
func requestID(r *http.Request) string {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		return repl.ReplaceAll("{http.request.uuid}", "")
	}
	return ""
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
