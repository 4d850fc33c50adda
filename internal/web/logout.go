package web

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// endSession revokes the request's session (if any), audits it and clears the cookie.
func (p *Portal) endSession(w http.ResponseWriter, r *http.Request, req Request) error {
	ctx := r.Context()
	e, err := p.currentSession(ctx, r, req)
	if err != nil {
		return err
	}
	if e != nil {
		if err := p.Sessions.Revoke(ctx, req.Handle, e.Session.ID); err != nil {
			p.Logger.Error("revoking session at logout", zapErr(err))
			return errUnavailable
		}
		rec := auditRecord(r, req, audit.ActionLogout, audit.Success)
		rec.ActorID, rec.ActorEmail, rec.SessionID = e.User.ID, e.User.Email, e.Session.ID
		if p.writeAudit(ctx, req, rec) != nil {
			return errUnavailable
		}
	}
	pending, err := p.currentPending(ctx, r, req)
	if err != nil {
		return err
	}
	if e := pending; e != nil { // abandoning a half-done sign-in
		if err := p.Sessions.Revoke(ctx, req.Handle, e.Session.ID); err != nil {
			return errUnavailable
		}
	}
	session.ClearCookie(w, req.HTTPS)
	return nil
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request, req Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		d := pageData{Title: "Sign out", TenantName: req.Tenant.Name, Prefix: p.Prefix, CSRF: csrfToken(w, r, req.HTTPS)}
		if e, _ := p.currentSession(r.Context(), r, req); e != nil {
			d.SignedIn, d.Email = true, e.User.Email
		}
		render(w, http.StatusOK, "logout", d)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
			p.message(w, http.StatusForbidden, req, "Sign out", "The form expired. Please try again.", p.Prefix+"/logout", "Sign out")
			return
		}
		if err := p.endSession(w, r, req); err != nil {
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Sign-out could not be recorded.", p.Prefix+"/logout", "Try again")
			return
		}
		http.Redirect(w, r, p.Prefix+"/login?signed_out=1", http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
