package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
)

type passwordPage struct{ MinLength int }

// passwordPage: change the password (the current one is asked).
func (p accountPages) passwordPage(c *call) error {
	p.render(c, http.StatusOK, "password", pageInfo{Title: "Change password", Nav: "security"}, passwordPage{MinLength: p.Rules.MinLength})
	return nil
}

func (p accountPages) passwordForm(c *call) error {
	f := c.r.PostForm
	info := pageInfo{Title: "Change password", Nav: "security"}
	if f.Get("new_password") != f.Get("confirm") {
		info.Error = "The two new passwords differ."
		p.render(c, http.StatusBadRequest, "password", info, passwordPage{MinLength: p.Rules.MinLength})
		return nil
	}
	n, err := p.Account.ChangePassword(c.r.Context(), c.Workspace, p.self(c), f.Get("current_password"), f.Get("new_password"), f.Get("end_others") == "on")
	if err != nil {
		e := useCaseError(err)
		if e.status >= 500 || e.status == http.StatusTooManyRequests {
			return e
		}
		info.Error = e.msg
		p.render(c, e.status, "password", info, passwordPage{MinLength: p.Rules.MinLength})
		return nil
	}
	msg := "Your password is changed."
	if f.Get("end_others") == "on" {
		msg += " Your other sessions are signed out."
		if n == 0 {
			msg = "Your password is changed. There was no other session to sign out."
		}
	}
	return p.renderSecurity(c, http.StatusOK, msg, "")
}

// apiPassword: POST /api/v1/me/password {"current_password","new_password","end_other_sessions"}.
func (p accountPages) apiPassword(c *call) error {
	var body struct {
		Current   string `json:"current_password"`
		New       string `json:"new_password"`
		EndOthers bool   `json:"end_other_sessions"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	n, err := p.Account.ChangePassword(c.r.Context(), c.Workspace, p.self(c), body.Current, body.New, body.EndOthers)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"status": "changed", "other_sessions_ended": n})
	return nil
}

// links are the mailed-link flows, over the portal's sign-in.
func (p linkPages) links() authn.Links { return authn.Links{SignIn: p.SignIn} }

type forgotPage struct{ Email string }

// forgotPage asks for the address to send a reset link to.
func (p linkPages) forgotPage(c *call) error {
	p.render(c, http.StatusOK, "forgot", pageInfo{Title: "Forgot your password?"}, forgotPage{})
	return nil
}

// noResetMessage explains why no reset link can be mailed: base_url is not configured.
const noResetMessage = "This gateway cannot mail reset links yet: its operator has not set its public address (base_url). Ask an administrator of your workspace to reset your password."

// sentMessage is the one answer to every reset request, known address or not.
const sentMessage = "If an account uses that address, we have sent it a link to set a new password. The link works once, for 30 minutes."

func (p linkPages) forgotForm(c *call) error {
	o, err := p.links().RequestReset(c.r.Context(), c.Workspace, p.client(c), c.r.PostFormValue("email"))
	if errors.Is(err, authn.ErrNoPortalURL) {
		p.message(c, http.StatusServiceUnavailable, "Reset links are not set up", messagePage{Message: noResetMessage, Link: p.path("/login"), LinkText: "Back to sign-in"})
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	if e := outcomeError(o); e != nil {
		return e
	}
	p.message(c, http.StatusOK, "Check your e-mail", messagePage{Message: sentMessage, Link: p.path("/login"), LinkText: "Back to sign-in"})
	return nil
}

// apiForgot: POST /api/v1/password/forgot {"email"} → 202, the same for every address.
func (p linkPages) apiForgot(c *call) error {
	var body struct {
		Email string `json:"email"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.links().RequestReset(c.r.Context(), c.Workspace, p.client(c), body.Email)
	if errors.Is(err, authn.ErrNoPortalURL) {
		return err
	}
	if err != nil {
		return unavailable(err)
	}
	if e := outcomeError(o); e != nil {
		return e
	}
	writeJSON(c.w, http.StatusAccepted, map[string]string{"status": "sent_if_known", "message": sentMessage})
	return nil
}

type newPasswordPage struct {
	Token, Email, Name string
	MinLength          int
	Invite             bool
}

// resetPage shows the new-password form for a live reset link.
func (p linkPages) resetPage(c *call) error {
	tok := c.r.URL.Query().Get("token")
	u, err := p.links().ResetOpen(c.r.Context(), c.Workspace, tok)
	if err != nil {
		return linkError(err)
	}
	p.render(c, http.StatusOK, "newpassword", pageInfo{Title: "Set a new password"}, newPasswordPage{Token: tok, Email: u.Email, MinLength: p.Rules.MinLength})
	return nil
}

func (p linkPages) resetForm(c *call) error {
	f := c.r.PostForm
	d := newPasswordPage{Token: f.Get("token"), MinLength: p.Rules.MinLength}
	if f.Get("password") != f.Get("confirm") {
		p.render(c, http.StatusBadRequest, "newpassword", pageInfo{Title: "Set a new password", Error: "The two passwords differ."}, d)
		return nil
	}
	_, err := p.links().ResetPassword(c.r.Context(), c.Workspace, p.client(c), d.Token, f.Get("password"))
	var ie *authn.InputError
	if errors.As(err, &ie) {
		p.render(c, http.StatusBadRequest, "newpassword", pageInfo{Title: "Set a new password", Error: ie.Msg}, d)
		return nil
	}
	if err != nil {
		return linkError(err)
	}
	http.Redirect(c.w, c.r, p.path("/login?password_reset=1"), http.StatusSeeOther)
	return nil
}

// apiReset: POST /api/v1/password/reset {"token","password"} → {"status":"reset"}.
func (p linkPages) apiReset(c *call) error {
	var body struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	if _, err := p.links().ResetPassword(c.r.Context(), c.Workspace, p.client(c), body.Token, body.Password); err != nil {
		return linkError(err)
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "reset"})
	return nil
}

