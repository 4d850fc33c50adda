package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Outcome is what to do with a request.
type Outcome uint8

// Outcomes.
const (
	Deny          Outcome = iota // zero value: anything not decided is denied
	Allow                        // call the next handler (identity headers set if signed in)
	Portal                       // serve Gatehouse's own page or API
	RedirectLogin                // browser without a session: 302 to sign-in
	Unauthorized                 // API client without a session: 401 JSON
	BadRequest                   // ambiguous or malformed path: 400
	Unavailable                  // a dependency failed: 503, never allow
	UnknownTenant                // no tenant serves this host: 404
	RateLimited                  // a route limit was reached: 429
	Forbidden                    // signed in, but the route's permission is not granted: 403
	StepUp                       // the route needs a second factor this session did not use

	NumOutcomes = iota // how many outcomes there are
)

var outcomeNames = [...]string{"deny", "allow", "portal", "redirect_login", "unauthorized", "bad_request", "unavailable", "unknown_tenant", "rate_limited", "forbidden", "step_up"}

// String names the outcome (metric label).
func (o Outcome) String() string { return outcomeNames[o] }

// Metrics receives decisions; may be nil.
type Metrics interface {
	PolicyDecision(o Outcome)
}

// Gateway holds one site's configuration.
type Gateway struct {
	Prefix string // portal prefix, e.g. "/auth"
	// RemoteHeaders adds the Remote-* headers for signed-in requests.
	RemoteHeaders bool
	// Strip removes the identity headers a client must not send upstream: Gatehouse's
	// own and those of other proxies (nil: the defaults).
	Strip    *identity.Stripper
	Tenants  TenantResolver
	Policy   *policy.Policy
	Sessions Sessions
	Metrics  Metrics
	Logger   *zap.Logger
	// RouteLimits throttles proxied routes (optional).
	RouteLimits *RouteLimits
	// Bearer checks access tokens sent as Authorization: Bearer (nil: refused).
	Bearer Bearer
	// Send is the set of identity headers this site sends (zero: the default,
	// identity.DefaultSelection). The assertion goes when Send has it and Assertions
	// is set.
	Send identity.Selection
	// Assertions mints the X-Gatehouse-Assertion of signed-in requests (nil: none).
	Assertions Assertions
	// TokenAudience is the audience this site's access tokens must name ("": the
	// site's origin).
	TokenAudience string
	// ForwardAuthorization lets a bearer Authorization header through to the upstream
	// (by default it stops here: the upstream gets the verified identity instead).
	ForwardAuthorization bool
}

// Sessions validates session tokens and records activity (session.Manager).
type Sessions interface {
	Validate(ctx context.Context, tenant store.TenantHandle, slug, token string) (*session.Entry, error)
	ValidateID(ctx context.Context, tenant store.TenantHandle, slug, id string) (*session.Entry, error)
	Seen(tenant store.TenantHandle, e *session.Entry, ip string)
}

// Bearer verifies an access token for a site and tenant and names its session
// (token.Verifier).
type Bearer interface {
	Verify(raw string, site token.Site, tenantID string) (sessionID string, err error)
}

// Assertions mints the signed assertion of a session's facts for a site
// (token.Assertions).
type Assertions interface {
	For(f *identity.Facts, site token.Site) (string, error)
}

// Decision is the result of Decide.
type Decision struct {
	Outcome   Outcome
	Path      string         // normalised path
	Entry     *session.Entry // the session when signed in
	Rule      int            // matched rule index, -1 for the default
	Workspace store.Workspace
	// RetryAfter is set for RateLimited.
	RetryAfter time.Duration
	// HTTPS: the request came over TLS (for the assertion's audience).
	HTTPS bool
	// BearerRefused: an Authorization: Bearer token was sent and refused (invalid,
	// expired, another site's or tenant's, or its session has ended).
	BearerRefused bool
	// Verdict is the permission check of a signed-in request on a route that
	// requires a permission or a second factor: on Allow its Permission and Scope go
	// upstream; on Forbidden and StepUp it says what was missing.
	Verdict policy.Verdict
}

