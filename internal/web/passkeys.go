package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (req Request) site(r *http.Request) passkey.Site {
	return passkey.Site{Host: r.Host, HTTPS: req.HTTPS}
}

// apiPasskeyRegisterBegin: POST /api/v1/webauthn/register/begin → {"ceremony","publicKey"}.
func (p *Portal) apiPasskeyRegisterBegin(w http.ResponseWriter, r *http.Request, req Request) {
	e, ok := p.apiSessionOrEnrol(w, r, req, "webauthn")
	if !ok || !p.jsonBodyIfAny(w, r) {
		return
	}
	opts, ceremony, err := p.Passkeys.BeginRegistration(r.Context(), req.Handle, req.site(r), e.User)
	if err != nil {
		p.Logger.Error("starting passkey registration", zapErr(err))
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": ceremony, "publicKey": opts})
}

// apiPasskeyRegisterFinish: POST /api/v1/webauthn/register/finish {"ceremony","name","credential"}.
func (p *Portal) apiPasskeyRegisterFinish(w http.ResponseWriter, r *http.Request, req Request) {
	e, ok := p.apiSessionOrEnrol(w, r, req, "webauthn")
	if !ok {
		return
	}
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	pk, err := p.Passkeys.FinishRegistration(r.Context(), req.Handle, req.site(r), e.User, body.Ceremony, body.Name, body.Credential)
	switch {
	case errors.Is(err, passkey.ErrCeremony), errors.Is(err, passkey.ErrVerification):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "passkey_not_accepted"})
		return
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "passkey_already_registered"})
		return
	case err != nil:
		p.Logger.Error("finishing passkey registration", zapErr(err))
		unavailableJSON(w)
		return
	}
	if p.audit(r.Context(), r, req, e, audit.ActionPasskeyAdded, map[string]string{"passkey": pk.ID, "name": pk.Name}) != nil ||
		p.enrolled(r.Context(), w, r, req, e, authn.MethodPasskey) != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": pk.ID, "name": pk.Name})
}

// apiPasskeyLoginBegin: POST /api/v1/webauthn/login/begin. With a pending sign-in it
// is the second factor for that user; otherwise a passwordless (discoverable) sign-in.
func (p *Portal) apiPasskeyLoginBegin(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return
	}
	if crossSite(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_site_request"})
		return
	}
	if !p.jsonBodyIfAny(w, r) {
		return
	}
	pending, err := p.passkeyPending(r, req)
	if err != nil {
		unavailableJSON(w)
		return
	}
	var user *store.User
	if pending != nil {
		user = &pending.User
	}
	opts, ceremony, err := p.Passkeys.BeginLogin(r.Context(), req.Handle, req.site(r), user)
	if errors.Is(err, passkey.ErrNoPasskeys) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "no_passkeys"})
		return
	}
	if err != nil {
		p.Logger.Error("starting passkey sign-in", zapErr(err))
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": ceremony, "publicKey": opts})
}

// apiPasskeyLoginFinish: POST /api/v1/webauthn/login/finish {"ceremony","credential"}.
// A passkey is its own authenticator: a password lockout does not block it.
func (p *Portal) apiPasskeyLoginFinish(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPost {
		methodNotAllowedJSON(w, "POST")
		return
	}
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	ctx := r.Context()
	pending, err := p.passkeyPending(r, req)
	if err != nil {
		unavailableJSON(w)
		return
	}
	var userID string
	var methods []string
	if pending != nil {
		need, nerr := p.requirement(ctx, req, pending.User)
		if nerr != nil {
			unavailableJSON(w)
			return
		}
		if need.Step != authn.StepVerify || !need.Allows(authn.MethodPasskey) {
			rec := auditRecord(r, req, audit.ActionSecondFactorFailure, audit.Failure)
			rec.ActorID, rec.ActorEmail, rec.SessionID = pending.User.ID, pending.User.Email, pending.Session.ID
			rec.Details = map[string]string{"method": authn.MethodPasskey, "reason": "method_not_allowed"}
			if p.writeAudit(ctx, req, rec) != nil {
				unavailableJSON(w)
				return
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "passkey_not_accepted"})
			return
		}
		_, err = p.Passkeys.FinishSecondFactor(ctx, req.Handle, req.site(r), pending.User.ID, body.Ceremony, body.Credential)
		userID, methods = pending.User.ID, []string{authn.MethodPassword, authn.MethodPasskey}
	} else {
		userID, _, err = p.Passkeys.FinishLogin(ctx, req.Handle, req.site(r), body.Ceremony, body.Credential)
		methods = []string{authn.MethodPasskey}
	}
	var u store.User
	if err == nil {
		u, err = req.Handle.Users().UserByID(ctx, userID)
		if err == nil && u.Status != store.UserActive {
			err = passkey.ErrUnknownCredential
		}
	}
	if err != nil {
		if errors.Is(err, passkey.ErrCeremony) || errors.Is(err, passkey.ErrVerification) ||
			errors.Is(err, passkey.ErrUnknownCredential) || errors.Is(err, passkey.ErrSignCountRegression) || errors.Is(err, store.ErrNotFound) {
			action := audit.ActionLoginFailure
			if errors.Is(err, passkey.ErrSignCountRegression) {
				action = audit.ActionPasskeyRegression
			}
			rec := auditRecord(r, req, action, audit.Failure)
			rec.ActorID = userID
			rec.Details = map[string]string{"method": authn.MethodPasskey, "reason": err.Error()}
			if p.writeAudit(ctx, req, rec) != nil {
				unavailableJSON(w)
				return
			}
			p.signInMetric("failure")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "passkey_not_accepted"})
			return
		}
		p.Logger.Error("finishing passkey sign-in", zapErr(err))
		unavailableJSON(w)
		return
	}
	if err := p.startSession(ctx, w, r, req, u, methods); err != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed_in"})
}

// passkeyPending returns the half-done sign-in a passkey completes as the second factor.
// The sign-in page asks for ?mode=passwordless: there a passkey always starts a sign-in
// of its own (and replaces any half-done one), never the second step of an earlier
// password that someone else may have typed on this browser.
func (p *Portal) passkeyPending(r *http.Request, req Request) (*session.Entry, error) {
	if r.URL.Query().Get("mode") == "passwordless" {
		return nil, nil
	}
	return p.currentPending(r.Context(), r, req)
}

// jsonBodyIfAny refuses a non-JSON body (form posts) on calls that need none.
func (p *Portal) jsonBodyIfAny(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength == 0 {
		return true
	}
	var body map[string]any
	return decodeJSON(w, r, &body)
}
