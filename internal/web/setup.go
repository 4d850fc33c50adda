package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// setup serves the first-run page: the one-time link from the log lets its holder
// create the workspace's first owner, then signs them in.
func (p *Portal) setup(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	d := pageData{Title: "Set up Gatehouse", TenantName: req.Tenant.Name, Prefix: p.Prefix, MinLength: p.Rules.MinLength}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		tok := r.URL.Query().Get("token")
		if tok != "" && req.Handle.OneTimeTokens().CheckOneTimeToken(ctx, authn.PurposeSetup, secret.HashToken(tok), p.Clock.Now()) == nil {
			d.Token, d.CSRF = tok, csrfToken(w, r, req.HTTPS)
		}
		status := http.StatusOK
		if d.Token == "" {
			status = http.StatusNotFound
		}
		render(w, status, "setup", d)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
			p.message(w, http.StatusForbidden, req, "Set up Gatehouse", "The form expired. Open the setup link again.", "", "")
			return
		}
		d.Token, d.CSRF = r.PostFormValue("token"), csrfToken(w, r, req.HTTPS)
		d.Email, d.Name = r.PostFormValue("email"), r.PostFormValue("name")
		// The (slow) password hashing happens only for a live link.
		if req.Handle.OneTimeTokens().CheckOneTimeToken(ctx, authn.PurposeSetup, secret.HashToken(d.Token), p.Clock.Now()) != nil {
			d.Token = ""
			render(w, http.StatusNotFound, "setup", d)
			return
		}
		pw := r.PostFormValue("password")
		if pw != r.PostFormValue("confirm") {
			d.Error = "The two passwords differ."
			render(w, http.StatusBadRequest, "setup", d)
			return
		}
		u, err := authn.PrepareUser(authn.NewUser{Email: d.Email, DisplayName: d.Name, Password: pw, Roles: []string{identity.RoleOwner}}, p.Hasher, p.Rules, p.Clock)
		var ie *authn.InputError
		if errors.As(err, &ie) {
			d.Error = ie.Msg
			render(w, http.StatusBadRequest, "setup", d)
			return
		}
		if err == nil {
			err = authn.CompleteSetup(ctx, req.Handle, d.Token, u, p.Clock)
		}
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, authn.ErrSetupDone):
			d.Token = ""
			render(w, http.StatusNotFound, "setup", d)
			return
		case err != nil:
			p.Logger.Error("first-run setup failed", zapErr(err))
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Setup could not be completed.", "", "")
			return
		}
		rec := auditRecord(r, req, audit.ActionSetup, audit.Success)
		rec.ActorID, rec.ActorEmail, rec.Target = u.ID, u.Email, "user:"+u.ID
		if p.writeAudit(ctx, req, rec) != nil {
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Setup could not be recorded.", "", "")
			return
		}
		if err := p.startSession(ctx, w, r, req, u, []string{"pwd"}); err != nil {
			http.Redirect(w, r, p.Prefix+"/login", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
