package e2e

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	otptotp "github.com/pquerna/otp/totp"
)

// The steps of TestAuditCoverage's walk (audit_coverage_test.go), in the walk's order.
// Each drives one flow as a user, an administrator or the operator would and checks
// that it did what it says; the records it leaves are checked at the end.

// The people of the walk: one per concern, so that a step does not change what another
// relies on (a second factor, a lockout, a disabled account).
const (
	covOwner    = "olive@cov.test" // created at first run; administers
	covMember   = "mia@cov.test"   // sign-ins, sessions, passwords, tokens
	covLocked   = "lou@cov.test"   // locked out, then unlocked
	covTOTP     = "tom@cov.test"   // authenticator app, recovery codes, step-up, reset
	covTOTPGone = "rhea@cov.test"  // enrols an app and removes it
	covInvitee  = "ines@cov.test"  // invited; member administration, teams
	covPasskey  = "pia@cov.test"   // passkeys in Chromium
	covSubject  = "rita@cov.test"  // data-subject requests: download, erasure refused, restriction lifted
	covPW       = "coverage walk passphrase eleven"
)

// coverageWalk is the state the steps share.
type coverageWalk struct {
	t      *testing.T
	g      *gateway
	up     *recorder
	chrome *chrome
	owner  *http.Client      // the owner's browser, signed in at first run
	pw     map[string]string // passwords changed along the way (default covPW)

	totpSecret    string       // covTOTP's authenticator app
	recoveryCodes []string     // covTOTP's recovery codes
	totpSession   *http.Client // covTOTP signed in with a recovery code
}

// password is email's current password.
func (w *coverageWalk) password(email string) string { return cmp.Or(w.pw[email], covPW) }

// api is a JSON API call by c that must answer want.
func (w *coverageWalk) api(c *http.Client, what string, want int, method, path string, body any) string {
	w.t.Helper()
	st, b := apiCall(w.t, c, method, w.g.url+path, body)
	if st != want {
		w.t.Fatalf("%s: %s %s answered %d, want %d: %s", what, method, path, st, want, b)
	}
	return b
}

// signIn signs email in with the password in a new browser (a new device).
func (w *coverageWalk) signIn(email string) *http.Client {
	w.t.Helper()
	c := browser(w.t)
	signInAs(w.t, c, w.g.url, email, w.password(email))
	return c
}

// memberID is a member's id as the owner's members list shows it.
func (w *coverageWalk) memberID(email string) string {
	w.t.Helper()
	return member(w.t, w.owner, w.g.url, email).ID
}

// totpCode is the code of secret at now+offset.
func (w *coverageWalk) totpCode(secret string, offset time.Duration) string {
	w.t.Helper()
	code, err := otptotp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		w.t.Fatal(err)
	}
	return code
}

// enrolTOTP enrols an authenticator app for c's user through the API and returns its
// secret and the recovery codes (the code used is the current time step's).
func (w *coverageWalk) enrolTOTP(c *http.Client) (string, []string) {
	w.t.Helper()
	secret := decodeJSON[map[string]string](w.t, "totp enroll", w.api(c, "starting the app", http.StatusOK, "POST", "/auth/api/v1/totp/enroll", map[string]string{}))["secret"]
	body := w.api(c, "confirming the app", http.StatusOK, "POST", "/auth/api/v1/totp/confirm", map[string]string{"code": w.totpCode(secret, 0)})
	codes := decodeJSON[struct {
		Codes []string `json:"recovery_codes"`
	}](w.t, "totp confirm", body).Codes
	if secret == "" || len(codes) != 10 {
		w.t.Fatalf("enrolment: secret %q, %d recovery codes: %s", secret, len(codes), body)
	}
	return secret, codes
}

func (w *coverageWalk) firstRun() {
	t, g := w.t, w.g
	link := g.setupURL()
	st, body, _ := get(t, w.owner, link)
	if st != http.StatusOK {
		t.Fatalf("setup page: %d\n%s", st, body)
	}
	st, body, _ = postForm(t, w.owner, g.url+"/auth/setup", csrfFrom(t, body), url.Values{"token": {tokenOf(t, link)},
		"workspace": {"Salon Coverage"}, "email": {covOwner}, "name": {"Olive Owner"}, "password": {covPW}, "confirm": {covPW}})
	if st != http.StatusSeeOther {
		t.Fatalf("setup: %d\n%s", st, body)
	}
	if me := w.api(w.owner, "the owner after setup", http.StatusOK, "GET", "/auth/api/v1/me", nil); !strings.Contains(me, covOwner) {
		t.Fatalf("setup did not sign the owner in: %s", me)
	}
}

