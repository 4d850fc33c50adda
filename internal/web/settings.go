package web

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/totp"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type securityPage struct {
	TOTP              bool
	SecondFactor      bool // recovery codes make sense only then
	Codes             int
	Passkeys          any
	LocationProfiling bool
	Requests          []store.PrivacyRequest // the member's data-subject requests
	Name              string                 // the member's name, to correct
	Email             string                 // the member's address, to correct
	// PendingEmail is the address a change waits to be confirmed for, until
	// PendingUntil ("" when none is pending).
	PendingEmail string
	PendingUntil time.Time
}

// securityPage serves the user's own security settings.
func (p accountPages) securityPage(c *call) error {
	return p.renderSecurity(c, http.StatusOK, "", "")
}

func (p accountPages) renderSecurity(c *call, status int, notice, errMsg string) error {
	ov, err := p.Account.Security(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	reqs, err := p.Account.MyRequests(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	page := securityPage{TOTP: ov.Factors.TOTP, SecondFactor: ov.Factors.Any(), Codes: ov.Factors.RecoveryCodes,
		Passkeys: ov.Passkeys, LocationProfiling: ov.LocationProfiling, Requests: reqs, Name: c.me.User.DisplayName, Email: c.me.User.Email}
	switch ch, err := c.Workspace.EmailChanges().EmailChangeOf(c.r.Context(), c.me.User.ID); {
	case err == nil && p.Clock.Now().Before(ch.ExpiresAt):
		page.PendingEmail, page.PendingUntil = ch.NewEmail, ch.ExpiresAt
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return unavailable(err)
	}
	p.render(c, status, "security", pageInfo{Title: "Security", Nav: "security", Notice: notice, Error: errMsg}, page)
	return nil
}

// settingsError shows what a user caused on the security page itself (a wrong
// password, a bad name); anything else goes to the error page.
func (p accountPages) settingsError(c *call, err error) error {
	if errors.Is(err, authn.ErrReauthRequired) {
		return err // fail sends the browser to confirm the password, then back
	}
	e := useCaseError(err)
	if e.status >= 500 || e.status == http.StatusTooManyRequests || c.me.Session.Pending {
		return e
	}
	return p.renderSecurity(c, e.status, "", e.msg)
}

type totpEnrolPage struct {
	QR, Secret, Redirect, Cancel string
}

// enrolReturn is where an enrolment leads afterwards: to the page the user was going
// to when it completes a sign-in (forced enrolment), else back to the security page.
func (p accountPages) enrolReturn(c *call) (next, cancel string) {
	if c.me.Session.Pending {
		to := rd(c.r)
		return to, withRD(p.path("/login/2fa"), to)
	}
	if to, ok := stepUpRD(c.r); ok { // on the way to a page that needs a second factor
		return to, stepUpLink(p.path("/step-up"), to)
	}
	return p.path("/settings/security"), p.path("/settings/security")
}

func (p accountPages) renderTOTPEnrol(c *call, status int, k totp.Key, errMsg string) {
	_, cancel := p.enrolReturn(c)
	info := pageInfo{Title: "Set up an authenticator app", Nav: "security", Error: errMsg}
	p.render(c, status, "totp_enroll", info, totpEnrolPage{QR: base64.StdEncoding.EncodeToString(k.QRPNG),
		Secret: k.Secret, Redirect: p.enrolRD(c), Cancel: cancel})
}

func (p accountPages) totpEnrolForm(c *call) error {
	k, err := p.Account.BeginTOTP(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return p.settingsError(c, err)
	}
	p.renderTOTPEnrol(c, http.StatusOK, k, "")
	return nil
}

// totpConfirmForm turns the app on. A mistyped code shows the same key again (no new
// scan); when the enrolment completes a sign-in, the recovery codes page leads on to
// where the user was going.
func (p accountPages) totpConfirmForm(c *call) error {
	ctx := c.r.Context()
	enrolled, err := p.Account.ConfirmTOTP(ctx, c.Workspace, p.self(c), c.r.PostFormValue("code"))
	if errors.Is(err, authn.ErrInvalidCode) || errors.Is(err, authn.ErrCodeReplayed) {
		k, kerr := p.Account.PendingTOTP(ctx, c.Workspace, p.self(c))
		if kerr != nil {
			return p.settingsError(c, kerr)
		}
		p.renderTOTPEnrol(c, http.StatusBadRequest, k, "That code is not right. Check the time on your phone and enter the newest code the app shows.")
		return nil
	}
	if err != nil {
		return p.settingsError(c, err)
	}
	if enrolled.SignIn != nil {
		p.setIssued(c, *enrolled.SignIn)
	}
	steppingUp := p.stepUpEnrolled(c, authn.MethodTOTP)
	next, _ := p.enrolReturn(c)
	if len(enrolled.RecoveryCodes) > 0 {
		p.showCodes(c, enrolled.RecoveryCodes, next)
		return nil
	}
	if c.me.Session.Pending || steppingUp {
		http.Redirect(c.w, c.r, next, http.StatusSeeOther)
		return nil
	}
	return p.renderSecurity(c, http.StatusOK, "Your authenticator app is on.", "")
}

type codesPage struct {
	Codes          []string
	Next, NextText string
}

func (p accountPages) showCodes(c *call, codes []string, next string) {
	text := "I have saved them: continue"
	if next == p.path("/settings/security") {
		text = "I have saved them: back to security"
	}
	p.render(c, http.StatusOK, "codes", pageInfo{Title: "Recovery codes", Nav: "security"}, codesPage{Codes: codes, Next: next, NextText: text})
}

func (p accountPages) totpDisableForm(c *call) error {
	if err := p.Account.DisableTOTP(c.r.Context(), c.Workspace, p.self(c), c.r.PostFormValue("password")); err != nil {
		return p.settingsError(c, err)
	}
	return p.renderSecurity(c, http.StatusOK, "The authenticator app was removed.", "")
}

func (p accountPages) recoveryForm(c *call) error {
	codes, err := p.Account.RegenerateRecoveryCodes(c.r.Context(), c.Workspace, p.self(c), c.r.PostFormValue("password"))
	if err != nil {
		return p.settingsError(c, err)
	}
	p.showCodes(c, codes, p.path("/settings/security"))
	return nil
}

func (p accountPages) privacyForm(c *call) error {
	on := c.r.PostFormValue("location_profiling") == "on"
	if err := p.Account.SetLocationProfiling(c.r.Context(), c.Workspace, p.self(c), on); err != nil {
		return p.settingsError(c, err)
	}
	http.Redirect(c.w, c.r, p.path("/settings/security"), http.StatusSeeOther)
	return nil
}

func (p accountPages) passkeyRenameForm(c *call) error {
	f := c.r.PostForm
	if err := p.Account.RenamePasskey(c.r.Context(), c.Workspace, p.self(c), f.Get("id"), f.Get("name")); err != nil {
		return p.settingsError(c, err)
	}
	http.Redirect(c.w, c.r, p.path("/settings/security"), http.StatusSeeOther)
	return nil
}

func (p accountPages) passkeyDeleteForm(c *call) error {
	if err := p.Account.DeletePasskey(c.r.Context(), c.Workspace, p.self(c), c.r.PostFormValue("id")); err != nil {
		return p.settingsError(c, err)
	}
	http.Redirect(c.w, c.r, p.path("/settings/security"), http.StatusSeeOther)
	return nil
}

// apiTOTPEnroll: POST /api/v1/totp/enroll → {"secret","otpauth_url","qr_png"}.
func (p accountPages) apiTOTPEnroll(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	k, err := p.Account.BeginTOTP(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"secret": k.Secret, "otpauth_url": k.URL, "qr_png": base64.StdEncoding.EncodeToString(k.QRPNG)})
	return nil
}

// apiTOTPConfirm: POST /api/v1/totp/confirm {"code"} → {"status":"enrolled","recovery_codes":[…]}.
func (p accountPages) apiTOTPConfirm(c *call) error {
	var body struct {
		Code string `json:"code"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	enrolled, err := p.Account.ConfirmTOTP(c.r.Context(), c.Workspace, p.self(c), body.Code)
	if err != nil {
		return err
	}
	if enrolled.SignIn != nil {
		p.setIssued(c, *enrolled.SignIn)
	}
	codes := enrolled.RecoveryCodes
	if codes == nil {
		codes = []string{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"status": "enrolled", "recovery_codes": codes})
	return nil
}

// apiMe: GET /api/v1/me → the signed-in user.
func (p accountPages) apiMe(c *call) error {
	ov, err := p.Account.Security(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	u, f := c.me.User, ov.Factors
	writeJSON(c.w, http.StatusOK, map[string]any{
		"user":         map[string]any{"id": u.ID, "email": u.Email, "name": u.DisplayName, "status": u.Status},
		"tenant":       map[string]string{"id": c.Workspace.ID, "slug": c.Workspace.Slug, "name": c.Workspace.Name},
		"roles":        nonNil(u.Roles),
		"teams":        nonNil(u.Teams),
		"session_id":   c.me.Session.ID,
		"auth_methods": nonNil(c.me.Session.AuthMethods),
		"second_factor": map[string]any{
			"enrolled": f.Any(), "totp": f.TOTP, "passkeys": f.Passkeys, "recovery_codes": f.RecoveryCodes,
		},
		"location_profiling": ov.LocationProfiling,
	})
	return nil
}

// apiPrivacy: PUT or POST /api/v1/me/privacy {"location_profiling": bool}.
func (p accountPages) apiPrivacy(c *call) error {
	var body struct {
		LocationProfiling *bool `json:"location_profiling"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	if body.LocationProfiling == nil {
		return errorf(http.StatusBadRequest, "invalid_location_profiling", "location_profiling (true or false) is required.")
	}
	if err := p.Account.SetLocationProfiling(c.r.Context(), c.Workspace, p.self(c), *body.LocationProfiling); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]bool{"location_profiling": *body.LocationProfiling})
	return nil
}
