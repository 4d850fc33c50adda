package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Request carries what the gateway resolved about a request before the portal sees it.
type Request struct {
	Workspace store.Workspace
	HTTPS     bool
	ClientIP  string
	RequestID string
	// HostVerified: the Host header named a host the tenant is configured for (tenants
	// resolved by host), so links in mail may be built on it.
	HostVerified bool
}

type requestKey struct{}

// WithRequest returns ctx carrying req, for Portal.ServeHTTP.
func WithRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// Sessions is what the portal needs to know who is asking.
type Sessions interface {
	Validate(ctx context.Context, tenant store.TenantHandle, slug, token string) (*session.Entry, error)
	Seen(tenant store.TenantHandle, e *session.Entry, ip string)
}

// Limiter applies the per-IP limit of an endpoint class.
type Limiter interface {
	Allow(ctx context.Context, class ratelimit.Class, ip, user string) ratelimit.Result
}

// Metrics receives portal events; may be nil.
type Metrics interface {
	RateLimited(class string)
}

// Portal serves the pages and API under Prefix.
type Portal struct {
	Prefix  string // e.g. "/auth"
	HomeURL string // where "back to the app" leads (default "/")
	BaseURL string // public address for links in mail ("" = the request's own)

	SignIn   *authn.SignIn
	Account  *account.Service
	Admin    *admin.Service
	Sessions Sessions
	Limiter  Limiter // nil: no per-IP limits
	Metrics  Metrics
	Rules    identity.PasswordRules // shown on the setup page
	Clock    clock.Clock
	Logger   *zap.Logger
	// Tokens runs the token endpoint and Keys publishes the JWKS (both nil: no tokens).
	Tokens Tokens
	Keys   KeySet
	// TokenAudience is the audience of this site's access tokens ("": its origin).
	TokenAudience string
	// Exports runs tenant exports in the background (nil: the exports API answers 404).
	Exports *admin.ExportJobs

	mux *http.ServeMux
}

// Init builds the routes; call once before ServeHTTP.
func (p *Portal) Init() {
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	if p.HomeURL == "" {
		p.HomeURL = "/"
	}
	p.mux = http.NewServeMux()
	p.routes()
}

// ServeHTTP serves a request under the prefix; its context must carry the Request
// (WithRequest). The path is the one the gateway normalised and decided on.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), p.request(r).HTTPS)
	p.mux.ServeHTTP(w, r)
}

func (p *Portal) request(r *http.Request) Request {
	req, _ := r.Context().Value(requestKey{}).(Request)
	return req
}

// The handler areas: each is the Portal seen from one part of the portal.
type (
	signinPages  struct{ *Portal } // signing in and out, re-authentication (signin.go, passkeys.go, password.go)
	linkPages    struct{ *Portal } // mailed links: forgotten passwords, invitations (password.go)
	accountPages struct{ *Portal } // the user's own account (settings.go, sessions.go, password.go)
	adminPages   struct{ *Portal } // the workspace's policy (admin.go)
	memberPages  struct{ *Portal } // members (members.go)
	teamPages    struct{ *Portal } // teams, on the members' pages (teams.go)
	stepUpPages  struct{ *Portal } // stepping up to a second factor for a route that needs one (stepup.go)
)

// call is one portal request as a handler sees it, after its wrapper ran.
type call struct {
	Request
	w    http.ResponseWriter
	r    *http.Request
	api  bool           // answer errors as JSON
	me   *session.Entry // the caller's session, when the route requires one
	csrf string         // the CSRF token for forms on the page
}

// client describes the caller for the sign-in use cases.
func (p *Portal) client(c *call) authn.Client {
	return authn.Client{
		Origin:    audit.Origin{IP: c.ClientIP, UserAgent: c.r.UserAgent(), RequestID: c.RequestID},
		Token:     session.TokenFromRequest(c.r, c.HTTPS),
		DeviceID:  cookie(c.r, deviceCookieName(c.HTTPS)),
		Site:      passkey.Site{Host: c.r.Host, HTTPS: c.HTTPS},
		PortalURL: p.portalURL(c),
	}
}

// self is the caller acting on their own account.
func (p *Portal) self(c *call) account.Self {
	return account.Self{Session: c.me, Client: p.client(c)}
}

// adminOf is the caller administering the workspace.
func (p *Portal) adminOf(c *call) admin.Admin {
	u := c.me.User
	return admin.Admin{Actor: audit.Actor{UserID: u.ID, Email: u.Email, SessionID: c.me.Session.ID},
		Origin: audit.Origin{IP: c.ClientIP, UserAgent: c.r.UserAgent(), RequestID: c.RequestID}, Roles: u.Roles,
		Verified: c.me.Verified(), PortalURL: p.portalURL(c)}
}

// portalURL is the absolute address of the portal, for links in mail: the request's
// own host when the tenant was found by it, else BaseURL. Without BaseURL, a signed-in
// user's request still names its host (their browser sent it, under the CSRF check);
// an anonymous one gets "" — a reset link built on a Host header an attacker chose
// would mail the victim's token to the attacker's site.
func (p *Portal) portalURL(c *call) string {
	if !c.HostVerified && p.BaseURL != "" {
		return p.BaseURL + p.Prefix
	}
	if !c.HostVerified && c.me == nil {
		return ""
	}
	scheme := "http"
	if c.HTTPS {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host + p.Prefix
}

// path is a portal path for links and redirects.
func (p *Portal) path(sub string) string { return p.Prefix + sub }

// withRD adds a (checked) return target to a portal path.
func withRD(path, rd string) string {
	if rd == "" || rd == "/" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "rd=" + url.QueryEscape(rd)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
