package web

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// requireSession returns the full session of a settings request, or redirects the
// browser to sign in (a pending session is not enough) and returns nil.
func (p *Portal) requireSession(w http.ResponseWriter, r *http.Request, req Request) *session.Entry {
	return p.requireSessionOrEnrol(w, r, req, "")
}

// requireSessionOrEnrol is requireSession that also accepts a half-signed-in session
// when the tenant policy leaves it only enrolment, and kind ("totp", "webauthn") is a
// factor it may enrol. Finishing the enrolment then completes the sign-in.
func (p *Portal) requireSessionOrEnrol(w http.ResponseWriter, r *http.Request, req Request, kind string) *session.Entry {
	e, err := p.enrolmentSession(r.Context(), r, req, kind)
	if err != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Settings are unavailable right now.", "", "")
		return nil
	}
	if e == nil {
		http.Redirect(w, r, p.Prefix+"/login?rd="+url.QueryEscape(p.Prefix+"/settings/security"), http.StatusSeeOther)
	}
	return e
}

// enrolmentSession returns the full session, or a pending one allowed to enrol kind.
func (p *Portal) enrolmentSession(ctx context.Context, r *http.Request, req Request, kind string) (*session.Entry, error) {
	e, err := p.currentSession(ctx, r, req)
	if e != nil || err != nil || kind == "" {
		return e, err
	}
	pe, err := p.currentPending(ctx, r, req)
	if pe == nil || err != nil {
		return nil, err
	}
	need, err := p.requirement(ctx, req, pe.User)
	if err != nil {
		return nil, err
	}
	if (need.Step == authn.StepEnrol || need.Step == authn.StepEnrolPasskey) && slices.Contains(need.Methods, kind) {
		return pe, nil
	}
	return nil, nil
}

// enrolled completes a sign-in that was waiting for an enrolment (method: otp, hwk).
func (p *Portal) enrolled(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, e *session.Entry, method string) error {
	if !e.Session.Pending {
		return nil
	}
	return p.startSession(ctx, w, r, req, e.User, append(append([]string(nil), e.Session.AuthMethods...), method))
}

// security serves the security settings page.
func (p *Portal) security(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e := p.requireSession(w, r, req)
	if e == nil {
		return
	}
	p.securityPage(w, r, req, e, http.StatusOK, "", "")
}

func (p *Portal) securityPage(w http.ResponseWriter, r *http.Request, req Request, e *session.Entry, status int, notice, errMsg string) {
	ctx := r.Context()
	f, err := p.MFA.Factors(ctx, req.Handle, e.User.ID)
	if err != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Settings are unavailable right now.", "", "")
		return
	}
	pks, err := req.Handle.Passkeys().ListPasskeys(ctx, e.User.ID)
	if err != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Settings are unavailable right now.", "", "")
		return
	}
	render(w, status, "security", pageData{Title: "Security", TenantName: req.Tenant.Name, Prefix: p.Prefix,
		CSRF: csrfToken(w, r, req.HTTPS), Email: e.User.Email, TOTP: f.TOTP, Codes: f.RecoveryCodes,
		Passkeys: pks, Notice: notice, Error: errMsg, LocationProfiling: !e.User.NoLocationProfiling})
}