func (w *coverageWalk) operator() {
	for _, email := range []string{covMember, covLocked, covTOTP, covTOTPGone, covPasskey, covSubject} {
		addUser(w.t, w.g, email, "member", covPW)
	}
	cliOK(w.t, w.g, "created tenant beta", "tenant", "create", "--slug", "beta", "--name", "Beta")
	cliOK(w.t, w.g, `is now called "Salon Coverage and Co"`, "tenant", "rename", "--name", "Salon Coverage and Co")
}

func (w *coverageWalk) tenantExport() {
	file := filepath.Join(w.t.TempDir(), "export.json")
	cliOK(w.t, w.g, "tenant default: exported json with the audit trail to "+file, "export", "--format", "json", "--with-audit", "-o", file)
}

func (w *coverageWalk) policy() {
	body := w.api(w.owner, "the lockout threshold", http.StatusOK, "PUT", "/auth/api/v1/admin/security", map[string]int{"lockout_threshold": 3})
	if !strings.Contains(body, `"lockout_threshold":3`) {
		w.t.Fatalf("the policy after the change: %s", body)
	}
}

func (w *coverageWalk) signIns() {
	t := w.t
	c := w.signIn(covMember)
	mustReach(t, c, w.g, w.up, covMember, "the member signed in")
	if st := loginStatus(t, w.g.url, covMember, "not the password at all"); st != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", st)
	}
	w.api(c, "signing out", http.StatusNoContent, "POST", "/auth/api/v1/logout", nil)
	mustBeRefused(t, c, w.g, w.up, covMember, "after signing out")
}

func (w *coverageWalk) newDevice() {
	mustReach(w.t, w.signIn(covMember), w.g, w.up, covMember, "the member on a new device")
}

func (w *coverageWalk) lockout() {
	t := w.t
	locked := false
	for i := range 10 {
		st, retry, _ := apiLoginStatus(t, w.g.url, covLocked, fmt.Sprintf("wrong guess %d", i))
		if st == http.StatusTooManyRequests && retry != "" {
			locked = true
			break
		}
		if st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, st)
		}
	}
	if !locked {
		t.Fatal("ten wrong passwords did not lock the account")
	}
	body := w.api(w.owner, "unlocking", http.StatusOK, "POST", "/auth/api/v1/admin/users/"+w.memberID(covLocked)+"/unlock", nil)
	if !strings.Contains(body, `"was_locked":true`) {
		t.Fatalf("unlock: %s", body)
	}
	if st := loginStatus(t, w.g.url, covLocked, covPW); st != http.StatusOK {
		t.Fatalf("the right password after the unlock: %d", st)
	}
}

func (w *coverageWalk) totpEnrol() {
	t := w.t
	c := w.signIn(covTOTP)
	w.totpSecret, w.recoveryCodes = w.enrolTOTP(c)
	// The session began with the password only; the app's next code steps it up (the
	// current time step was spent confirming the enrolment).
	w.api(c, "stepping up", http.StatusOK, "POST", "/auth/api/v1/step-up/totp", map[string]string{"code": w.totpCode(w.totpSecret, 30*time.Second)})
	mustReach(t, c, w.g, w.up, covTOTP, "the stepped-up session")
	if m := w.up.last(t).Get("X-Gatehouse-Auth-Methods"); m != "pwd,otp" {
		t.Fatalf("methods after the step-up: %q, want pwd,otp", m)
	}
}

func (w *coverageWalk) secondStep() {
	t := w.t
	c := browser(t)
	if body := w.api(c, "the password step", http.StatusOK, "POST", "/auth/api/v1/login",
		map[string]string{"email": covTOTP, "password": covPW}); !strings.Contains(body, `"second_factor"`) {
		t.Fatalf("the password step: %s", body)
	}
	// An hour-old code is wrong now.
	w.api(c, "a wrong code", http.StatusUnauthorized, "POST", "/auth/api/v1/login/totp", map[string]string{"code": w.totpCode(w.totpSecret, -time.Hour)})
	w.api(c, "a recovery code", http.StatusOK, "POST", "/auth/api/v1/login/recovery", map[string]string{"code": w.recoveryCodes[0]})
	mustReach(t, c, w.g, w.up, covTOTP, "signed in with a recovery code")
	w.totpSession = c
}

