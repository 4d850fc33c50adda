package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// stepUpTo is the page a route rule with "mfa" sent the browser away from.
const stepUpTo = "/app/reports"

var totpSecretRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)

// methodsOf returns the auth methods of c's session (nil when signed out).
func methodsOf(t *testing.T, f *fixture, c *http.Client) []string {
	t.Helper()
	st, out := getJSON(t, c, f.srv.URL+"/auth/api/v1/me")
	if st != http.StatusOK {
		return nil
	}
	var m []string
	for _, v := range out["auth_methods"].([]any) {
		m = append(m, v.(string))
	}
	return m
}

// stepUpFixture: a fixture on a fake clock in the middle of a TOTP step.
func stepUpFixture(t *testing.T) (*fixture, *clock.Fake) {
	t.Helper()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	return f, clk
}

// passwordOnlyWithApp signs email in with the password, then turns on an
// authenticator app through the API in that same session: the session used no second
// factor, but the user now has one. It returns the app's secret.
func passwordOnlyWithApp(t *testing.T, f *fixture, clk *clock.Fake, c *http.Client, email string) string {
	t.Helper()
	f.addUser(t, email, pw)
	signInAs(t, f, c, email, pw)
	_, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", nil)
	secret, _ := out["secret"].(string)
	code, _ := otptotp.GenerateCode(secret, clk.Now())
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/confirm", map[string]string{"code": code}); st != http.StatusOK {
		t.Fatalf("confirm: %d %v", st, out)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd"}) {
		t.Fatalf("methods after enrolling in a full session: %v", m)
	}
	return secret
}

// TestStepUpSignedOutAndDone: without a session the step-up page sends the browser to
// sign in, on to the page afterwards; a session that used a second factor goes
// straight on.
func TestStepUpSignedOutAndDone(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(stepUpTo)

	st, h, _ := send(t, noRedirect(t), "GET", page, nil, nil)
	if want := "/auth/login?rd=" + url.QueryEscape(stepUpTo); st != http.StatusFound || h.Get("Location") != want {
		t.Fatalf("signed out: %d %q, want %q", st, h.Get("Location"), want)
	}
	if st, loc, _ := submit(t, noRedirect(t), f.srv.URL+"/auth/login", f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {"123456"}}); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/auth/login?rd=") {
		t.Fatalf("code without a session: %d %q", st, loc)
	}
	if st, out := postJSON(t, noRedirect(t), f.srv.URL+"/auth/api/v1/step-up/totp", map[string]string{"code": "123456"}); st != http.StatusUnauthorized || out["error"] != "unauthenticated" {
		t.Fatalf("API without a session: %d %v", st, out)
	}

	// A sign-in with the app: nothing to step up.
	f.addUser(t, "two@example.com", pw)
	secret, _ := enrolTOTP(t, f, clk, "two@example.com", pw)
	c := noRedirect(t)
	if _, s := apiLogin(t, c, f.srv.URL, "two@example.com", pw); s != "second_factor" {
		t.Fatalf("password step: %s", s)
	}
	code, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": code}); st != http.StatusOK {
		t.Fatalf("second step: %d %v", st, out)
	}
	if st, h, _ := send(t, c, "GET", page, nil, nil); st != http.StatusFound || h.Get("Location") != stepUpTo {
		t.Fatalf("with a second factor: %d %q", st, h.Get("Location"))
	}
}