// settingsAction handles the POST forms of the security page.
func (p *Portal) settingsAction(w http.ResponseWriter, r *http.Request, req Request, action string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	kind := ""
	if strings.HasPrefix(action, "totp/enroll") || strings.HasPrefix(action, "totp/confirm") {
		kind = "totp"
	}
	e := p.requireSessionOrEnrol(w, r, req, kind)
	if e == nil {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
		p.securityPage(w, r, req, e, http.StatusForbidden, "", "The form expired. Please try again.")
		return
	}
	ctx := r.Context()
	u := e.User
	fail := func(err error) {
		p.Logger.Error("security settings", zapErr(err))
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "The change could not be made.", p.Prefix+"/settings/security", "Back")
	}
	switch action {
	case "totp/enroll":
		k, err := p.MFA.BeginTOTP(ctx, req.Handle, u, req.Tenant.Name)
		if errors.Is(err, authn.ErrTOTPEnrolled) {
			p.securityPage(w, r, req, e, http.StatusConflict, "", "An authenticator app is already on. Remove it first.")
			return
		}
		if err != nil || p.audit(ctx, r, req, e, audit.ActionTOTPEnrolStarted, nil) != nil {
			fail(err)
			return
		}
		render(w, http.StatusOK, "totp_enroll", pageData{Title: "Set up an authenticator app", TenantName: req.Tenant.Name,
			Prefix: p.Prefix, CSRF: csrfToken(w, r, req.HTTPS), QR: base64.StdEncoding.EncodeToString(k.QRPNG), Secret: k.Secret})
	case "totp/confirm":
		codes, err := p.MFA.ConfirmTOTP(ctx, req.Handle, u.ID, r.PostFormValue("code"))
		switch {
		case errors.Is(err, authn.ErrInvalidCode), errors.Is(err, authn.ErrCodeReplayed):
			p.securityPage(w, r, req, e, http.StatusBadRequest, "", "That code is not right. Set up the app again and use the newest code.")
			return
		case errors.Is(err, authn.ErrNoTOTP):
			p.securityPage(w, r, req, e, http.StatusConflict, "", "Start the set-up first.")
			return
		case err != nil:
			fail(err)
			return
		}
		if p.audit(ctx, r, req, e, audit.ActionTOTPEnrolled, nil) != nil || p.enrolled(ctx, w, r, req, e, authn.MethodTOTP) != nil {
			fail(errUnavailable)
			return
		}
		if len(codes) > 0 {
			p.showCodes(w, r, req, codes)
			return
		}
		p.securityPage(w, r, req, e, http.StatusOK, "Your authenticator app is on.", "")
	case "totp/disable", "recovery/regenerate":
		if !p.reauthenticate(ctx, req, u, r.PostFormValue("password")) {
			p.securityPage(w, r, req, e, http.StatusUnauthorized, "", "The password is not right.")
			return
		}
		if action == "totp/disable" {
			if err := p.MFA.DisableTOTP(ctx, req.Handle, u.ID); err != nil || p.audit(ctx, r, req, e, audit.ActionTOTPRemoved, nil) != nil {
				fail(err)
				return
			}
			p.securityPage(w, r, req, e, http.StatusOK, "The authenticator app was removed.", "")
			return
		}
		codes, err := p.MFA.RegenerateRecoveryCodes(ctx, req.Handle, u.ID)
		if err != nil || p.audit(ctx, r, req, e, audit.ActionRecoveryRegenerated, nil) != nil {
			fail(err)
			return
		}
		p.showCodes(w, r, req, codes)
	case "privacy":
		objects := r.PostFormValue("location_profiling") != "on"
		if err := p.setLocationObjection(ctx, r, req, e, objects); err != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, p.Prefix+"/settings/security", http.StatusSeeOther)
	case "passkeys/rename", "passkeys/delete":
		id := r.PostFormValue("id")
		var err error
		act := audit.ActionPasskeyRemoved
		if action == "passkeys/rename" {
			name := strings.TrimSpace(r.PostFormValue("name"))
			if name == "" || len(name) > 64 {
				p.securityPage(w, r, req, e, http.StatusBadRequest, "", "Give the passkey a name of at most 64 characters.")
				return
			}
			err, act = req.Handle.Passkeys().RenamePasskey(ctx, u.ID, id, name), audit.ActionPasskeyRenamed
		} else {
			err = req.Handle.Passkeys().DeletePasskey(ctx, u.ID, id)
		}
		if errors.Is(err, store.ErrNotFound) {
			p.securityPage(w, r, req, e, http.StatusNotFound, "", "No such passkey.")
			return
		}
		if err != nil || p.audit(ctx, r, req, e, act, map[string]string{"passkey": id}) != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, p.Prefix+"/settings/security", http.StatusSeeOther)
	default:
		p.message(w, http.StatusNotFound, req, "Not found", "There is no such page.", p.Prefix+"/settings/security", "Back")
	}
}

func (p *Portal) showCodes(w http.ResponseWriter, r *http.Request, req Request, codes []string) {
	render(w, http.StatusOK, "codes", pageData{Title: "Recovery codes", TenantName: req.Tenant.Name, Prefix: p.Prefix, RecoveryCodes: codes})
}

// reauthenticate checks the signed-in user's current password (sensitive changes).
func (p *Portal) reauthenticate(ctx context.Context, req Request, u store.User, password string) bool {
	_, err := p.Authn.PasswordLogin(ctx, req.Handle, u.Email, password)
	return err == nil
}

