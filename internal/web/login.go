package web

import (
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errUnavailable: a dependency (store) failed; the client gets 503, never a session.
var errUnavailable = errors.New("service unavailable")

// msgInvalid is the single message for every failed sign-in.
const msgInvalid = "Incorrect e-mail or password."

// passwordSignIn verifies the credentials and, on success, rotates the browser's session:
// any session the request carried is revoked and a new token is issued, so a token
// planted before sign-in is worthless after it.
func (p *Portal) passwordSignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, email, password string) error {
	u, err := p.Authn.PasswordLogin(ctx, req.Handle, email, password)
	var fe *authn.FailureError
	if errors.As(err, &fe) {
		rec := auditRecord(r, req, audit.ActionLoginFailure, audit.Failure)
		rec.ActorID, rec.ActorEmail = fe.UserID, truncate(email, 254)
		rec.Details = map[string]string{"reason": fe.Reason, "method": "pwd"}
		if p.writeAudit(ctx, req, rec) != nil {
			return errUnavailable
		}
		p.signInMetric("failure")
		return authn.ErrInvalidCredentials
	}
	if err != nil {
		p.Logger.Error("password sign-in failed", zapErr(err))
		p.signInMetric("error")
		return errUnavailable
	}
	return p.startSession(ctx, w, r, req, u, []string{"pwd"})
}

// startSession revokes the request's old session, creates a new one, audits the
// success and sets the cookie.
func (p *Portal) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User, methods []string) error {
	if old := p.currentSession(ctx, r, req); old != nil {
		if err := p.Sessions.Revoke(ctx, req.Handle, old.Session.ID); err != nil {
			p.Logger.Error("revoking previous session", zapErr(err))
			return errUnavailable
		}
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
		if p.currentSession(ctx, r, req) != nil {
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
		err := p.passwordSignIn(ctx, w, r, req, email, r.PostFormValue("password"))
		switch {
		case err == nil:
			http.Redirect(w, r, rd, http.StatusSeeOther)
		case errors.Is(err, authn.ErrInvalidCredentials):
			d := p.loginPage(w, r, req, rd)
			d.Error, d.Email = msgInvalid, email
			render(w, http.StatusUnauthorized, "login", d)
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
