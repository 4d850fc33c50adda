package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errUnavailable: a dependency (store) failed; the client gets 503, never a session.
var errUnavailable = errors.New("service unavailable")

// msgInvalid is the single message for every failed sign-in.
const msgInvalid = "Incorrect e-mail or password."

// signIn is what a correct password led to.
type signIn struct {
	secondFactor bool      // a pending session was started: the second factor is next
	enrol        bool      // ... and it can only enrol one (the tenant requires it)
	methods      []string  // second-factor methods the user may use (or enrol)
	remindBy     time.Time // signed in, but a second factor is required by then
}

// passwordSignIn verifies the credentials. A user without second factors gets a new
// session; one with a second factor gets a pending (half-signed-in) session that only
// the second-factor step accepts. Either way the browser's old session is revoked and a
// new token issued, so a token planted before sign-in is worthless after it.
func (p *Portal) passwordSignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, email, password string) (signIn, error) {
	if res := p.limitUser(ctx, ratelimit.Login, email); res != nil {
		return signIn{}, res
	}
	u, err := p.Authn.PasswordLogin(ctx, req.Handle, email, password)
	var fe *authn.FailureError
	if errors.As(err, &fe) {
		rec := auditRecord(r, req, audit.ActionLoginFailure, audit.Failure)
		rec.ActorID, rec.ActorEmail = fe.UserID, truncate(email, 254)
		rec.Details = map[string]string{"reason": fe.Reason, "method": authn.MethodPassword}
		if p.writeAudit(ctx, req, rec) != nil {
			return signIn{}, errUnavailable
		}
		p.signInMetric("failure")
		if fe.LockedFor > 0 && p.auditLocked(ctx, r, req, fe.UserID, email, fe.LockedFor) != nil {
			return signIn{}, errUnavailable
		}
		return signIn{}, authn.ErrInvalidCredentials
	}
	if tm, ok := asTooMany(err); ok {
		p.signInMetric("locked")
		return signIn{}, tm
	}
	if err != nil {
		p.Logger.Error("password sign-in failed", zapErr(err))
		p.signInMetric("error")
		return signIn{}, errUnavailable
	}
	need, err := p.requirement(ctx, req, u)
	if err != nil {
		return signIn{}, err
	}
	if err := p.anomalyGate(ctx, w, r, req, u, need); err != nil {
		return signIn{}, err
	}
	switch need.Step {
	case authn.StepSignedIn:
		return signIn{}, p.startSession(ctx, w, r, req, u, []string{authn.MethodPassword})
	case authn.StepRemind:
		return signIn{remindBy: need.Deadline}, p.startSession(ctx, w, r, req, u, []string{authn.MethodPassword})
	}
	if err := p.startPending(ctx, w, r, req, u); err != nil {
		return signIn{}, err
	}
	return signIn{secondFactor: true, enrol: need.Step != authn.StepVerify, methods: need.Methods}, nil
}

// requirement evaluates the tenant's second-factor policy for u now.
func (p *Portal) requirement(ctx context.Context, req Request, u store.User) (authn.Requirement, error) {
	f, err := p.MFA.Factors(ctx, req.Handle, u.ID)
	if err != nil {
		p.Logger.Error("reading second factors", zapErr(err))
		return authn.Requirement{}, errUnavailable
	}
	s, err := req.Handle.Settings().SecuritySettings(ctx)
	if err != nil {
		p.Logger.Error("reading security settings", zapErr(err))
		return authn.Requirement{}, errUnavailable
	}
	return authn.Require(s, u, f, p.Clock.Now()), nil
}

// startSession revokes the request's old session, creates a new one, audits the
// success and sets the cookie.
func (p *Portal) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User, methods []string) error {
	if err := p.revokeCurrent(ctx, r, req); err != nil {
		return err
	}
	token, s, err := p.Sessions.Create(ctx, req.Handle, u, methods, req.ClientIP, r.UserAgent())
	if err != nil {
		p.Logger.Error("creating session", zapErr(err))
		return errUnavailable
	}
	rec := auditRecord(r, req, audit.ActionLoginSuccess, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.SessionID = u.ID, u.Email, s.ID
	rec.Details = map[string]string{"methods": joinMethods(methods)}
	if p.writeAudit(ctx, req, rec) != nil {
		_ = p.Sessions.Revoke(ctx, req.Handle, s.ID)
		return errUnavailable
	}
	session.SetCookie(w, req.HTTPS, token, s.ExpiresAt, p.Clock.Now())
	p.signInMetric("success")
	p.assessSignIn(ctx, w, r, req, u)
	return nil
}

func (p *Portal) login(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
		if rd == "" {
			rd = "/"
		}
		if e, _ := p.currentSession(ctx, r, req); e != nil {
			http.Redirect(w, r, rd, http.StatusFound)
			return
		}
		d := p.loginPage(w, r, req, rd)
		if r.URL.Query().Get("signed_out") == "1" {
			d.Notice = "You have signed out."
		}
		render(w, http.StatusOK, "login", d)
	case http.MethodPost:
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
			p.apiLogin(w, r, req)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			p.message(w, http.StatusBadRequest, req, "Bad request", "The form could not be read.", p.Prefix+"/login", "Try again")
			return
		}
		rd, _ := SafeRedirect(r.PostFormValue("rd"))
		if rd == "" {
			rd = "/"
		}
		if !checkCSRF(r, req.HTTPS) {
			d := p.loginPage(w, r, req, rd)
			d.Error = "The form expired. Please sign in again."
			render(w, http.StatusForbidden, "login", d)
			return
		}
		email := r.PostFormValue("email")
		res, err := p.passwordSignIn(ctx, w, r, req, email, r.PostFormValue("password"))
		switch {
		case err == nil && res.secondFactor:
			http.Redirect(w, r, p.Prefix+"/login/2fa?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		case err == nil && !res.remindBy.IsZero():
			p.message(w, http.StatusOK, req, "Set up two-step verification",
				"Your workspace requires a second factor (an authenticator app or a passkey). Please set one up by "+
					res.remindBy.UTC().Format("Monday 2 January 2006, 15:04 MST")+"; after that you will only be able to sign in to set it up.",
				p.Prefix+"/settings/security", "Set it up now")
		case err == nil:
			http.Redirect(w, r, rd, http.StatusSeeOther)
		case errors.Is(err, authn.ErrInvalidCredentials):
			d := p.loginPage(w, r, req, rd)
			d.Error, d.Email = msgInvalid, email
			render(w, http.StatusUnauthorized, "login", d)
		case isTooMany(err):
			tm, _ := asTooMany(err)
			p.tooMany(w, r, req, tm.retryAfter)
		case errors.Is(err, errAnomalyBlocked):
			p.message(w, http.StatusForbidden, req, "Sign-in refused",
				"This sign-in looks unusual (a new device or place), and your workspace does not allow it. We sent you an e-mail; ask an administrator if you need access.",
				p.Prefix+"/login", "Back to sign-in")
		default:
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Sign-in is unavailable right now.", p.Prefix+"/login", "Try again")
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request, req Request, rd string) pageData {
	return pageData{Title: "Sign in", TenantName: req.Tenant.Name, Prefix: p.Prefix,
		CSRF: csrfToken(w, r, req.HTTPS), Redirect: rd}
}
