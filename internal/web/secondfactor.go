package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/recovery"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// startPending replaces the browser's session with a half-signed-in one after a correct
// password, and audits the password step.
func (p *Portal) startPending(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User) error {
	if err := p.revokeCurrent(ctx, r, req); err != nil {
		return err
	}
	token, s, err := p.Sessions.CreatePending(ctx, req.Handle, u, []string{authn.MethodPassword}, req.ClientIP, r.UserAgent())
	if err != nil {
		p.Logger.Error("creating pending session", zapErr(err))
		return errUnavailable
	}
	rec := auditRecord(r, req, audit.ActionLoginPassword, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.SessionID = u.ID, u.Email, s.ID
	if p.writeAudit(ctx, req, rec) != nil {
		_ = p.Sessions.Revoke(ctx, req.Handle, s.ID)
		return errUnavailable
	}
	session.SetCookie(w, req.HTTPS, token, s.ExpiresAt, p.Clock.Now())
	return nil
}

// revokeCurrent revokes whatever session (full or pending) the request carries.
func (p *Portal) revokeCurrent(ctx context.Context, r *http.Request, req Request) error {
	full, err1 := p.currentSession(ctx, r, req)
	pending, err2 := p.currentPending(ctx, r, req)
	if err1 != nil || err2 != nil {
		return errUnavailable
	}
	for _, e := range []*session.Entry{full, pending} {
		if e == nil {
			continue
		}
		if err := p.Sessions.Revoke(ctx, req.Handle, e.Session.ID); err != nil {
			p.Logger.Error("revoking previous session", zapErr(err))
			return errUnavailable
		}
	}
	return nil
}

// secondFactorResult is a successful second factor.
type secondFactorResult struct {
	method    string
	remaining int // recovery codes left (method rec)
}

// completeSecondFactor checks code (TOTP, or a recovery code; method "" guesses by
// shape) for the pending session and, when right, replaces it with a full session.
func (p *Portal) completeSecondFactor(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, pending *session.Entry, method, code string) (secondFactorResult, error) {
	u := pending.User
	if method == "" {
		method = authn.MethodTOTP
		if recovery.LooksLikeCode(code) {
			method = authn.MethodRecovery
		}
	}
	var res = secondFactorResult{method: method}
	if err := p.limitUser(ctx, ratelimit.SecondFactor, u.Email); err != nil {
		return res, err
	}
	// Second-factor failures count towards the same lockout as passwords.
	attempt, err := p.Authn.Lockout.Begin(ctx, req.Handle.TenantID(), u.Email)
	if tm, ok := asTooMany(err); ok {
		return res, tm
	}
	if err != nil {
		p.Logger.Error("lockout check failed", zapErr(err))
		return res, errUnavailable
	}
	need, err := p.requirement(ctx, req, u)
	if err != nil {
		return res, err
	}
	if need.Step != authn.StepVerify || !need.Allows(method) {
		// e.g. an admin under "passkeys for admins" offering a TOTP code
		err = errMethodNotAllowed
	} else if method == authn.MethodRecovery {
		res.remaining, err = p.MFA.UseRecoveryCode(ctx, req.Handle, u.ID, code)
	} else {
		err = p.MFA.VerifyTOTP(ctx, req.Handle, u.ID, code)
	}
	if errors.Is(err, authn.ErrInvalidCode) || errors.Is(err, authn.ErrCodeReplayed) || errors.Is(err, authn.ErrNoTOTP) || errors.Is(err, errMethodNotAllowed) {
		rec := auditRecord(r, req, audit.ActionSecondFactorFailure, audit.Failure)
		rec.ActorID, rec.ActorEmail, rec.SessionID = u.ID, u.Email, pending.Session.ID
		rec.Details = map[string]string{"method": method, "reason": reasonOf(err)}
		if p.writeAudit(ctx, req, rec) != nil {
			return res, errUnavailable
		}
		p.signInMetric("failure")
		locked, lerr := p.Authn.Lockout.Fail(ctx, attempt)
		if lerr != nil || (locked > 0 && p.auditLocked(ctx, r, req, u.ID, u.Email, locked) != nil) {
			return res, errUnavailable
		}
		return res, authn.ErrInvalidCredentials
	}
	if err != nil {
		p.Logger.Error("second factor check failed", zapErr(err))
		return res, errUnavailable
	}
	if err := p.Authn.Lockout.Succeed(ctx, attempt); err != nil {
		return res, errUnavailable
	}
	if method == authn.MethodRecovery {
		rec := auditRecord(r, req, audit.ActionRecoveryCodeUsed, audit.Success)
		rec.ActorID, rec.ActorEmail, rec.SessionID = u.ID, u.Email, pending.Session.ID
		rec.Details = map[string]string{"remaining": strconv.Itoa(res.remaining)}
		if p.writeAudit(ctx, req, rec) != nil {
			return res, errUnavailable
		}
	}
	return res, p.startSession(ctx, w, r, req, u, append(append([]string(nil), pending.Session.AuthMethods...), method))
}

// errMethodNotAllowed: the tenant policy does not accept this method for this user.
var errMethodNotAllowed = errors.New("method not allowed by policy")

func reasonOf(err error) string {
	switch {
	case errors.Is(err, errMethodNotAllowed):
		return "method_not_allowed"
	case errors.Is(err, authn.ErrCodeReplayed):
		return "code_replayed"
	case errors.Is(err, authn.ErrNoTOTP):
		return "no_totp"
	default:
		return "invalid_code"
	}
}

// secondFactor serves /login/2fa.
func (p *Portal) secondFactor(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	pending, err := p.currentPending(ctx, r, req)
	if err != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Sign-in is unavailable right now.", p.Prefix+"/login", "Try again")
		return
	}
	if pending == nil {
		http.Redirect(w, r, p.Prefix+"/login", http.StatusSeeOther)
		return
	}
	page := func(status int, rd, msg string) {
		need, err := p.requirement(ctx, req, pending.User)
		if err != nil {
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Sign-in is unavailable right now.", p.Prefix+"/login", "Try again")
			return
		}
		d := pageData{Title: "Second step", TenantName: req.Tenant.Name, Prefix: p.Prefix,
			CSRF: csrfToken(w, r, req.HTTPS), Redirect: rd, Error: msg,
			Passkey:   need.Allows(authn.MethodPasskey),
			TOTP:      need.Allows(authn.MethodTOTP),
			Enrol:     need.Step == authn.StepEnrol || need.Step == authn.StepEnrolPasskey,
			EnrolTOTP: need.Step == authn.StepEnrol}
		if d.Enrol {
			d.Title = "Set up two-step verification"
			d.Passkey, d.TOTP = false, false
		}
		render(w, status, "2fa", d)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
		if rd == "" {
			rd = "/"
		}
		page(http.StatusOK, rd, "")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
			page(http.StatusForbidden, "/", "The form expired. Please try again.")
			return
		}
		rd, _ := SafeRedirect(r.PostFormValue("rd"))
		if rd == "" {
			rd = "/"
		}
		res, err := p.completeSecondFactor(ctx, w, r, req, pending, "", r.PostFormValue("code"))
		switch {
		case err == nil && res.method == authn.MethodRecovery:
			p.message(w, http.StatusOK, req, "Signed in with a recovery code",
				fmt.Sprintf("You have %d recovery codes left. Make new ones in your security settings if you are running low.", res.remaining),
				rd, "Continue")
		case err == nil:
			http.Redirect(w, r, rd, http.StatusSeeOther)
		case errors.Is(err, authn.ErrInvalidCredentials):
			page(http.StatusUnauthorized, rd, "That code is not valid.")
		case isTooMany(err):
			tm, _ := asTooMany(err)
			p.tooMany(w, r, req, tm.retryAfter)
		default:
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Sign-in is unavailable right now.", p.Prefix+"/login", "Try again")
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// apiSecondFactor: POST /api/v1/login/totp | /login/recovery {"code"}.
func (p *Portal) apiSecondFactor(w http.ResponseWriter, r *http.Request, req Request, method string) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return
	}
	var body struct {
		Code string `json:"code"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	pending, err := p.currentPending(r.Context(), r, req)
	if err != nil {
		unavailableJSON(w)
		return
	}
	if pending == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "no_pending_sign_in"})
		return
	}
	res, err := p.completeSecondFactor(r.Context(), w, r, req, pending, method, body.Code)
	switch {
	case err == nil && method == authn.MethodRecovery:
		writeJSON(w, http.StatusOK, map[string]any{"status": "signed_in", "recovery_codes_remaining": res.remaining})
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed_in"})
	case errors.Is(err, authn.ErrInvalidCredentials):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_code"})
	case isTooMany(err):
		tm, _ := asTooMany(err)
		p.tooMany(w, r, req, tm.retryAfter)
	default:
		unavailableJSON(w)
	}
}