// Decide decides a request without changing it: nothing it reads is an identity
// header, so the decision cannot be steered by one. Apply then prepares an allowed
// request for the upstream; Respond answers the others.
func (g *Gateway) Decide(r *http.Request, https bool, clientIP string) Decision {
	d := Decision{Rule: -1, HTTPS: https}
	path, err := policy.NormalizePath(r.URL.EscapedPath())
	if err != nil {
		d.Outcome = BadRequest
		return g.done(d)
	}
	d.Path = path
	ws, err := g.Tenants.Resolve(r.Context(), r.Host)
	if err != nil {
		if errors.Is(err, ErrUnknownTenant) {
			d.Outcome = UnknownTenant
		} else {
			g.Logger.Error("resolving tenant", zap.Error(err))
			d.Outcome = Unavailable
		}
		return g.done(d)
	}
	d.Workspace = ws
	if path == g.Prefix || (strings.HasPrefix(path, g.Prefix) && path[len(g.Prefix)] == '/') {
		d.Outcome = Portal
		return g.done(d)
	}
	host := stripPort(r.Host)
	pd := g.decidePolicy(r, host, path)
	d.Rule = pd.Rule
	if pd.Access == policy.Deny {
		d.Outcome = Deny
		return g.done(d)
	}
	e, err := g.session(r, https, ws)
	d.BearerRefused = errors.Is(err, token.ErrInvalidToken) || (errors.Is(err, session.ErrNoSession) && hasBearer(r))
	switch {
	case e != nil && err == nil:
		d.Entry = e
		g.Sessions.Seen(ws.TenantHandle, e, clientIP)
	case err != nil && !d.BearerRefused && !errors.Is(err, session.ErrNoSession):
		// The store failed: a public route still works (anonymously); a protected
		// one answers 503 rather than guessing.
		g.Logger.Error("validating session", zap.Error(err))
		if pd.Access != policy.Public {
			d.Outcome = Unavailable
			return g.done(d)
		}
	}
	switch {
	case g.RouteLimits != nil && !g.RouteLimits.allow(r, &d, host, path, clientIP):
		d.Outcome = RateLimited
	case pd.Access == policy.Public:
		d.Outcome = Allow
	case d.Entry != nil:
		d.Outcome = Allow
		if g.Policy.Checked(&pd) {
			d.Verdict = g.Policy.Authorize(&pd, &d.Entry.Subject)
			switch d.Verdict.Outcome {
			case policy.Forbidden:
				d.Outcome = Forbidden
			case policy.MFARequired:
				d.Outcome = StepUp
			}
		}
	case d.BearerRefused, isAPIClient(r):
		d.Outcome = Unauthorized
	default:
		d.Outcome = RedirectLogin
	}
	return g.done(d)
}

// session reads the request's credential — a bearer token when one is sent (the
// cookie is then not consulted), else the session cookie — and validates it: nil and
// no error when there is none.
func (g *Gateway) session(r *http.Request, https bool, ws store.Workspace) (*session.Entry, error) {
	if raw, ok := bearerToken(r.Header); ok {
		sid, err := g.verifyBearer(raw, https, r.Host, ws)
		if err != nil {
			return nil, err
		}
		return g.Sessions.ValidateID(r.Context(), ws.TenantHandle, ws.Slug, sid)
	}
	if c := cookieValue(r.Header, session.CookieName(https)); c != "" {
		return g.Sessions.Validate(r.Context(), ws.TenantHandle, ws.Slug, c) // the handle as it is: boxing ws would allocate
	}
	return nil, nil
}

func hasBearer(r *http.Request) bool {
	_, ok := bearerToken(r.Header)
	return ok
}

// Identify names the signed-in user of a request Decide refused before reading its
// session (a route the policy denies), for the audit record of the denial; nil when
// there is none or it cannot be read. It changes nothing (no activity is recorded).
func (g *Gateway) Identify(r *http.Request, d Decision) *session.Entry {
	if d.Entry != nil || d.Workspace.TenantHandle == nil {
		return d.Entry
	}
	e, err := g.session(r, d.HTTPS, d.Workspace)
	if err != nil {
		return nil
	}
	return e
}

// verifyBearer checks an access token for this site and tenant.
func (g *Gateway) verifyBearer(raw string, https bool, host string, ws store.Workspace) (string, error) {
	if g.Bearer == nil {
		return "", token.ErrInvalidToken
	}
	return g.Bearer.Verify(raw, token.Site{HTTPS: https, Host: host, Audience: g.TokenAudience}, ws.TenantID())
}