func (w *coverageWalk) recoveryAndReauth() {
	t, c := w.t, w.totpSession
	st, body, _ := submitPage(t, c, w.g.url+"/auth/settings/security", w.g.url+"/auth/settings/recovery/regenerate", url.Values{"password": {covPW}})
	if codes := codeRE.FindAllStringSubmatch(body, -1); st != http.StatusOK || len(codes) != 10 {
		t.Fatalf("new recovery codes: %d, %d codes\n%s", st, len(codes), body)
	}
	w.api(c, "confirming the password again", http.StatusOK, "POST", "/auth/api/v1/reauth", map[string]string{"password": covPW})
}

func (w *coverageWalk) factorsReset() {
	w.api(w.owner, "resetting the factors", http.StatusOK, "POST", "/auth/api/v1/admin/users/"+w.memberID(covTOTP)+"/reset-2fa", nil)
	// The password alone signs the member in again.
	w.signIn(covTOTP)
}

func (w *coverageWalk) totpRemoved() {
	t := w.t
	c := w.signIn(covTOTPGone)
	w.enrolTOTP(c)
	st, body, _ := submitPage(t, c, w.g.url+"/auth/settings/security", w.g.url+"/auth/settings/totp/disable", url.Values{"password": {covPW}})
	if st >= 400 {
		t.Fatalf("removing the app: %d\n%s", st, body)
	}
	if me := w.api(c, "the member's factors", http.StatusOK, "GET", "/auth/api/v1/me", nil); !strings.Contains(me, `"totp":false`) {
		t.Fatalf("the app is still there: %s", me)
	}
}

func (w *coverageWalk) factorRestored() {
	t := w.t
	id := w.memberID(covTOTPGone)
	if r := removedFactors(t, w.owner, w.g.url, id); len(r) != 1 || r[0].Kind != "totp" {
		t.Fatalf("the member's removed factors: %+v", r)
	}
	w.api(w.owner, "restoring the app", http.StatusOK, "POST", "/auth/api/v1/admin/members/"+id+"/factors/restore", map[string]string{"kind": "totp"})
	_, body := passwordStep(t, w.g.url, covTOTPGone, covPW)
	if !strings.Contains(body, `"totp"`) || strings.Contains(body, `"signed_in"`) {
		t.Fatalf("the password step after the restore: %s, want the app due", body)
	}
}

func (w *coverageWalk) sessions() {
	t, g := w.t, w.g
	a, b, c := w.signIn(covMember), w.signIn(covMember), w.signIn(covMember)
	bID := mustReach(t, b, g, w.up, covMember, "the second browser")
	w.api(a, "ending one session", http.StatusNoContent, "DELETE", "/auth/api/v1/sessions/"+bID, nil)
	mustBeRefused(t, b, g, w.up, covMember, "the ended session")
	w.api(a, "ending the others", http.StatusOK, "DELETE", "/auth/api/v1/sessions?others=true", nil)
	mustBeRefused(t, c, g, w.up, covMember, "a session ended with the others")
	w.api(w.owner, "signing the member out everywhere", http.StatusOK, "DELETE", "/auth/api/v1/admin/members/"+w.memberID(covMember)+"/sessions", nil)
	refusedWithin(t, a, g, w.up, covMember, revokeLimit, "the member's last session after the owner ended it")
}

func (w *coverageWalk) privacy() {
	c := w.signIn(covMember)
	if body := w.api(c, "objecting", http.StatusOK, "PUT", "/auth/api/v1/me/privacy", map[string]bool{"location_profiling": false}); !strings.Contains(body, `"location_profiling":false`) {
		w.t.Fatalf("privacy: %s", body)
	}
}

func (w *coverageWalk) passwordChange() {
	c := w.signIn(covMember)
	const next = "a changed passphrase for the walk"
	w.api(c, "changing the password", http.StatusOK, "POST", "/auth/api/v1/me/password",
		map[string]any{"current_password": w.password(covMember), "new_password": next, "end_other_sessions": false})
	w.pw[covMember] = next
	w.signIn(covMember)
}

