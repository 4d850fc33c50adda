package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Request carries what the gateway resolved about a request before the portal sees it.
type Request struct {
	Tenant    store.Tenant
	Handle    store.TenantHandle
	HTTPS     bool
	ClientIP  string
	RequestID string
}

// Metrics receives portal events.
type Metrics interface {
	SignIn(outcome string)
	Lockout()
	RateLimited(class string)
	Anomaly(kind string)
}

// Portal serves the pages and API under Prefix.
type Portal struct {
	Prefix   string // e.g. "/auth"
	Sessions *session.Manager
	Authn    *authn.Service
	MFA      *authn.MFA
	Passkeys *passkey.Service
	Limiter  *ratelimit.Limiter // nil: no rate limits
	Notifier *notify.Notifier   // nil: no mail
	Risk     RiskConfig
	BaseURL  string // public address for links in mail ("" = the request's host)
	Audit    *audit.Writer
	Hasher   *identity.Hasher
	Rules    identity.PasswordRules
	Clock    clock.Clock
	Logger   *zap.Logger
	Metrics  Metrics

	static http.Handler
}

// Init prepares internal state; call once before ServeHTTP.
func (p *Portal) Init() {
	p.static = http.StripPrefix(p.Prefix+"/static", staticFiles())
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
}

// Serve handles a request whose (normalised) path is under the prefix.
func (p *Portal) Serve(w http.ResponseWriter, r *http.Request, path string, req Request) {
	setSecurityHeaders(w.Header())
	sub := strings.TrimPrefix(path, p.Prefix)
	if class, ok := endpointClass(r.Method, sub); ok && !p.allow(w, r, req, class, req.ClientIP, "") {
		return
	}
	switch {
	case sub == "/login":
		p.login(w, r, req)
	case sub == "/logout":
		p.logout(w, r, req)
	case sub == "/setup":
		p.setup(w, r, req)
	case sub == "/login/2fa":
		p.secondFactor(w, r, req)
	case sub == "/settings" || sub == "/settings/security":
		p.security(w, r, req)
	case strings.HasPrefix(sub, "/settings/"):
		p.settingsAction(w, r, req, strings.TrimPrefix(sub, "/settings/"))
	case sub == "/api/v1/login/totp":
		p.apiSecondFactor(w, r, req, authn.MethodTOTP)
	case sub == "/api/v1/login/recovery":
		p.apiSecondFactor(w, r, req, authn.MethodRecovery)
	case sub == "/api/v1/webauthn/register/begin":
		p.apiPasskeyRegisterBegin(w, r, req)
	case sub == "/api/v1/webauthn/register/finish":
		p.apiPasskeyRegisterFinish(w, r, req)
	case sub == "/api/v1/webauthn/login/begin":
		p.apiPasskeyLoginBegin(w, r, req)
	case sub == "/api/v1/webauthn/login/finish":
		p.apiPasskeyLoginFinish(w, r, req)
	case sub == "/admin/security":
		p.adminSecurity(w, r, req)
	case sub == "/admin/unlock":
		p.adminUnlock(w, r, req)
	case strings.HasPrefix(sub, "/api/v1/admin/users/") && strings.HasSuffix(sub, "/unlock"):
		p.apiAdminUnlock(w, r, req, strings.TrimSuffix(strings.TrimPrefix(sub, "/api/v1/admin/users/"), "/unlock"))
	case sub == "/api/v1/admin/security":
		p.apiAdminSecurity(w, r, req)
	case strings.HasPrefix(sub, "/api/v1/admin/users/") && strings.HasSuffix(sub, "/reset-2fa"):
		p.apiAdminResetFactors(w, r, req, strings.TrimSuffix(strings.TrimPrefix(sub, "/api/v1/admin/users/"), "/reset-2fa"))
	case sub == "/api/v1/me/privacy":
		p.apiPrivacy(w, r, req)
	case sub == "/api/v1/totp/enroll":
		p.apiTOTPEnroll(w, r, req)
	case sub == "/api/v1/totp/confirm":
		p.apiTOTPConfirm(w, r, req)
	case sub == "/api/v1/login":
		p.apiLogin(w, r, req)
	case sub == "/api/v1/logout":
		p.apiLogout(w, r, req)
	case sub == "/api/v1/me":
		p.apiMe(w, r, req)
	case strings.HasPrefix(sub, "/static/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Cache-Control", "public, max-age=3600")
		p.static.ServeHTTP(w, r)
	case sub == "" || sub == "/":
		http.Redirect(w, r, p.Prefix+"/login", http.StatusFound)
	default:
		if strings.HasPrefix(sub, "/api/") {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		p.message(w, http.StatusNotFound, req, "Not found", "There is no such page.", p.Prefix+"/login", "Go to sign-in")
	}
}

func (p *Portal) message(w http.ResponseWriter, status int, req Request, title, msg, link, linkText string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	render(w, status, "message", pageData{Title: title, TenantName: req.Tenant.Name, Prefix: p.Prefix,
		Message: msg, Link: link, LinkText: linkText})
}

// currentSession returns the request's live, full session: nil, nil when there is
// none; an error only when the store could not tell (callers then answer 503 rather
// than act as if signed out — a logout must not report success without revoking).
func (p *Portal) currentSession(ctx context.Context, r *http.Request, req Request) (*session.Entry, error) {
	return p.lookupSession(ctx, r, req, false)
}

// currentPending is currentSession for a half-signed-in session.
func (p *Portal) currentPending(ctx context.Context, r *http.Request, req Request) (*session.Entry, error) {
	return p.lookupSession(ctx, r, req, true)
}

func (p *Portal) lookupSession(ctx context.Context, r *http.Request, req Request, pending bool) (*session.Entry, error) {
	tok := session.TokenFromRequest(r, req.HTTPS)
	if tok == "" {
		return nil, nil
	}
	validate := p.Sessions.Validate
	if pending {
		validate = p.Sessions.ValidatePending
	}
	e, err := validate(ctx, req.Handle, req.Tenant.Slug, tok)
	if errors.Is(err, session.ErrNoSession) {
		return nil, nil
	}
	if err != nil {
		p.Logger.Error("reading session", zapErr(err))
		return nil, errUnavailable
	}
	return e, nil
}

// auditRecord starts a record with the request's context filled in.
func auditRecord(r *http.Request, req Request, action, outcome string) store.AuditRecord {
	return store.AuditRecord{
		Action: action, Outcome: outcome, IP: req.ClientIP,
		UserAgent: r.UserAgent(), RequestID: req.RequestID,
	}
}

// writeAudit appends a record; a failure is logged and reported to the caller, who must
// not answer as if the event were recorded.
func (p *Portal) writeAudit(ctx context.Context, req Request, rec store.AuditRecord) error {
	if _, err := p.Audit.Write(ctx, req.Handle, rec); err != nil {
		p.Logger.Error("audit write failed", zap.String("action", rec.Action), zap.Error(err))
		return err
	}
	return nil
}

func (p *Portal) signInMetric(outcome string) {
	if p.Metrics != nil {
		p.Metrics.SignIn(outcome)
	}
}