// linkError is the answer to a link that can no longer be used.
func linkError(err error) error {
	if errors.Is(err, authn.ErrLinkClosed) {
		return errorf(http.StatusNotFound, "link_no_longer_valid", "This link is no longer valid: it was used, it expired, or a newer one was sent.")
	}
	return err
}

// invitePage shows the form an invitee sets their password with.
func (p linkPages) invitePage(c *call) error {
	tok := c.r.URL.Query().Get("token")
	u, err := p.links().InviteOpen(c.r.Context(), c.Workspace, tok)
	if err != nil {
		return linkError(err)
	}
	p.render(c, http.StatusOK, "newpassword", pageInfo{Title: "Join " + c.Workspace.Name},
		newPasswordPage{Token: tok, Email: u.Email, Name: u.DisplayName, MinLength: p.Rules.MinLength, Invite: true})
	return nil
}

func (p linkPages) inviteForm(c *call) error {
	f := c.r.PostForm
	d := newPasswordPage{Token: f.Get("token"), Name: f.Get("name"), MinLength: p.Rules.MinLength, Invite: true}
	info := pageInfo{Title: "Join " + c.Workspace.Name}
	if f.Get("password") != f.Get("confirm") {
		info.Error = "The two passwords differ."
		p.render(c, http.StatusBadRequest, "newpassword", info, d)
		return nil
	}
	o, err := p.links().AcceptInvite(c.r.Context(), c.Workspace, p.client(c), d.Token, d.Name, f.Get("password"))
	var ie *authn.InputError
	if errors.As(err, &ie) {
		info.Error = ie.Msg
		p.render(c, http.StatusBadRequest, "newpassword", info, d)
		return nil
	}
	if err != nil {
		return linkError(err)
	}
	p.setIssued(c, o)
	switch o.Status {
	case authn.SignedIn:
		http.Redirect(c.w, c.r, p.HomeURL, http.StatusSeeOther)
	case authn.SecondFactorDue, authn.EnrolmentRequired:
		http.Redirect(c.w, c.r, withRD(p.path("/login/2fa"), p.HomeURL), http.StatusSeeOther)
	default:
		return outcomeError(o)
	}
	return nil
}

