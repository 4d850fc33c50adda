package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/redirect"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// rd reads a return target from the query or the form: a checked same-site path, "/"
// when missing or unsafe.
func rd(r *http.Request) string {
	v := r.FormValue("rd")
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		v = r.URL.Query().Get("rd")
	}
	if safe, ok := redirect.Safe(v); ok {
		return safe
	}
	return "/"
}

type loginPage struct{ Redirect, Email string }

// loginPage: a signed-in visitor goes on to where they were going; one whose only way
// on is the enrolment the workspace requires (a pending session in enrol-only state:
// they opened an app URL) goes back to that step instead of typing the password again.
// A pending second factor does not redirect: on the sign-in page a passkey starts a
// sign-in of its own, never the second step of a password someone else may have typed.
func (p signinPages) loginPage(c *call) error {
	to := rd(c.r)
	if e, err := p.session(c); err == nil && e != nil {
		http.Redirect(c.w, c.r, to, http.StatusFound)
		return nil
	}
	if pending, err := p.SignIn.Pending(c.r.Context(), c.Workspace, p.client(c)); err == nil && pending != nil {
		if need, err := p.SignIn.Requirement(c.r.Context(), c.Workspace, pending.User); err == nil &&
			(need.Step == authn.StepEnrol || need.Step == authn.StepEnrolPasskey) {
			http.Redirect(c.w, c.r, withRD(p.path("/login/2fa"), to), http.StatusFound)
			return nil
		}
	}
	info := pageInfo{Title: "Sign in"}
	switch {
	case c.r.URL.Query().Get("signed_out") == "1":
		info.Notice = "You have signed out."
	case c.r.URL.Query().Get("password_reset") == "1":
		info.Notice = "Your password is set, and every session of the account is signed out. Sign in with the new password."
	}
	p.render(c, http.StatusOK, "login", info, loginPage{Redirect: to})
	return nil
}

// loginPost takes the sign-in form, or its JSON twin for clients that post JSON here.
func (p signinPages) loginPost() http.Handler {
	form, api := p.browserForm(anyone, p.loginForm), p.apiJSON(anyone, p.apiLogin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isJSONBody(r) {
			api.ServeHTTP(w, r)
			return
		}
		form.ServeHTTP(w, r)
	})
}

func (p signinPages) loginForm(c *call) error {
	to, email := rd(c.r), c.r.PostFormValue("email")
	o, err := p.SignIn.Password(c.r.Context(), c.Workspace, p.client(c), email, c.r.PostFormValue("password"))
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	switch o.Status {
	case authn.SecondFactorDue, authn.EnrolmentRequired:
		http.Redirect(c.w, c.r, withRD(p.path("/login/2fa"), to), http.StatusSeeOther)
	case authn.SignedIn:
		if !o.RemindBy.IsZero() {
			p.message(c, http.StatusOK, "Set up two-step verification", messagePage{
				Message: "Your workspace requires a second factor (an authenticator app or a passkey). Please set one up by " +
					o.RemindBy.UTC().Format("Monday 2 January 2006, 15:04 MST") + "; after that you will only be able to sign in to set it up.",
				Link: p.path("/settings/security"), LinkText: "Set it up now",
				Secondary: to, SecondaryText: "Continue for now"})
			return nil
		}
		http.Redirect(c.w, c.r, to, http.StatusSeeOther)
	case authn.Refused:
		info := pageInfo{Title: "Sign in", Error: "Incorrect e-mail or password."}
		p.render(c, http.StatusUnauthorized, "login", info, loginPage{Redirect: to, Email: email})
	default:
		return outcomeError(o).goOn(withRD(p.path("/login"), to), "Back to sign-in")
	}
	return nil
}

// apiLogin: POST /api/v1/login {"email","password"}.
func (p signinPages) apiLogin(c *call) error {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	o, err := p.SignIn.Password(c.r.Context(), c.Workspace, p.client(c), body.Email, body.Password)
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	return p.signInJSON(c, o)
}

