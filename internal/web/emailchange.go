package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// E-mail rectification (issue 12 §3): on the security page a member asks for a new
// address; the link mailed to it opens a page that asks to confirm (GET changes
// nothing: mail scanners follow links), and its POST changes the address. Each has a
// JSON twin.

// routes registers the pages and API calls of e-mail changes.
func (e emailPages) routes(api, login ratelimit.Class) {
	p := e.Portal
	p.route("POST /settings/privacy/email", api, p.browserForm(signedIn, e.requestForm))
	p.route("PUT /api/v1/me/email", api, p.apiJSON(signedIn, e.apiRequest))
	p.route("GET /settings/email/confirm", api, p.page(anyone, e.confirmPage))
	p.route("POST /settings/email/confirm", login, p.browserForm(anyone, e.confirmForm))
	p.route("POST /api/v1/me/email/confirm", login, p.apiJSON(anyone, e.apiConfirm))
}

// emailPages are the member's e-mail changes.
type emailPages struct{ *Portal }

func (p emailPages) changes() account.EmailChanges { return account.EmailChanges{Service: p.Account} }

// sentNotice is the one answer to a request, whether the address is free or taken.
func sentNotice(email string, expires time.Time) string {
	return "We sent a link to " + email + ". Open it to confirm the new address (it works once, until " +
		expires.UTC().Format("2 January 2006 15:04 MST") + "); until then you sign in with your current address."
}

func (p emailPages) requestForm(c *call) error {
	ch, err := p.changes().Request(c.r.Context(), c.Workspace, p.self(c), c.r.PostFormValue("email"))
	if errors.Is(err, authn.ErrNoPortalURL) {
		return accountPages(p).renderSecurity(c, http.StatusServiceUnavailable, "",
			"This gateway cannot mail links yet: its operator has not set its public address (base_url). Ask an administrator to change your address.")
	}
	if err != nil {
		return accountPages(p).settingsError(c, err)
	}
	return accountPages(p).renderSecurity(c, http.StatusOK, sentNotice(ch.NewEmail, ch.ExpiresAt), "")
}

// apiRequest: PUT /api/v1/me/email {"email"} → 202 {"status":"confirmation_sent",
// "email", "expires_at"}, the same for a free and a taken address.
func (p emailPages) apiRequest(c *call) error {
	var body struct {
		Email string `json:"email"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	ch, err := p.changes().Request(c.r.Context(), c.Workspace, p.self(c), body.Email)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusAccepted, map[string]any{"status": "confirmation_sent", "email": ch.NewEmail,
		"expires_at": ch.ExpiresAt.UTC().Format(time.RFC3339), "message": sentNotice(ch.NewEmail, ch.ExpiresAt)})
	return nil
}

type emailChangePage struct {
	Token, OldEmail, NewEmail string
	Taken                     bool
}

// confirmPage asks to confirm; it changes nothing.
func (p emailPages) confirmPage(c *call) error {
	tok := c.r.URL.Query().Get("token")
	pe, err := p.changes().Open(c.r.Context(), c.Workspace, tok)
	if err != nil {
		return p.linkClosed(c, err)
	}
	status, title := http.StatusOK, "Confirm your new e-mail address"
	if pe.Taken {
		status, title = http.StatusConflict, "That address is taken"
	}
	p.render(c, status, "emailchange", pageInfo{Title: title}, emailChangePage{Token: tok, OldEmail: pe.User.Email, NewEmail: pe.NewEmail, Taken: pe.Taken})
	return nil
}

func (p emailPages) confirmForm(c *call) error {
	u, err := p.changes().Confirm(c.r.Context(), c.Workspace, p.client(c), c.r.PostFormValue("token"))
	if errors.Is(err, account.ErrEmailTaken) {
		return errorf(http.StatusConflict, "email_taken", takenMessage)
	}
	if err != nil {
		return p.linkClosed(c, err)
	}
	p.message(c, http.StatusOK, "E-mail address changed", messagePage{
		Message: "Your account's e-mail address is now " + u.Email + ". Sign in with it from now on.",
		Link:    p.path("/settings/security"), LinkText: "Go to your security page"})
	return nil
}

// apiConfirm: POST /api/v1/me/email/confirm {"token"} → 200 {"status":"changed",
// "email"}.
func (p emailPages) apiConfirm(c *call) error {
	var body struct {
		Token string `json:"token"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	u, err := p.changes().Confirm(c.r.Context(), c.Workspace, p.client(c), body.Token)
	if err != nil {
		return linkError(err)
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "changed", "email": u.Email})
	return nil
}

const takenMessage = "Another member of this workspace already uses that address, so nothing has changed. " +
	"Ask for a change to another address on your security page, or ask an administrator."

// linkClosed shows a spent, expired or replaced link as a page with a way on.
func (p emailPages) linkClosed(c *call, err error) error {
	if !errors.Is(err, authn.ErrLinkClosed) {
		return err
	}
	p.message(c, http.StatusNotFound, "Link no longer valid", messagePage{
		Message: "This link is no longer valid: it was used, it expired (after 24 hours), a newer one was sent, or the password was changed since. " +
			"To change your address, ask again on your security page.",
		Link: p.path("/settings/security"), LinkText: "Go to your security page"})
	return nil
}