func (w *coverageWalk) passwordReset() {
	t := w.t
	w.api(browser(t), "forgot", http.StatusAccepted, "POST", "/auth/api/v1/password/forgot", map[string]string{"email": covMember})
	link := w.g.mailedLink(resetLinkRE)
	const next = "a reset passphrase for the walk"
	w.api(browser(t), "resetting", http.StatusOK, "POST", "/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, link), "password": next})
	w.pw[covMember] = next
	w.signIn(covMember)
	w.api(w.owner, "mailing a reset link", http.StatusAccepted, "POST", "/auth/api/v1/admin/members/"+w.memberID(covMember)+"/reset-password", nil)
}

func (w *coverageWalk) tokens() {
	t, g := w.t, w.g
	tokenURL := g.url + "/auth/api/v1/token"
	native := func(c *http.Client) tokenReply {
		t.Helper()
		st, body, _ := postToken(t, c, tokenURL, map[string]string{"client": "native"})
		return tokenOK(t, "a native token", st, body)
	}
	refresh := func(tok string) (int, string) {
		st, body, _ := postToken(t, plainClient(), tokenURL, map[string]string{"client": "native", "refresh_token": tok})
		return st, body
	}
	c := w.signIn(covMember)
	first := native(c)
	st, body := refresh(first.RefreshToken)
	tokenOK(t, "refreshing", st, body)
	time.Sleep(1200 * time.Millisecond) // past refresh_grace (1s): a replay is theft
	st, body = refresh(first.RefreshToken)
	mustInvalidGrant(t, st, body, "the spent refresh token replayed")
	mustBeRefused(t, c, g, w.up, covMember, "the session of a replayed refresh token")

	n := w.signIn(covMember)
	if st, body, _ := postToken(t, plainClient(), tokenURL+"/revoke", map[string]string{"refresh_token": native(n).RefreshToken}); st != http.StatusOK {
		t.Fatalf("revoking: %d %s", st, body)
	}
	mustBeRefused(t, n, g, w.up, covMember, "the session of a revoked refresh token")

	o := w.signIn(covMember)
	live := native(o)
	w.api(o, "signing out", http.StatusNoContent, "POST", "/auth/api/v1/logout", nil)
	st, body = refresh(live.RefreshToken)
	mustInvalidGrant(t, st, body, "a refresh token whose session ended")
}

func (w *coverageWalk) members() {
	t := w.t
	w.api(w.owner, "inviting", http.StatusCreated, "POST", "/auth/api/v1/admin/members", map[string]string{"email": covInvitee, "name": "Ines Invitee", "role": "member"})
	link := w.g.mailedLink(inviteLinkRE)
	w.api(browser(t), "accepting", http.StatusOK, "POST", "/auth/api/v1/invite/accept", map[string]string{"token": tokenOf(t, link), "name": "Ines", "password": covPW})
	id := w.memberID(covInvitee)
	if body := w.api(w.owner, "a new role", http.StatusOK, "PUT", "/auth/api/v1/admin/members/"+id+"/role", map[string]string{"role": "manager"}); !strings.Contains(body, `"manager"`) {
		t.Fatalf("role change: %s", body)
	}
	w.api(w.owner, "disabling", http.StatusOK, "POST", "/auth/api/v1/admin/members/"+id+"/disable", nil)
	if st := loginStatus(t, w.g.url, covInvitee, covPW); st == http.StatusOK {
		t.Fatal("a disabled member signed in")
	}
	w.api(w.owner, "enabling", http.StatusOK, "POST", "/auth/api/v1/admin/members/"+id+"/enable", nil)
	w.signIn(covInvitee)
}

func (w *coverageWalk) softDelete() {
	t := w.t
	c := w.signIn(covInvitee)
	id := w.memberID(covInvitee)
	w.api(w.owner, "deleting", http.StatusOK, "DELETE", "/auth/api/v1/admin/members/"+id, nil)
	mustBeRefused(t, c, w.g, w.up, covInvitee, "the deleted member's session")
	if st := loginStatus(t, w.g.url, covInvitee, w.password(covInvitee)); st == http.StatusOK {
		t.Fatal("a deleted member signed in")
	}
	w.api(w.owner, "restoring", http.StatusOK, "POST", "/auth/api/v1/admin/members/"+id+"/restore", nil)
	w.signIn(covInvitee)
}

func (w *coverageWalk) dataSubject() {
	t := w.t
	c := w.signIn(covSubject)
	if body := w.api(c, "downloading my data", http.StatusOK, "GET", "/auth/api/v1/me/data", nil); !strings.Contains(body, `"email":"`+covSubject+`"`) {
		t.Fatalf("my data: %s", body)
	}
	var req struct{ ID string }
	mustJSON(t, w.api(c, "asking for erasure", http.StatusCreated, "POST", "/auth/api/v1/me/erasure", nil), &req)
	w.api(w.owner, "refusing the erasure", http.StatusOK, "POST", "/auth/api/v1/admin/requests/"+req.ID+"/refuse", map[string]string{"reason": "open invoice"})
	mustJSON(t, w.api(c, "restricting", http.StatusOK, "POST", "/auth/api/v1/me/restrict", nil), &req)
	if st := loginStatus(t, w.g.url, covSubject, covPW); st == http.StatusOK {
		t.Fatal("a restricted member signed in")
	}
	w.api(w.owner, "lifting the restriction", http.StatusOK, "POST", "/auth/api/v1/admin/requests/"+req.ID+"/fulfil", nil)
	w.signIn(covSubject)
}

// emailChange moves the subject to a new address with the API and the link mailed
// to it, then back, so that the later steps find them under their address.
func (w *coverageWalk) emailChange() {
	t := w.t
	c := w.signIn(covSubject)
	prev := ""
	for _, to := range []string{"rita.new@cov.test", covSubject} {
		w.api(c, "asking for "+to, http.StatusAccepted, "PUT", "/auth/api/v1/me/email", map[string]string{"email": to})
		link := w.g.newMailedLink(emailLinkRE, prev)
		w.api(browser(t), "confirming "+to, http.StatusOK, "POST", "/auth/api/v1/me/email/confirm", map[string]string{"token": tokenOf(t, link)})
		prev = link
	}
}

func (w *coverageWalk) roles() {
	w.api(w.owner, "adding a role", http.StatusCreated, "PUT", "/auth/api/v1/admin/roles/auditor",
		map[string]any{"description": "Reads the books", "permissions": []string{"books:read:tenant"}})
	w.api(w.owner, "deleting the role", http.StatusOK, "DELETE", "/auth/api/v1/admin/roles/auditor", nil)
	w.api(w.owner, "restoring the role", http.StatusOK, "POST", "/auth/api/v1/admin/roles/auditor/restore", nil)
}

func (w *coverageWalk) teams() {
	id := createTeam(w.t, w.owner, w.g.url, "Night shift")
	path := "/auth/api/v1/admin/teams/" + id + "/members/" + w.memberID(covInvitee)
	if body := w.api(w.owner, "joining the team", http.StatusOK, "PUT", path, nil); !strings.Contains(body, `"teams":["`+id+`"]`) {
		w.t.Fatalf("the member after joining: %s", body)
	}
	w.api(w.owner, "leaving the team", http.StatusOK, "DELETE", path, nil)
	w.api(w.owner, "deleting the team", http.StatusOK, "DELETE", "/auth/api/v1/admin/teams/"+id, nil)
	w.api(w.owner, "restoring the team", http.StatusOK, "POST", "/auth/api/v1/admin/teams/"+id+"/restore", nil)
}

func (w *coverageWalk) reviewExport() {
	st, body, resp := get(w.t, w.owner, w.g.url+"/auth/admin/team/audit.csv")
	if st != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(body, covInvitee) {
		w.t.Fatalf("the review CSV: %d %q\n%s", st, resp.Header.Get("Content-Type"), body)
	}
}

// reviewMail has the operator turn the review mail on (the walk's gateway starts with
// it off) and restart the gateway: the review job mails at start, then hourly. (Had it
// run at the first start, it would have found no owner and held the tenant's review
// lease for ten minutes, past this walk.)
func (w *coverageWalk) reviewMail() {
	t, g := w.t, w.g
	cfg, err := os.ReadFile(g.config)
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(cfg), "permission_review off", "permission_review 90d", 1)
	if on == string(cfg) {
		t.Fatalf("the walk's Caddyfile does not turn the review mail off:\n%s", cfg)
	}
	if err := os.WriteFile(g.config, []byte(on), 0o600); err != nil {
		t.Fatal(err)
	}
	g.stop()
	g.start()
	waitFor(w.t, "the review mail's audit record", func() bool {
		body := w.api(w.owner, "searching the trail", http.StatusOK, "GET", "/auth/api/v1/admin/audit?action=permission_review.mailed", nil)
		return len(decodeJSON[struct {
			Records []map[string]any `json:"records"`
		}](w.t, "audit search", body).Records) > 0
	})
}