// TestStepUpWithTheApp: a session that used only a password, of a user who has an
// authenticator app, is asked for a code on the step-up page. The code that confirmed
// the enrolment (replayed) and a wrong one are refused and change nothing; the next
// code replaces the session with one that includes the app, audited, and goes on to
// the page.
func TestStepUpWithTheApp(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	c := browser(t, firefoxUA, "198.51.100.7")
	secret := passwordOnlyWithApp(t, f, clk, c, "ann@example.com")
	page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(stepUpTo)

	st, body := getPage(t, c, page)
	if st != http.StatusOK || !strings.Contains(body, "This page needs two-step verification") ||
		!strings.Contains(body, `action="/auth/step-up"`) || !strings.Contains(body, `name="rd" value="`+stepUpTo+`"`) ||
		!strings.Contains(body, `name="code"`) || !strings.Contains(body, "Verify and continue") ||
		strings.Contains(body, "totp/enroll") || strings.Contains(body, "passkey-login") {
		t.Fatalf("step-up page: %d\n%s", st, body)
	}

	replayed, _ := otptotp.GenerateCode(secret, clk.Now())
	for _, code := range []string{replayed, "000000"} {
		st, _, body := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {code}})
		if st != http.StatusUnauthorized || !strings.Contains(body, "That code is not valid.") || !strings.Contains(body, `name="rd" value="`+stepUpTo+`"`) {
			t.Fatalf("code %s: %d\n%s", code, st, body)
		}
		if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd"}) {
			t.Fatalf("after a refused code: %v", m)
		}
	}
	if st, _, _ := send(t, c, "POST", f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {"123456"}}, nil); st != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d", st)
	}

	next, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	st, loc, _ := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {next}})
	if st != http.StatusSeeOther || loc != stepUpTo {
		t.Fatalf("right code: %d %q", st, loc)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd", "otp"}) {
		t.Fatalf("after the step-up: %v", m)
	}
	if st, h, _ := send(t, c, "GET", page, nil, nil); st != http.StatusFound || h.Get("Location") != stepUpTo {
		t.Fatalf("step-up page afterwards: %d %q", st, h.Get("Location"))
	}
	if n := len(f.audits(t, authn.ActionSteppedUp)); n != 1 {
		t.Fatalf("%d step-ups audited", n)
	}
	if fails := f.audits(t, audit.ActionSecondFactorFailure); len(fails) != 2 || fails[0].Details["reason"] != "code_replayed" || fails[1].Details["reason"] != "invalid_code" {
		t.Fatalf("refused codes audited: %+v", fails)
	}
	if n := len(f.audits(t, audit.ActionLoginAnomaly)); n != 0 {
		t.Fatalf("the step-up from the same browser was reported as unusual %d times", n)
	}
}

// TestStepUpAPI: the JSON twins step up with a code or a recovery code; a replayed code
// is refused; a user without passkeys has no passkey ceremony.
func TestStepUpAPI(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	c := noRedirect(t)
	secret := passwordOnlyWithApp(t, f, clk, c, "api@example.com")
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/step-up/passkey/begin", nil); st != http.StatusBadRequest || out["error"] != "no_passkeys" {
		t.Fatalf("passkey begin without passkeys: %d %v", st, out)
	}
	replayed, _ := otptotp.GenerateCode(secret, clk.Now())
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/step-up/totp", map[string]string{"code": replayed}); st != http.StatusUnauthorized || out["error"] != "invalid_code" {
		t.Fatalf("replayed code: %d %v", st, out)
	}
	next, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/step-up/totp", map[string]string{"code": next}); st != http.StatusOK || out["status"] != "signed_in" {
		t.Fatalf("right code: %d %v", st, out)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd", "otp"}) {
		t.Fatalf("after the step-up: %v", m)
	}
}

// TestStepUpLockout: wrong codes on the step-up page count towards the account's
// lockout like wrong second-step codes.
func TestStepUpLockout(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	f.withLockout()
	c := noRedirect(t)
	secret := passwordOnlyWithApp(t, f, clk, c, "lock@example.com")
	page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(stepUpTo)
	for i := range 5 {
		if st, _, _ := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {"00000" + string(rune('0'+i))}}); st != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, st)
		}
	}
	next, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	st, _, body := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {stepUpTo}, "code": {next}})
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Too many attempts") {
		t.Fatalf("right code on a locked account: %d\n%s", st, body)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd"}) {
		t.Fatalf("a locked account stepped up: %v", m)
	}
}

