package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
)

func methodNotAllowedJSON(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
}

// apiLogin: POST /api/v1/login {"email","password"}.
func (p *Portal) apiLogin(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return
	}
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	res, err := p.passwordSignIn(r.Context(), w, r, req, body.Email, body.Password)
	switch {
	case err == nil && res.secondFactor && res.enrol:
		writeJSON(w, http.StatusOK, map[string]any{"status": "enrolment_required", "methods": res.methods})
	case err == nil && res.secondFactor:
		writeJSON(w, http.StatusOK, map[string]any{"status": "second_factor", "methods": res.methods})
	case err == nil && !res.remindBy.IsZero():
		writeJSON(w, http.StatusOK, map[string]any{"status": "signed_in", "second_factor_required_by": res.remindBy.UTC().Format(time.RFC3339)})
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed_in"})
	case errors.Is(err, authn.ErrInvalidCredentials):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
	case isTooMany(err):
		tm, _ := asTooMany(err)
		p.tooMany(w, r, req, tm.retryAfter)
	case errors.Is(err, errAnomalyBlocked):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "sign_in_blocked"})
	default:
		unavailableJSON(w)
	}
}

// apiLogout: POST /api/v1/logout → 204.
func (p *Portal) apiLogout(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return
	}
	if crossSite(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_site_request"})
		return
	}
	if r.ContentLength != 0 { // a body, if any, must be JSON: no form posts to the API
		var body struct{}
		if !decodeJSON(w, r, &body) {
			return
		}
	}
	if err := p.endSession(w, r, req); err != nil {
		unavailableJSON(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiMe: GET /api/v1/me → the signed-in user.
func (p *Portal) apiMe(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodGet {
		methodNotAllowedJSON(w, "GET")
		return
	}
	e, err := p.currentSession(r.Context(), r, req)
	if err != nil {
		unavailableJSON(w)
		return
	}
	if e == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
		return
	}
	f, err := p.MFA.Factors(r.Context(), req.Handle, e.User.ID)
	if err != nil {
		unavailableJSON(w)
		return
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": map[string]any{
			"id": e.User.ID, "email": e.User.Email, "name": e.User.DisplayName, "status": e.User.Status,
		},
		"tenant":       map[string]string{"id": req.Tenant.ID, "slug": req.Tenant.Slug, "name": req.Tenant.Name},
		"roles":        nonNil(e.User.Roles),
		"teams":        nonNil(e.User.Teams),
		"session_id":   e.Session.ID,
		"auth_methods": nonNil(e.Session.AuthMethods),
		"second_factor": map[string]any{
			"enrolled": f.Any(), "totp": f.TOTP, "passkeys": f.Passkeys, "recovery_codes": f.RecoveryCodes,
		},
	})
}