func (w *coverageWalk) auditExport() {
	st, body, resp := get(w.t, w.owner, w.g.url+"/auth/api/v1/admin/audit/export?format=csv")
	if st != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Gatehouse-Audit-Chain"), "intact") || !strings.Contains(body, "permission_review.mailed") {
		w.t.Fatalf("the API export: %d chain %q\n%s", st, resp.Header.Get("Gatehouse-Audit-Chain"), body)
	}
}

// proxied sends a write through the gateway as the owner (recorded after the
// upstream answers) and, anonymously, requests a denied route a few times (one
// aggregated record, written when the minute ends or the gateway stops).
func (w *coverageWalk) proxied() {
	req, _ := http.NewRequest("POST", w.g.url+"/notes", strings.NewReader("{}"))
	if st, body, _ := do(w.t, w.owner, req); st != http.StatusOK {
		w.t.Fatalf("a proxied write: %d %s", st, body)
	}
	for range 3 {
		if st, _, _ := get(w.t, browser(w.t), w.g.url+"/admin/users"); st != http.StatusForbidden {
			w.t.Fatalf("the denied route answered %d", st)
		}
	}
}

// passkeys registers, renames, uses and removes a passkey through the settings page's
// script in Chromium with a virtual authenticator. In between, a clone of it — the same
// key with the counter it had earlier — is refused for its signature counter.
func (w *coverageWalk) passkeys() {
	c, g := w.chrome, w.g
	auth := c.addVirtualAuthenticator()
	c.passwordSignIn(g, covPasskey, covPW, protectedPath)
	c.waitPath(protectedPath)
	const name, renamed = "Coverage laptop", "Coverage laptop at work"
	listed := func(n string) string {
		return fmt.Sprintf(`location.pathname === "/auth/settings/security" && [...document.querySelectorAll("ul.list li strong")].some(e => e.textContent === %q)`, n)
	}
	c.do("registering a passkey", chromedp.Navigate(g.url+"/auth/settings/security"), chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), name), chromedp.Click(chromedp.ID("passkey-register")))
	c.waitFor("the new passkey", listed(name))
	rename := `form[action="/auth/settings/passkeys/rename"]`
	c.do("renaming it", chromedp.SetValue(chromedp.CSS(rename+" input[name=name]"), renamed), chromedp.Click(chromedp.CSS(rename+" button")))
	c.waitFor("the new name", listed(renamed))

	c.signOut(g)
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	genuine := w.credential(auth)
	w.setCredential(auth, genuine, 0) // the clone: the counter where it was before
	c.signOut(g)
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitError("passkey-login", msgSignInFailed)
	w.setCredential(auth, genuine, genuine.SignCount+100) // the genuine authenticator, counting on
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)

	c.do("removing the passkey", chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/settings/passkeys/delete"] button`)))
	c.waitFor("the passkey gone", `location.pathname === "/auth/settings/security" && !document.querySelector('form[action="/auth/settings/passkeys/delete"]')`)
}

