package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/redirect"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// Step-up: a route whose rule says "mfa" needs a session that used a second factor.
// The gateway sends a signed-in browser whose session used only a password here
// (/step-up?rd=<the page>): a user with a second factor proves it on this page and
// their session is replaced by one that includes it; a user without one is led to set
// one up, and the enrolment — carrying rd — steps the session up and goes on to rd.

// stepUp is the step-up flow, over the portal's sign-in.
func (p *Portal) stepUp() authn.StepUp { return authn.StepUp{SignIn: p.SignIn} }

// stepUpTarget is where a step-up leads afterwards: rd when it is a same-site path
// (redirect.Safe), else the portal's home.
func (p *Portal) stepUpTarget(r *http.Request) string {
	if to, ok := stepUpRD(r); ok {
		return to
	}
	return p.HomeURL
}

// stepUpRD reads a checked rd from the query or the form: ok only when one was given
// and it is a same-site path. Enrolments read it to tell that they are on the way to a
// page that needs a second factor.
func stepUpRD(r *http.Request) (string, bool) {
	return redirect.Safe(r.FormValue("rd"))
}

// stepUpLink adds rd to a portal path always ("/" included, unlike withRD): on the
// enrolment pages its presence marks the way back to a step-up.
func stepUpLink(path, to string) string {
	if _, ok := redirect.Safe(to); !ok {
		to = "/"
	}
	return path + "?rd=" + url.QueryEscape(to)
}

type stepUpPage struct {
	Redirect string // where the user goes afterwards
	// Verify: the user has a second factor the workspace's policy accepts; they prove
	// it here with what the flags say.
	Verify                  bool
	TOTP, Recovery, Passkey bool
	// Otherwise they set one up: an authenticator app (EnrolTOTP) and/or a passkey.
	EnrolTOTP     bool
	AdminPasskey  bool   // "passkeys for admins": a passkey is the only choice
	PasskeyFinish string // the registration's finish call, carrying rd
	Cancel        string
}

// stepUpSession returns the caller's full session, or sends a browser without one to
// sign in (and on to to afterwards) and returns nil.
func (p stepUpPages) stepUpSession(c *call, to string) (*session.Entry, error) {
	e, err := p.session(c)
	if err != nil {
		return nil, unavailable(err)
	}
	if e == nil {
		status := http.StatusSeeOther
		if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
			status = http.StatusFound
		}
		http.Redirect(c.w, c.r, withRD(p.path("/login"), to), status)
		return nil, nil
	}
	c.me = e
	return e, nil
}

// stepUpPage serves /step-up: straight on when the session has a second factor
// already, else the way to one.
func (p stepUpPages) stepUpPage(c *call) error {
	to := p.stepUpTarget(c.r)
	e, err := p.stepUpSession(c, to)
	if e == nil || err != nil {
		return err
	}
	if !p.stepUp().Needed(e) {
		http.Redirect(c.w, c.r, to, http.StatusFound)
		return nil
	}
	return p.renderStepUp(c, http.StatusOK, to, "")
}

func (p stepUpPages) renderStepUp(c *call, status int, to, errMsg string) error {
	need, err := p.SignIn.Requirement(c.r.Context(), c.Workspace, c.me.User)
	if err != nil {
		return unavailable(err)
	}
	d := stepUpPage{Redirect: to, Cancel: p.HomeURL}
	title := "Confirm it is you"
	switch need.Step {
	case authn.StepVerify:
		d.Verify = true
		d.TOTP, d.Recovery, d.Passkey = need.Allows(authn.MethodTOTP), need.Allows(authn.MethodRecovery), need.Allows(authn.MethodPasskey)
	case authn.StepEnrolPasskey:
		d.AdminPasskey = true
	default:
		d.EnrolTOTP = true
	}
	if !d.Verify {
		title = "Set up two-step verification"
		d.PasskeyFinish = stepUpLink(p.path("/api/v1/webauthn/register/finish"), to)
	}
	p.render(c, status, "stepup", pageInfo{Title: title, Error: errMsg}, d)
	return nil
}