// apiInviteAccept: POST /api/v1/invite/accept {"token","name","password"} → as a sign-in.
func (p linkPages) apiInviteAccept(c *call) error {
	var body struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.links().AcceptInvite(c.r.Context(), c.Workspace, p.client(c), body.Token, body.Name, body.Password)
	if err != nil {
		return linkError(err)
	}
	p.setIssued(c, o)
	return signinPages(p).signInJSON(c, o)
}

// reauth is the re-authentication flow, over the portal's sign-in.
func (p signinPages) reauth() authn.Reauth { return authn.Reauth{SignIn: p.SignIn} }

type reauthPage struct {
	Redirect string
	Passkeys bool // offer "Use a passkey" too
}

// reauthPage asks a signed-in user for their password (or a passkey) again before a
// sensitive action.
func (p signinPages) reauthPage(c *call) error {
	p.renderReauth(c, http.StatusOK, "", rd(c.r))
	return nil
}

func (p signinPages) renderReauth(c *call, status int, msg, to string) {
	f, _ := p.SignIn.MFA.Factors(c.r.Context(), c.Workspace, c.me.User.ID) // without it the page offers the password only
	p.render(c, status, "reauth", pageInfo{Title: "Confirm it is you", Error: msg}, reauthPage{Redirect: to, Passkeys: f.Passkeys > 0})
}

func (p signinPages) reauthForm(c *call) error {
	to := rd(c.r)
	o, err := p.reauth().Reauthenticate(c.r.Context(), c.Workspace, p.client(c), c.me, c.r.PostFormValue("password"))
	if err != nil {
		return unavailable(err)
	}
	if o.Status == authn.Refused {
		p.renderReauth(c, http.StatusUnauthorized, "The password is not right.", to)
		return nil
	}
	if e := outcomeError(o); e != nil {
		return e
	}
	http.Redirect(c.w, c.r, to, http.StatusSeeOther)
	return nil
}

// apiReauth: POST /api/v1/reauth {"password"} → {"status":"reauthenticated"}.
func (p signinPages) apiReauth(c *call) error {
	var body struct {
		Password string `json:"password"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.reauth().Reauthenticate(c.r.Context(), c.Workspace, p.client(c), c.me, body.Password)
	if err != nil {
		return unavailable(err)
	}
	if o.Status == authn.Refused {
		return errorf(http.StatusUnauthorized, "wrong_password", "The password is not right.")
	}
	if e := outcomeError(o); e != nil {
		return e
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "reauthenticated"})
	return nil
}

// apiReauthPasskeyBegin: POST /api/v1/reauth/passkey/begin → {"ceremony","publicKey"}.
func (p signinPages) apiReauthPasskeyBegin(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	opts, ceremony, err := p.reauth().ReauthPasskeyBegin(c.r.Context(), c.Workspace, p.client(c), c.me)
	return ceremonyStarted(c, opts, ceremony, err)
}

// apiReauthPasskeyFinish: POST /api/v1/reauth/passkey/finish {"ceremony","credential"}
// → {"status":"reauthenticated"}.
func (p signinPages) apiReauthPasskeyFinish(c *call) error {
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.reauth().ReauthPasskeyFinish(c.r.Context(), c.Workspace, p.client(c), c.me, body.Ceremony, body.Credential)
	if err != nil {
		return unavailable(err)
	}
	if o.Status == authn.Refused {
		return errorf(http.StatusUnauthorized, o.Reason, "The passkey was not accepted.")
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "reauthenticated"})
	return nil
}