// credential is the one credential the virtual authenticator holds.
func (w *coverageWalk) credential(auth webauthn.AuthenticatorID) webauthn.Credential {
	w.t.Helper()
	ctx, cancel := w.chrome.step()
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(res.Credentials) != 1 {
		w.t.Fatalf("WebAuthn.getCredentials: %v, %d credentials", err, len(res.Credentials))
	}
	if res.Credentials[0].SignCount < 1 {
		w.t.Fatalf("the authenticator's counter is %v after two ceremonies: it does not count", res.Credentials[0].SignCount)
	}
	return *res.Credentials[0]
}

// setCredential puts cred back into the authenticator with the signature counter at count.
func (w *coverageWalk) setCredential(auth webauthn.AuthenticatorID, cred webauthn.Credential, count float64) {
	w.t.Helper()
	ctx, cancel := w.chrome.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: cred.CredentialID}); err != nil {
		w.t.Fatalf("WebAuthn.removeCredential: %v", err)
	}
	// The key and its user at count, sent without the CMTG fields that cdproto's
	// Credential always carries and that this Chromium's authenticator refuses.
	b64 := base64.StdEncoding.EncodeToString
	back := map[string]any{"credentialId": b64(cred.CredentialID), "isResidentCredential": cred.IsResidentCredential, "rpId": cred.RpID,
		"privateKey": b64(cred.PrivateKey), "userHandle": b64(cred.UserHandle), "signCount": count, "userName": cred.UserName,
		"backupEligibility": cred.BackupEligibility, "backupState": cred.BackupState}
	addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: webauthn.CommandAddCredential}
	if _, err := chromedp.Call(ctx, addCredential, map[string]any{"authenticatorId": auth, "credential": back}); err != nil {
		w.t.Fatalf("WebAuthn.addCredential: %v", err)
	}
}