// TestStepUpByEnrolment: a user without a second factor is led to set one up; the
// enrolment carries rd, steps the session up and leads on to the page (after the
// recovery codes). An enrolment from the security page, without rd, stays as it was.
func TestStepUpByEnrolment(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	f.addUser(t, "new@example.com", pw)
	c := browser(t, firefoxUA, "198.51.100.7")
	signInAs(t, f, c, "new@example.com", pw)
	to := stepUpTo + "?tab=q3"
	page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(to)

	st, body := getPage(t, c, page)
	finish := `data-finish="/auth/api/v1/webauthn/register/finish?rd=` + url.QueryEscape(to) + `"`
	if st != http.StatusOK || !strings.Contains(body, "This page needs two-step verification, and your account has no second factor yet") ||
		!strings.Contains(body, `action="/auth/settings/totp/enroll"`) || !strings.Contains(body, `name="rd" value="/app/reports?tab=q3"`) ||
		!strings.Contains(body, `id="passkey-register"`) || !strings.Contains(body, finish) || !strings.Contains(body, `data-done="/app/reports?tab=q3"`) ||
		strings.Contains(body, `action="/auth/step-up"`) {
		t.Fatalf("step-up page without a factor: %d\n%s", st, body)
	}

	st, _, body = submit(t, c, page, f.srv.URL+"/auth/settings/totp/enroll", url.Values{"rd": {to}})
	m := totpSecretRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `name="rd" value="/app/reports?tab=q3"`) ||
		!strings.Contains(body, `href="/auth/step-up?rd=`+url.QueryEscape(to)+`"`) {
		t.Fatalf("enrolment page: %d\n%s", st, body)
	}
	code, _ := otptotp.GenerateCode(m[1], clk.Now())
	st, _, body = submit(t, c, page, f.srv.URL+"/auth/settings/totp/confirm", url.Values{"rd": {to}, "code": {code}})
	if st != http.StatusOK || !strings.Contains(body, `id="recovery-codes"`) || !strings.Contains(body, `href="/app/reports?tab=q3"`) || !strings.Contains(body, "I have saved them: continue") {
		t.Fatalf("confirmation: %d\n%s", st, body)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd", "otp"}) {
		t.Fatalf("after enrolling on the way to the page: %v", m)
	}
	if st, h, _ := send(t, c, "GET", page, nil, nil); st != http.StatusFound || h.Get("Location") != to {
		t.Fatalf("step-up page afterwards: %d %q", st, h.Get("Location"))
	}
	if n := len(f.audits(t, authn.ActionSteppedUp)); n != 1 {
		t.Fatalf("%d step-ups audited", n)
	}

	// From the security page (no rd): the app is on, the session is not stepped up, and
	// the user stays on the security page.
	f.addUser(t, "plain@example.com", pw)
	pc := noRedirect(t)
	signInAs(t, f, pc, "plain@example.com", pw)
	security := f.srv.URL + "/auth/settings/security"
	st, _, body = submit(t, pc, security, f.srv.URL+"/auth/settings/totp/enroll", url.Values{})
	if m = totpSecretRE.FindStringSubmatch(body); st != http.StatusOK || m == nil || !strings.Contains(body, `name="rd" value=""`) || !strings.Contains(body, `href="/auth/settings/security"`) {
		t.Fatalf("enrolment page from the security page: %d\n%s", st, body)
	}
	code, _ = otptotp.GenerateCode(m[1], clk.Now())
	st, _, body = submit(t, pc, security, f.srv.URL+"/auth/settings/totp/confirm", url.Values{"rd": {""}, "code": {code}})
	if st != http.StatusOK || !strings.Contains(body, "I have saved them: back to security") {
		t.Fatalf("confirmation from the security page: %d\n%s", st, body)
	}
	if m := methodsOf(t, f, pc); !slices.Equal(m, []string{"pwd"}) {
		t.Fatalf("an enrolment from the security page changed the session: %v", m)
	}
}