// stepUpForm takes a code (authenticator app or recovery code) on the step-up page.
func (p stepUpPages) stepUpForm(c *call) error {
	to := p.stepUpTarget(c.r)
	e, err := p.stepUpSession(c, to)
	if e == nil || err != nil {
		return err
	}
	o, err := p.stepUp().Code(c.r.Context(), c.Workspace, p.client(c), e, "", c.r.PostFormValue("code"))
	if errors.Is(err, authn.ErrReauthRequired) {
		// A factor added since this session began: the password first, then back here.
		http.Redirect(c.w, c.r, withRD(p.path("/reauth"), stepUpLink(p.path("/step-up"), to)), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	switch o.Status {
	case authn.SignedIn:
		signinPages(p).codeAccepted(c, o, to, "Verified with a recovery code")
		return nil
	case authn.Refused:
		return p.renderStepUp(c, http.StatusUnauthorized, to, "That code is not valid. Enter the newest code your app shows.")
	}
	return outcomeError(o).goOn(stepUpLink(p.path("/step-up"), to), "Try again")
}

// apiStepUpCode: POST /api/v1/step-up/totp | /step-up/recovery {"code"} →
// {"status":"signed_in"} with the new session (as a sign-in answers).
func (p stepUpPages) apiStepUpCode(method string) handler {
	return func(c *call) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := c.decode(&body, true); err != nil {
			return err
		}
		o, err := p.stepUp().Code(c.r.Context(), c.Workspace, p.client(c), c.me, method, body.Code)
		if errors.Is(err, authn.ErrReauthRequired) {
			return err
		}
		if err != nil {
			return unavailable(err)
		}
		p.setIssued(c, o)
		if o.Status == authn.Refused {
			return errorf(http.StatusUnauthorized, "invalid_code", "That code is not valid.")
		}
		return signinPages(p).signInJSON(c, o)
	}
}

// apiStepUpPasskeyBegin: POST /api/v1/step-up/passkey/begin → {"ceremony","publicKey"}.
func (p stepUpPages) apiStepUpPasskeyBegin(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	opts, ceremony, err := p.stepUp().PasskeyBegin(c.r.Context(), c.Workspace, p.client(c), c.me)
	return ceremonyStarted(c, opts, ceremony, err)
}

// apiStepUpPasskeyFinish: POST /api/v1/step-up/passkey/finish {"ceremony","credential"}
// → {"status":"signed_in"} with the new session.
func (p stepUpPages) apiStepUpPasskeyFinish(c *call) error {
	var body struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.stepUp().PasskeyFinish(c.r.Context(), c.Workspace, p.client(c), c.me, body.Ceremony, body.Credential)
	if errors.Is(err, authn.ErrReauthRequired) {
		return err
	}
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	return signinPages(p).signInJSON(c, o)
}

// stepUpEnrolled is called after a full session enrolled a factor (method): when the
// enrolment carries rd it is on the way to a page that needs a second factor, and the
// session is stepped up (authn.StepUp.Enrolled decides whether it may be). It reports
// whether the enrolment carried rd. A failure to step up is logged, not answered: the
// factor is on (and its recovery codes must still be shown); the step-up page then asks
// for it.
func (p *Portal) stepUpEnrolled(c *call, method string) bool {
	if c.me.Session.Pending {
		return false // CompleteEnrolment finished the sign-in
	}
	if _, ok := stepUpRD(c.r); !ok {
		return false
	}
	o, err := p.stepUp().Enrolled(c.r.Context(), c.Workspace, p.client(c), c.me, method)
	if err != nil {
		p.Logger.Warn("stepping up after an enrolment", zap.String("method", method), zap.Error(err))
		return true
	}
	p.setIssued(c, o)
	return true
}

// enrolRD is the rd an enrolment page carries on: the sign-in's target for a pending
// session (forced enrolment), the step-up's target for a full one ("" when none).
func (p accountPages) enrolRD(c *call) string {
	if c.me.Session.Pending {
		return rd(c.r)
	}
	to, _ := stepUpRD(c.r)
	return to
}