// audit records an action of the signed-in user on their own account.
func (p *Portal) audit(ctx context.Context, r *http.Request, req Request, e *session.Entry, action string, details map[string]string) error {
	rec := auditRecord(r, req, action, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.SessionID, rec.Target = e.User.ID, e.User.Email, e.Session.ID, "user:"+e.User.ID
	rec.Details = details
	return p.writeAudit(ctx, req, rec)
}

// apiTOTPEnroll: POST /api/v1/totp/enroll → {"secret","otpauth_url","qr_png"}.
func (p *Portal) apiTOTPEnroll(w http.ResponseWriter, r *http.Request, req Request) {
	e, ok := p.apiSessionOrEnrol(w, r, req, "totp")
	if !ok {
		return
	}
	var body struct{}
	if r.ContentLength != 0 && !decodeJSON(w, r, &body) {
		return
	}
	k, err := p.MFA.BeginTOTP(r.Context(), req.Handle, e.User, req.Tenant.Name)
	if errors.Is(err, authn.ErrTOTPEnrolled) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "totp_already_enrolled"})
		return
	}
	if err != nil || p.audit(r.Context(), r, req, e, audit.ActionTOTPEnrolStarted, nil) != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": k.Secret, "otpauth_url": k.URL, "qr_png": base64.StdEncoding.EncodeToString(k.QRPNG)})
}

// apiTOTPConfirm: POST /api/v1/totp/confirm {"code"} → {"status":"enrolled","recovery_codes":[…]}.
func (p *Portal) apiTOTPConfirm(w http.ResponseWriter, r *http.Request, req Request) {
	e, ok := p.apiSessionOrEnrol(w, r, req, "totp")
	if !ok {
		return
	}
	var body struct {
		Code string `json:"code"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	codes, err := p.MFA.ConfirmTOTP(r.Context(), req.Handle, e.User.ID, body.Code)
	switch {
	case errors.Is(err, authn.ErrInvalidCode), errors.Is(err, authn.ErrCodeReplayed):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_code"})
	case errors.Is(err, authn.ErrNoTOTP):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no_pending_enrolment"})
	case err != nil || p.audit(r.Context(), r, req, e, audit.ActionTOTPEnrolled, nil) != nil ||
		p.enrolled(r.Context(), w, r, req, e, authn.MethodTOTP) != nil:
		unavailableJSON(w)
	default:
		if codes == nil {
			codes = []string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "enrolled", "recovery_codes": codes})
	}
}

// apiSession requires POST and a full session for an API call.
func (p *Portal) apiSession(w http.ResponseWriter, r *http.Request, req Request) (*session.Entry, bool) {
	return p.apiSessionOrEnrol(w, r, req, "")
}

// apiSessionOrEnrol is apiSession that also accepts a pending session allowed to enrol kind.
func (p *Portal) apiSessionOrEnrol(w http.ResponseWriter, r *http.Request, req Request, kind string) (*session.Entry, bool) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return nil, false
	}
	return p.apiAuth(w, r, req, kind)
}

// apiAuth refuses cross-site requests and returns the caller's session (see
// enrolmentSession for kind), answering 401/503 itself when there is none.
func (p *Portal) apiAuth(w http.ResponseWriter, r *http.Request, req Request, kind string) (*session.Entry, bool) {
	if crossSite(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_site_request"})
		return nil, false
	}
	e, err := p.enrolmentSession(r.Context(), r, req, kind)
	if err != nil {
		unavailableJSON(w)
		return nil, false
	}
	if e == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
		return nil, false
	}
	return e, true
}

// setLocationObjection records the user's choice about location profiling (audited).
func (p *Portal) setLocationObjection(ctx context.Context, r *http.Request, req Request, e *session.Entry, objects bool) error {
	if err := req.Handle.Users().SetNoLocationProfiling(ctx, e.User.ID, objects); err != nil {
		return err
	}
	p.Sessions.Forget(e.Session.ID) // the cached user record is out of date
	return p.audit(ctx, r, req, e, audit.ActionPrivacyObjection, map[string]string{"objects": strconv.FormatBool(objects)})
}

// apiPrivacy: PUT or POST /api/v1/me/privacy {"location_profiling": bool}.
func (p *Portal) apiPrivacy(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "PUT, POST")
		return
	}
	e, ok := p.apiAuth(w, r, req, "")
	if !ok {
		return
	}
	var body struct {
		LocationProfiling *bool `json:"location_profiling"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	if body.LocationProfiling == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "location_profiling is required"})
		return
	}
	if err := p.setLocationObjection(r.Context(), r, req, e, !*body.LocationProfiling); err != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"location_profiling": *body.LocationProfiling})
}