// Apply prepares an allowed request for the upstream: it strips every identity header
// the client sent (in every spelling, and Connection tokens naming them), sets the
// verified identity when signed in — with the signed assertion when the site sends
// one — and removes what the upstream must not see (Gatehouse's cookies, a bearer
// token unless the site forwards it, identity headers smuggled as trailers). It fails
// only when the assertion cannot be made; the request must then not go on.
func (g *Gateway) Apply(r *http.Request, d Decision) error {
	g.Strip.Strip(r.Header)
	if !g.ForwardAuthorization {
		if _, ok := bearerToken(r.Header); ok {
			delete(r.Header, "Authorization")
		}
	}
	if err := g.identityHeaders(r.Header, d, r.Host); err != nil {
		return err
	}
	prepareUpstream(r, g.Strip)
	return nil
}

// identityHeaders sets the verified identity of a signed-in decision in h — with the
// signed assertion for host when the site sends one; nothing when d has no session.
func (g *Gateway) identityHeaders(h http.Header, d Decision, host string) error {
	if d.Entry == nil {
		return nil
	}
	send := g.Send
	if send == 0 {
		send = identity.DefaultSelection
	}
	d.Entry.Headers.ApplySelected(h, send)
	if d.Verdict.Permission != "" && send&identity.SendPermission != 0 {
		h[identity.HeaderPermission] = []string{d.Verdict.Permission}
		h[identity.HeaderScope] = scopeValues[d.Verdict.Scope]
		if d.Verdict.Scope == policy.ScopeTeam && send&identity.SendTeams == 0 {
			// A team-scoped grant: the app filters by the user's teams.
			if teams := d.Entry.Headers.Get(identity.HeaderTeams); teams != "" {
				h[identity.HeaderTeams] = []string{teams}
			}
		}
	}
	if g.RemoteHeaders {
		d.Entry.Headers.ApplyRemote(h)
	}
	if g.Assertions != nil && send&identity.SendAssertion != 0 {
		a, err := g.Assertions.For(&d.Entry.Facts, token.Site{HTTPS: d.HTTPS, Host: host})
		if err != nil {
			return err
		}
		h[assertionHeader] = []string{a}
	}
	return nil
}

// scopeValues are the X-Gatehouse-Scope values, one shared slice per scope, so that
// setting the header does not allocate.
var scopeValues = [...][]string{
	policy.ScopeNone:   {""},
	policy.ScopeOwn:    {"own"},
	policy.ScopeTeam:   {"team"},
	policy.ScopeTenant: {"tenant"},
}

// assertionHeader is X-Gatehouse-Assertion in canonical form.
const assertionHeader = "X-Gatehouse-Assertion"

// bearerToken returns the token of an "Authorization: Bearer <token>" header (the
// scheme in any case, RFC 6750).
func bearerToken(h http.Header) (string, bool) {
	v := h["Authorization"]
	if len(v) == 0 {
		return "", false
	}
	const scheme = "Bearer "
	a := v[0]
	if len(a) <= len(scheme) || !strings.EqualFold(a[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(a[len(scheme):]), true
}

// decidePolicy matches the policy on the path and, strictest answer winning, on readings
// an upstream framework may apply that the path alone does not show: the path without a
// format suffix on its last segment (/admin.json routed as /admin) and the method named
// by a method-override header. (A _method field in a form body is not seen.)
func (g *Gateway) decidePolicy(r *http.Request, host, path string) policy.Decision {
	pd := g.Policy.Decide(host, r.Method, path)
	last := strings.LastIndexByte(path, '/') + 1
	if dot := strings.IndexByte(path[last:], '.'); dot > 0 {
		pd = g.Policy.Merge(pd, g.Policy.Decide(host, r.Method, path[:last+dot]))
	}
	for _, name := range methodOverrideHeaders {
		if vs := r.Header[name]; len(vs) > 0 {
			for _, v := range vs {
				pd = g.Policy.Merge(pd, g.Policy.Decide(host, strings.ToUpper(strings.TrimSpace(v)), path))
			}
		}
	}
	return pd
}

func (g *Gateway) done(d Decision) Decision {
	if g.Metrics != nil {
		g.Metrics.PolicyDecision(d.Outcome)
	}
	return d
}

// isAPIClient tells API clients (JSON or bearer) from browsers.
func isAPIClient(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") || r.Header.Get("Authorization") != ""
}