// TestStepUpAdminPasskeyOnly: under "passkeys for admins" an admin whose session used
// only a password is offered a passkey only.
func TestStepUpAdminPasskeyOnly(t *testing.T) {
	t.Parallel()
	f, _ := stepUpFixture(t)
	f.addUserRole(t, "admin@example.com", pw, "admin")
	c := noRedirect(t)
	signInAs(t, f, c, "admin@example.com", pw)
	s, err := f.handle.Settings().SecuritySettings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s = authn.UpdateSettings(s, false, 0, true, "test", time.Now())
	if err := f.handle.Settings().PutSecuritySettings(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	st, body := getPage(t, c, f.srv.URL+"/auth/step-up?rd="+url.QueryEscape(stepUpTo))
	if st != http.StatusOK || !strings.Contains(body, "you verify with a passkey") || !strings.Contains(body, `id="passkey-register"`) ||
		strings.Contains(body, "totp/enroll") || strings.Contains(body, `class="secondary" data-begin`) {
		t.Fatalf("admin's step-up page: %d\n%s", st, body)
	}
	// With a passkey (added after the sign-in), the page asks for it.
	me, _ := f.handle.Users().UserByEmail(t.Context(), "admin@example.com")
	if err := f.handle.Passkeys().AddPasskey(t.Context(), store.Passkey{ID: "pk1", UserID: me.ID, CredentialID: []byte("cred"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st, body = getPage(t, c, f.srv.URL+"/auth/step-up?rd="+url.QueryEscape(stepUpTo))
	if st != http.StatusOK || !strings.Contains(body, `id="passkey-login"`) || !strings.Contains(body, `data-finish="/auth/api/v1/step-up/passkey/finish"`) ||
		!strings.Contains(body, `data-redirect="`+stepUpTo+`"`) || strings.Contains(body, `name="code"`) {
		t.Fatalf("admin's step-up page with a passkey: %d\n%s", st, body)
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/step-up/passkey/finish", map[string]any{"ceremony": "forged", "credential": map[string]string{}}); st != http.StatusUnauthorized {
		t.Fatalf("a forged ceremony: %d %v", st, out)
	}
	if m := methodsOf(t, f, c); !slices.Equal(m, []string{"pwd"}) {
		t.Fatalf("a forged ceremony stepped up: %v", m)
	}
}

// TestStepUpRedirectStaysOnSite: an rd off this site is never followed, shown or carried
// on; the portal's home takes its place.
func TestStepUpRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	f, clk := stepUpFixture(t)
	c := noRedirect(t)
	secret := passwordOnlyWithApp(t, f, clk, c, "rd@example.com")
	evils := []string{"https://evil.example/x", "//evil.example/x", `/\evil.example`, "https:/evil.example", "/%0d%0aLocation:evil.example", "javascript:alert(1)"}
	for _, evil := range evils {
		page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(evil)
		if st, h, _ := send(t, noRedirect(t), "GET", page, nil, nil); st != http.StatusFound || h.Get("Location") != "/auth/login" {
			t.Fatalf("signed out, rd %q: %d %q", evil, st, h.Get("Location"))
		}
		st, body := getPage(t, c, page)
		if st != http.StatusOK || strings.Contains(body, "evil.example") || strings.Contains(body, "javascript:") || !strings.Contains(body, `name="rd" value="/"`) {
			t.Fatalf("page with rd %q: %d\n%s", evil, st, body)
		}
		if st, loc, _ := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {evil}, "code": {"000000"}}); st != http.StatusUnauthorized || loc != "" {
			t.Fatalf("wrong code, rd %q: %d %q", evil, st, loc)
		}
	}
	next, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	page := f.srv.URL + "/auth/step-up?rd=" + url.QueryEscape(evils[0])
	if st, loc, _ := submit(t, c, page, f.srv.URL+"/auth/step-up", url.Values{"rd": {evils[0]}, "code": {next}}); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("right code, rd off site: %d %q", st, loc)
	}
	for _, evil := range evils {
		if st, h, _ := send(t, c, "GET", f.srv.URL+"/auth/step-up?rd="+url.QueryEscape(evil), nil, nil); st != http.StatusFound || h.Get("Location") != "/" {
			t.Fatalf("stepped up, rd %q: %d %q", evil, st, h.Get("Location"))
		}
	}
}
