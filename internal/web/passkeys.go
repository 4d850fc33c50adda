package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// passwordless tells a passkey sign-in started from the sign-in page (?mode=passwordless)
// from the second step of a password sign-in.
func passwordless(r *http.Request) bool { return r.URL.Query().Get("mode") == "passwordless" }

// apiPasskeyLoginBegin: POST /api/v1/webauthn/login/begin → {"ceremony","publicKey"}.
func (p signinPages) apiPasskeyLoginBegin(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	opts, ceremony, err := p.SignIn.PasskeyBegin(c.r.Context(), c.Workspace, p.client(c), passwordless(c.r))
	return ceremonyStarted(c, opts, ceremony, err)
}

// ceremonyStarted answers the start of a passkey check: {"ceremony","publicKey"}, or
// no_passkeys for a user without one.
func ceremonyStarted(c *call, opts json.RawMessage, ceremony string, err error) error {
	if errors.Is(err, authn.ErrNoPasskeys) {
		return errorf(http.StatusBadRequest, "no_passkeys", "You have no passkey yet.")
	}
	if err != nil {
		return unavailable(err)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"ceremony": ceremony, "publicKey": opts})
	return nil
}

// apiPasskeyLoginFinish: POST /api/v1/webauthn/login/finish {"ceremony","credential"}.
func (p signinPages) apiPasskeyLoginFinish(c *call) error {
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.SignIn.PasskeyFinish(c.r.Context(), c.Workspace, p.client(c), passwordless(c.r), body.Ceremony, body.Credential)
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	return p.signInJSON(c, o)
}

// apiPasskeyRegisterBegin: POST /api/v1/webauthn/register/begin → {"ceremony","publicKey"}.
func (p accountPages) apiPasskeyRegisterBegin(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	opts, ceremony, err := p.Account.BeginPasskey(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"ceremony": ceremony, "publicKey": opts})
	return nil
}

// apiPasskeyRegisterFinish: POST /api/v1/webauthn/register/finish {"ceremony","name","credential"}.
// During forced enrolment it also completes the sign-in.
func (p accountPages) apiPasskeyRegisterFinish(c *call) error {
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	pk, enrolled, err := p.Account.FinishPasskey(c.r.Context(), c.Workspace, p.self(c), body.Ceremony, body.Name, body.Credential)
	switch {
	case errors.Is(err, passkey.ErrCeremony), errors.Is(err, passkey.ErrVerification):
		return errorf(http.StatusBadRequest, "passkey_not_accepted", "The passkey could not be added. Please try again.")
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "passkey_already_registered", "This passkey is registered already.")
	case err != nil:
		return unavailable(err)
	}
	if enrolled.SignIn != nil {
		p.setIssued(c, *enrolled.SignIn)
	}
	p.stepUpEnrolled(c, authn.MethodPasskey) // ?rd=: on the way to a page that needs a second factor
	writeJSON(c.w, http.StatusOK, map[string]string{"id": pk.ID, "name": pk.Name})
	return nil
}