// signInJSON answers a sign-in step's outcome as the API describes it.
func (p signinPages) signInJSON(c *call, o authn.Outcome) error {
	if e := outcomeError(o); e != nil {
		return e
	}
	out := map[string]any{"status": o.Status.String()}
	switch o.Status {
	case authn.SecondFactorDue, authn.EnrolmentRequired:
		out["methods"] = o.Methods
	case authn.SignedIn:
		if !o.RemindBy.IsZero() {
			out["second_factor_required_by"] = o.RemindBy.UTC().Format(time.RFC3339)
		}
		if o.Recovery {
			out["recovery_codes_remaining"] = o.RecoveryCodesLeft
		}
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

type secondFactorPage struct {
	Redirect                string
	TOTP, Recovery, Passkey bool // what the user may verify with
	Enrol, EnrolTOTP        bool // forced enrolment, and whether an app is among the choices
}

// secondFactorPage serves /login/2fa: the second step, or the enrolment the tenant's
// policy requires.
func (p signinPages) secondFactorPage(c *call) error {
	return p.renderSecondFactor(c, http.StatusOK, rd(c.r), "")
}

func (p signinPages) renderSecondFactor(c *call, status int, to, errMsg string) error {
	pending, err := p.SignIn.Pending(c.r.Context(), c.Workspace, p.client(c))
	if err != nil {
		return unavailable(err)
	}
	if pending == nil {
		http.Redirect(c.w, c.r, withRD(p.path("/login"), to), http.StatusSeeOther)
		return nil
	}
	need, err := p.SignIn.Requirement(c.r.Context(), c.Workspace, pending.User)
	if err != nil {
		return unavailable(err)
	}
	d := secondFactorPage{Redirect: to,
		TOTP: need.Allows(authn.MethodTOTP), Recovery: need.Allows(authn.MethodRecovery), Passkey: need.Allows(authn.MethodPasskey),
		Enrol: need.Step == authn.StepEnrol || need.Step == authn.StepEnrolPasskey, EnrolTOTP: need.Step == authn.StepEnrol}
	title := "Second step"
	if d.Enrol {
		title = "Set up two-step verification"
		d.TOTP, d.Recovery, d.Passkey = false, false, false
	}
	p.render(c, status, "2fa", pageInfo{Title: title, Error: errMsg}, d)
	return nil
}

func (p signinPages) secondFactorForm(c *call) error {
	to := rd(c.r)
	o, err := p.SignIn.SecondFactor(c.r.Context(), c.Workspace, p.client(c), "", c.r.PostFormValue("code"))
	if err != nil {
		return unavailable(err)
	}
	p.setIssued(c, o)
	switch o.Status {
	case authn.SignedIn:
		p.codeAccepted(c, o, to, "Signed in with a recovery code")
		return nil
	case authn.Refused:
		return p.renderSecondFactor(c, http.StatusUnauthorized, to, "That code is not valid.")
	case authn.NoPendingSignIn:
		http.Redirect(c.w, c.r, withRD(p.path("/login"), to), http.StatusSeeOther)
		return nil
	}
	return outcomeError(o)
}

// apiSecondFactor: POST /api/v1/login/totp | /login/recovery {"code"}.
func (p signinPages) apiSecondFactor(method string) handler {
	return func(c *call) error {
		var body struct {
			Code string `json:"code"`
		}
		if err := c.decode(&body, true); err != nil {
			return err
		}
		o, err := p.SignIn.SecondFactor(c.r.Context(), c.Workspace, p.client(c), method, body.Code)
		if err != nil {
			return unavailable(err)
		}
		p.setIssued(c, o)
		if o.Status == authn.Refused {
			return errorf(http.StatusUnauthorized, "invalid_code", "That code is not valid.")
		}
		return p.signInJSON(c, o)
	}
}

func (p signinPages) logoutPage(c *call) error {
	p.render(c, http.StatusOK, "logout", pageInfo{Title: "Sign out"}, nil)
	return nil
}

func (p signinPages) logoutForm(c *call) error {
	if err := p.SignIn.SignOut(c.r.Context(), c.Workspace, p.client(c)); err != nil {
		return unavailable(err).goOn(p.path("/logout"), "Try again")
	}
	session.ClearCookie(c.w, c.HTTPS)
	tokenPages(p).clearRefreshCookie(c) // its family ended with the session
	http.Redirect(c.w, c.r, p.path("/login?signed_out=1"), http.StatusSeeOther)
	return nil
}

// apiLogout: POST /api/v1/logout → 204, the session revoked (or 503: never a success
// without the revocation stored).
func (p signinPages) apiLogout(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	if err := p.SignIn.SignOut(c.r.Context(), c.Workspace, p.client(c)); err != nil {
		return unavailable(err)
	}
	session.ClearCookie(c.w, c.HTTPS)
	tokenPages(p).clearRefreshCookie(c) // its family ended with the session
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

type setupPage struct {
	Token, Workspace, Email, Name string
	MinLength                     int
}

// setupPage: the first-run link lets its holder name the workspace and create its
// first owner. A link that can no longer be used says so instead of showing the form.
func (p signinPages) setupPage(c *call) error {
	d := setupPage{MinLength: p.Rules.MinLength}
	tok := c.r.URL.Query().Get("token")
	open, err := authn.SetupOpen(c.r.Context(), c.Workspace, tok, p.Clock)
	if err != nil {
		return unavailable(err)
	}
	status := http.StatusNotFound
	if open {
		d.Token, status = tok, http.StatusOK
	}
	p.render(c, status, "setup", pageInfo{Title: "Set up Gatehouse"}, d)
	return nil
}

func (p signinPages) setupForm(c *call) error {
	f := c.r.PostForm
	d := setupPage{MinLength: p.Rules.MinLength, Token: f.Get("token"), Workspace: f.Get("workspace"), Email: f.Get("email"), Name: f.Get("name")}
	if f.Get("password") != f.Get("confirm") {
		p.render(c, http.StatusBadRequest, "setup", pageInfo{Title: "Set up Gatehouse", Error: "The two passwords differ."}, d)
		return nil
	}
	o, err := p.SignIn.Setup(c.r.Context(), c.Workspace, p.client(c), d.Token,
		authn.SetupForm{Workspace: d.Workspace, Email: d.Email, Name: d.Name, Password: f.Get("password")})
	var ie *authn.InputError
	switch {
	case errors.As(err, &ie):
		p.render(c, http.StatusBadRequest, "setup", pageInfo{Title: "Set up Gatehouse", Error: ie.Msg}, d)
		return nil
	case errors.Is(err, authn.ErrSetupClosed):
		d.Token = ""
		p.render(c, http.StatusNotFound, "setup", pageInfo{Title: "Set up Gatehouse"}, d)
		return nil
	case err != nil:
		return unavailable(err)
	}
	p.setIssued(c, o)
	http.Redirect(c.w, c.r, p.HomeURL, http.StatusSeeOther)
	return nil
}

// codeAccepted leads on after a right code: to `to`, or, after a recovery code, first
// to a page that says how many are left (title names what the code did).
func (p signinPages) codeAccepted(c *call, o authn.Outcome, to, title string) {
	if o.Recovery {
		p.message(c, http.StatusOK, title, messagePage{
			Message: fmt.Sprintf("You have %d recovery codes left. Make new ones in your security settings if you are running low.", o.RecoveryCodesLeft),
			Link:    to, LinkText: "Continue", Secondary: p.path("/settings/security"), SecondaryText: "Go to your security settings"})
		return
	}
	http.Redirect(c.w, c.r, to, http.StatusSeeOther)
}
