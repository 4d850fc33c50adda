package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

const newPW = "an entirely different passphrase"

// TestChangePasswordAPI: the current password is checked (401 wrong_password, nothing
// changes); a new one the rules refuse is 400; a change with end_other_sessions ends
// the other client, keeps this one, and the old password stops working.
func TestChangePasswordAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	mail := f.withMail()
	ann := f.addUser(t, "ann@example.com", pw)
	laptop, phone := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9")
	signInAs(t, f, laptop, "ann@example.com", pw)
	signInAs(t, f, phone, "ann@example.com", pw)
	change := f.srv.URL + "/auth/api/v1/me/password"

	st, out := postJSON(t, laptop, change, map[string]any{"current_password": "not the password at all", "new_password": newPW, "end_other_sessions": true})
	if st != http.StatusUnauthorized || out["error"] != "wrong_password" {
		t.Fatalf("wrong current password: %d %v", st, out)
	}
	st, out = postJSON(t, laptop, change, map[string]any{"current_password": pw, "new_password": "short", "end_other_sessions": true})
	if st != http.StatusBadRequest || out["error"] != "invalid_input" {
		t.Fatalf("too short: %d %v", st, out)
	}
	if st, _, _ := send(t, laptop, "POST", change, url.Values{"current_password": {pw}, "new_password": {newPW}}, nil); st != http.StatusUnsupportedMediaType {
		t.Fatalf("form-encoded body on the API: %d", st)
	}
	if !live(t, phone, f.srv.URL) || len(f.audits(t, account.ActionPasswordChanged)) != 0 || len(mail.of(notify.KindPasswordChanged, "")) != 0 {
		t.Fatal("a refused change had effects")
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", pw); st != http.StatusOK {
		t.Fatalf("old password after refused changes: %d", st)
	}

	st, out = postJSON(t, laptop, change, map[string]any{"current_password": pw, "new_password": newPW, "end_other_sessions": true})
	// Two other sessions: the phone and the check just above.
	if st != http.StatusOK || out["status"] != "changed" || out["other_sessions_ended"] != float64(2) {
		t.Fatalf("change: %d %v", st, out)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("end_other_sessions: wrong sessions ended")
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", pw); st != http.StatusUnauthorized {
		t.Fatalf("old password after the change: %d", st)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", newPW); st != http.StatusOK {
		t.Fatalf("new password: %d", st)
	}
	recs := f.audits(t, account.ActionPasswordChanged)
	if len(recs) != 1 || recs[0].ActorID != ann.ID || recs[0].Details["other_sessions_ended"] != "2" {
		t.Fatalf("audit: %+v", recs)
	}
	if m := mail.of(notify.KindPasswordChanged, "ann@example.com"); len(m) != 1 || !m[0].Data.(notify.PasswordChanged).OtherSessionsEnded {
		t.Fatalf("notice: %+v", m)
	}

	// Without end_other_sessions the other sessions stay.
	signInAs(t, f, phone, "ann@example.com", newPW)
	st, out = postJSON(t, laptop, change, map[string]any{"current_password": newPW, "new_password": pw})
	if st != http.StatusOK || out["other_sessions_ended"] != float64(0) || !live(t, phone, f.srv.URL) {
		t.Fatalf("change keeping sessions: %d %v", st, out)
	}
}

// TestChangePasswordForm: the page's form refuses two differing new passwords and a
// wrong current one (the page again, nothing changed), needs its CSRF token, and on
// success with "sign out my other sessions" ends the other client.
func TestChangePasswordForm(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "ann@example.com", pw)
	laptop, phone := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9")
	signInAs(t, f, laptop, "ann@example.com", pw)
	signInAs(t, f, phone, "ann@example.com", pw)
	page, action := f.srv.URL+"/auth/settings/password", f.srv.URL+"/auth/settings/password"
	if st, body := getPage(t, laptop, page); st != http.StatusOK || !strings.Contains(body, `name="current_password"`) || !strings.Contains(body, "at least 15 characters") {
		t.Fatalf("password page: %d\n%s", st, body)
	}
	if st, loc, _ := submit(t, noRedirect(t), f.srv.URL+"/auth/login", action, url.Values{"current_password": {pw}, "new_password": {newPW}, "confirm": {newPW}}); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/auth/login") {
		t.Fatalf("anonymous change: %d %q", st, loc)
	}

	st, _, body := submit(t, laptop, page, action, url.Values{"current_password": {pw}, "new_password": {newPW}, "confirm": {newPW + "x"}, "end_others": {"on"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "The two new passwords differ.") {
		t.Fatalf("mismatch: %d\n%s", st, body)
	}
	st, _, body = submit(t, laptop, page, action, url.Values{"current_password": {"not the password at all"}, "new_password": {newPW}, "confirm": {newPW}, "end_others": {"on"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, "The password is not right.") || !strings.Contains(body, `name="new_password"`) {
		t.Fatalf("wrong current: %d\n%s", st, body)
	}
	if st, _, _ := send(t, laptop, "POST", action, url.Values{"current_password": {pw}, "new_password": {newPW}, "confirm": {newPW}, "end_others": {"on"}}, nil); st != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", st)
	}
	if !live(t, phone, f.srv.URL) || len(f.audits(t, account.ActionPasswordChanged)) != 0 {
		t.Fatal("a refused form had effects")
	}

	st, _, body = submit(t, laptop, page, action, url.Values{"current_password": {pw}, "new_password": {newPW}, "confirm": {newPW}, "end_others": {"on"}})
	if st != http.StatusOK || !strings.Contains(body, "Your password is changed. Your other sessions are signed out.") {
		t.Fatalf("change: %d\n%s", st, body)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("form change: wrong sessions ended")
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", newPW); st != http.StatusOK {
		t.Fatalf("new password: %d", st)
	}
}

// forgot posts the API's forgotten-password request from Host host and returns status
// and the raw body.
func forgot(t *testing.T, f *fixture, email, host string) (int, []byte) {
	t.Helper()
	st, _, b := send(t, noRedirect(t), "POST", f.srv.URL+"/auth/api/v1/password/forgot", map[string]string{"email": email}, map[string]string{"Host": host})
	return st, b
}

// resetToken is the token of a mailed reset link, after checking the link is built on
// BaseURL.
func resetToken(t *testing.T, m mailed) string {
	t.Helper()
	link := m.Data.(notify.PasswordReset).ResetURL
	const want = "https://gw.example/auth/password/reset?token="
	if !strings.HasPrefix(link, want) || strings.Contains(link, "evil") {
		t.Fatalf("reset link %q is not built on the base URL", link)
	}
	u, _ := url.Parse(link)
	return u.Query().Get("token")
}

// TestForgotPasswordSameAnswer: known and unknown addresses get byte-identical answers;
// only the known one gets mail, and its link is built on BaseURL, never on the Host
// header the request came with.
func TestForgotPasswordSameAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	ann := f.addUser(t, "ann@example.com", pw)
	f.addUser(t, "gone@example.com", pw)
	gone, _ := f.handle.Users().UserByEmail(t.Context(), "gone@example.com")
	if err := f.handle.Users().SetStatus(t.Context(), gone.ID, "disabled"); err != nil {
		t.Fatal(err)
	}

	stUnknown, unknown := forgot(t, f, "nobody@example.com", "evil.example")
	stDisabled, disabled := forgot(t, f, "gone@example.com", "evil.example")
	stKnown, known := forgot(t, f, "ann@example.com", "evil.example")
	if stKnown != http.StatusAccepted || stUnknown != stKnown || stDisabled != stKnown {
		t.Fatalf("statuses: known %d, unknown %d, disabled %d", stKnown, stUnknown, stDisabled)
	}
	if !bytes.Equal(known, unknown) || !bytes.Equal(known, disabled) || !bytes.Contains(known, []byte("sent_if_known")) {
		t.Fatalf("bodies differ:\n%s\n%s\n%s", known, unknown, disabled)
	}
	resetToken(t, mail.wait(t, notify.KindPasswordReset, "ann@example.com", 1))
	if m := mail.of(notify.KindPasswordReset, ""); len(m) != 1 {
		t.Fatalf("reset mail to others than the known, active address: %+v", m)
	}
	if m := mail.wait(t, notify.KindPasswordReset, "ann@example.com", 1).Data.(notify.PasswordReset); m.ByAdmin || m.RequestedIP != "192.0.2.1" {
		t.Fatalf("mail facts: %+v", m)
	}
	var outcomes []string
	for _, r := range f.audits(t, authn.ActionResetRequested) {
		outcomes = append(outcomes, r.Outcome+":"+r.Details["reason"])
	}
	if want := "denied:" + authn.ReasonUnknownUser + " denied:" + authn.ReasonNotActive + " success:"; strings.Join(outcomes, " ") != want {
		t.Fatalf("reset requests audited: %v, want %s", outcomes, want)
	}
	if recs := f.audits(t, authn.ActionResetSent); len(recs) != 1 || recs[0].Target != "user:"+ann.ID {
		t.Fatalf("reset sent audit: %+v", recs)
	}

	// The page says the same for both.
	c := noRedirect(t)
	st, _, body := submit(t, c, f.srv.URL+"/auth/password/forgot", f.srv.URL+"/auth/password/forgot", url.Values{"email": {"nobody@example.com"}})
	if st != http.StatusOK || !strings.Contains(body, "If an account uses that address") {
		t.Fatalf("forgot form: %d\n%s", st, body)
	}
}

// TestForgotPasswordWithoutBaseURL: without base_url an anonymous request cannot be
// given a link (its Host header is the attacker's to choose): 503 no_base_url on the
// API, an explanation on the page, and no link is made or mailed.
func TestForgotPasswordWithoutBaseURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	mail := f.withMail()
	f.addUser(t, "ann@example.com", pw)
	for _, host := range []string{"evil.example", ""} {
		hdr := map[string]string{}
		if host != "" {
			hdr["Host"] = host
		}
		st, _, b := send(t, noRedirect(t), "POST", f.srv.URL+"/auth/api/v1/password/forgot", map[string]string{"email": "ann@example.com"}, hdr)
		if st != http.StatusServiceUnavailable || !strings.Contains(string(b), `"no_base_url"`) {
			t.Fatalf("API without base_url (host %q): %d %s", host, st, b)
		}
	}
	c := noRedirect(t)
	st, _, body := submit(t, c, f.srv.URL+"/auth/password/forgot", f.srv.URL+"/auth/password/forgot", url.Values{"email": {"ann@example.com"}})
	if st != http.StatusServiceUnavailable || !strings.Contains(body, "base_url") || !strings.Contains(body, `href="/auth/login"`) {
		t.Fatalf("page without base_url: %d\n%s", st, body)
	}
	if m := mail.of("", ""); len(m) != 0 {
		t.Fatalf("mail without base_url: %+v", m)
	}
	if recs := f.audits(t, authn.ActionResetSent); len(recs) != 0 {
		t.Fatalf("a link was made: %+v", recs)
	}
}

// TestResetLinkFlow: the mailed link opens the form; differing or weak passwords leave
// it usable; a good one sets the password once and ends every session; the spent link
// (and an unknown one) shows a "no longer valid" page with a way on.
func TestResetLinkFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	ann := f.addUser(t, "ann@example.com", pw)
	laptop, phone := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9")
	signInAs(t, f, laptop, "ann@example.com", pw)
	signInAs(t, f, phone, "ann@example.com", pw)

	if st, _ := forgot(t, f, "ann@example.com", "evil.example"); st != http.StatusAccepted {
		t.Fatal(st)
	}
	tok := resetToken(t, mail.wait(t, notify.KindPasswordReset, "ann@example.com", 1))
	page := f.srv.URL + "/auth/password/reset?token=" + url.QueryEscape(tok)
	c := noRedirect(t)
	st, body := getPage(t, c, page)
	if st != http.StatusOK || !strings.Contains(body, "ann@example.com") || !strings.Contains(body, `name="token" value="`+tok+`"`) {
		t.Fatalf("reset page: %d\n%s", st, body)
	}
	action := f.srv.URL + "/auth/password/reset"
	st, _, body = submit(t, c, page, action, url.Values{"token": {tok}, "password": {newPW}, "confirm": {newPW + "x"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "The two passwords differ.") {
		t.Fatalf("mismatch: %d\n%s", st, body)
	}
	st, _, body = submit(t, c, page, action, url.Values{"token": {tok}, "password": {"short"}, "confirm": {"short"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `name="token" value="`+tok+`"`) {
		t.Fatalf("weak password: %d\n%s", st, body)
	}
	if st, _, _ := send(t, c, "POST", action, url.Values{"token": {tok}, "password": {newPW}, "confirm": {newPW}}, nil); st != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", st)
	}
	if !live(t, laptop, f.srv.URL) || !live(t, phone, f.srv.URL) {
		t.Fatal("refused resets ended sessions")
	}

	st, loc, _ := submit(t, c, page, action, url.Values{"token": {tok}, "password": {newPW}, "confirm": {newPW}})
	if st != http.StatusSeeOther || loc != "/auth/login?password_reset=1" {
		t.Fatalf("reset: %d %q", st, loc)
	}
	if live(t, laptop, f.srv.URL) || live(t, phone, f.srv.URL) {
		t.Fatal("the reset left sessions signed in")
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", pw); st != http.StatusUnauthorized {
		t.Fatalf("old password: %d", st)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", newPW); st != http.StatusOK {
		t.Fatalf("new password: %d", st)
	}
	if _, body := getPage(t, c, f.srv.URL+loc); !strings.Contains(body, "every session of the account is signed out") {
		t.Fatalf("sign-in page after the reset:\n%s", body)
	}
	recs := f.audits(t, authn.ActionReset)
	if len(recs) != 1 || recs[0].ActorID != ann.ID || recs[0].Details["sessions_ended"] != "2" {
		t.Fatalf("audit: %+v", recs)
	}
	if m := mail.of(notify.KindPasswordChanged, "ann@example.com"); len(m) != 1 || !m[0].Data.(notify.PasswordChanged).Reset {
		t.Fatalf("notice: %+v", m)
	}

	// Used: the form again, the page, the API — and an unknown token — are closed.
	closed := func(name string, st int, body string) {
		t.Helper()
		if st != http.StatusNotFound || !strings.Contains(body, "This link is no longer valid") || !strings.Contains(body, `href="/auth/login"`) {
			t.Fatalf("%s: %d\n%s", name, st, body)
		}
	}
	st, _, body = submit(t, c, f.srv.URL+"/auth/password/forgot", action, url.Values{"token": {tok}, "password": {"yet another fine passphrase"}, "confirm": {"yet another fine passphrase"}})
	closed("second use", st, body)
	st, body = getPage(t, c, page)
	closed("page of a used link", st, body)
	st, body = getPage(t, c, f.srv.URL+"/auth/password/reset?token=made-up-token")
	closed("unknown token", st, body)
	st, body = getPage(t, c, f.srv.URL+"/auth/password/reset")
	closed("no token", st, body)
	if st, out := postJSON(t, noRedirect(t), f.srv.URL+"/auth/api/v1/password/reset", map[string]string{"token": tok, "password": "yet another fine passphrase"}); st != http.StatusNotFound || out["error"] != "link_no_longer_valid" {
		t.Fatalf("API with a used link: %d %v", st, out)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", newPW); st != http.StatusOK {
		t.Fatalf("a used link changed the password: %d", st)
	}
}

// TestResetLinkAPIAndNewestOnly: of two links asked for, only one works (the newer
// replaces the older); the API sets the password with it.
func TestResetLinkAPIAndNewestOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	f.addUser(t, "ann@example.com", pw)
	forgot(t, f, "ann@example.com", "")
	forgot(t, f, "ann@example.com", "")
	t1 := resetToken(t, mail.wait(t, notify.KindPasswordReset, "ann@example.com", 1))
	t2 := resetToken(t, mail.wait(t, notify.KindPasswordReset, "ann@example.com", 2))
	c := noRedirect(t)
	var open []string
	for _, tok := range []string{t1, t2} {
		if st, _ := getPage(t, c, f.srv.URL+"/auth/password/reset?token="+url.QueryEscape(tok)); st == http.StatusOK {
			open = append(open, tok)
		}
	}
	if len(open) != 1 {
		t.Fatalf("%d of two links work", len(open))
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/password/reset", map[string]string{"token": open[0], "password": "short"}); st != http.StatusBadRequest || out["error"] != "invalid_input" {
		t.Fatalf("API weak password: %d %v", st, out)
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/password/reset", map[string]string{"token": open[0], "password": newPW}); st != http.StatusOK || out["status"] != "reset" {
		t.Fatalf("API reset: %d %v", st, out)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "ann@example.com", newPW); st != http.StatusOK {
		t.Fatalf("new password: %d", st)
	}
}

// TestInviteFlow: an owner invites through the API; the mailed link (on BaseURL) lets
// the invitee, who cannot sign in before, choose a password and be signed in; the link
// works once.
func TestInviteFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	f.addUser(t, "member@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	invite := f.srv.URL + "/auth/api/v1/admin/members"

	if st, out := postJSON(t, mc, invite, map[string]string{"email": "x@example.com"}); st != http.StatusForbidden {
		t.Fatalf("a member inviting: %d %v", st, out)
	}
	if st, out := postJSON(t, ac, invite, map[string]string{"email": "x@example.com", "role": "owner"}); st != http.StatusForbidden {
		t.Fatalf("an admin inviting an owner: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, invite, map[string]string{"email": "not an address"}); st != http.StatusBadRequest {
		t.Fatalf("a bad address: %d %v", st, out)
	}
	if m := mail.of(notify.KindInvite, ""); len(m) != 0 {
		t.Fatalf("refused invitations mailed: %+v", m)
	}

	st, _, b := send(t, oc, "POST", invite, map[string]string{"email": "New@Example.com", "name": "Nia New", "role": "manager"}, map[string]string{"Host": "evil.example"})
	if st != http.StatusCreated || !strings.Contains(string(b), `"status":"invited"`) || !strings.Contains(string(b), `"email":"new@example.com"`) {
		t.Fatalf("invite: %d %s", st, b)
	}
	inv := mail.wait(t, notify.KindInvite, "new@example.com", 1).Data.(notify.Invite)
	if !strings.HasPrefix(inv.AcceptURL, "https://gw.example/auth/invite?token=") || inv.Role != "manager" || inv.InviterEmail != "owner@example.com" {
		t.Fatalf("invitation: %+v", inv)
	}
	u, _ := url.Parse(inv.AcceptURL)
	tok := u.Query().Get("token")
	if recs := f.audits(t, admin.ActionUserInvited); len(recs) != 1 || recs[0].ActorID != owner.ID || recs[0].Details["role"] != "manager" {
		t.Fatalf("audit: %+v", recs)
	}
	// Invited, without a password: no sign-in with any password.
	for _, p := range []string{"", pw} {
		if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "new@example.com", p); st != http.StatusUnauthorized {
			t.Fatalf("invitee signing in before accepting (%q): %d", p, st)
		}
	}
	if ms := membersByEmail(t, f, oc); ms["new@example.com"]["status"] != "invited" || ms["new@example.com"]["last_sign_in"] != nil {
		t.Fatalf("invitee in the listing: %v", ms["new@example.com"])
	}
	if st, out := postJSON(t, oc, invite, map[string]string{"email": "member@example.com"}); st != http.StatusConflict || out["error"] != "already_a_member" {
		t.Fatalf("inviting a member: %d %v", st, out)
	}

	page := f.srv.URL + "/auth/invite?token=" + url.QueryEscape(tok)
	nc := browser(t, iphoneUA, "203.0.113.9")
	st, body := getPage(t, nc, page)
	if st != http.StatusOK || !strings.Contains(body, "new@example.com") || !strings.Contains(body, `action="/auth/invite"`) || !strings.Contains(body, "Nia New") {
		t.Fatalf("invite page: %d\n%s", st, body)
	}
	st, _, body = submit(t, nc, page, f.srv.URL+"/auth/invite", url.Values{"token": {tok}, "name": {"Nia"}, "password": {newPW}, "confirm": {pw}})
	if st != http.StatusBadRequest || !strings.Contains(body, "The two passwords differ.") || live(t, nc, f.srv.URL) {
		t.Fatalf("mismatch: %d\n%s", st, body)
	}
	st, loc, _ := submit(t, nc, page, f.srv.URL+"/auth/invite", url.Values{"token": {tok}, "name": {"Nia"}, "password": {newPW}, "confirm": {newPW}})
	if st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("accept: %d %q", st, loc)
	}
	st, me := getJSON(t, nc, f.srv.URL+"/auth/api/v1/me")
	if user, _ := me["user"].(map[string]any); st != http.StatusOK || user["email"] != "new@example.com" || user["name"] != "Nia" {
		t.Fatalf("invitee after accepting: %d %v", st, me)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "new@example.com", newPW); st != http.StatusOK {
		t.Fatalf("invitee's password: %d", st)
	}
	if ms := membersByEmail(t, f, oc); ms["new@example.com"]["status"] != "active" || ms["new@example.com"]["name"] != "Nia" {
		t.Fatalf("member after accepting: %v", ms["new@example.com"])
	}

	// Once only.
	st, body = getPage(t, noRedirect(t), page)
	if st != http.StatusNotFound || !strings.Contains(body, "This link is no longer valid") {
		t.Fatalf("used invitation page: %d\n%s", st, body)
	}
	other := noRedirect(t)
	st, _, body = submit(t, other, f.srv.URL+"/auth/login", f.srv.URL+"/auth/invite", url.Values{"token": {tok}, "password": {"a takeover passphrase here"}, "confirm": {"a takeover passphrase here"}})
	if st != http.StatusNotFound || live(t, other, f.srv.URL) {
		t.Fatalf("used invitation form: %d\n%s", st, body)
	}
	if st, out := postJSON(t, noRedirect(t), f.srv.URL+"/auth/api/v1/invite/accept", map[string]string{"token": tok, "password": "a takeover passphrase here"}); st != http.StatusNotFound || out["error"] != "link_no_longer_valid" {
		t.Fatalf("used invitation, API: %d %v", st, out)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "new@example.com", "a takeover passphrase here"); st != http.StatusUnauthorized {
		t.Fatal("a used invitation changed the password")
	}
	if st, out := postJSON(t, oc, invite, map[string]string{"email": "new@example.com"}); st != http.StatusConflict {
		t.Fatalf("inviting the new member again: %d %v", st, out)
	}
	if recs := f.audits(t, authn.ActionInviteAccepted); len(recs) != 1 {
		t.Fatalf("acceptance audit: %+v", recs)
	}
}

// TestInviteAcceptAPI: the JSON twin signs the invitee in; an unknown token is closed.
func TestInviteAcceptAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	f.addUserRole(t, "owner@example.com", pw, "owner")
	oc := noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members", map[string]string{"email": "new@example.com"}); st != http.StatusCreated {
		t.Fatalf("invite: %d %v", st, out)
	}
	u, _ := url.Parse(mail.wait(t, notify.KindInvite, "new@example.com", 1).Data.(notify.Invite).AcceptURL)
	c := noRedirect(t)
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/invite/accept", map[string]string{"token": "made-up", "password": newPW}); st != http.StatusNotFound || out["error"] != "link_no_longer_valid" {
		t.Fatalf("unknown token: %d %v", st, out)
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/invite/accept", map[string]string{"token": u.Query().Get("token"), "password": "short"}); st != http.StatusBadRequest {
		t.Fatalf("weak password: %d %v", st, out)
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/invite/accept", map[string]string{"token": u.Query().Get("token"), "password": newPW}); st != http.StatusOK || out["status"] != "signed_in" {
		t.Fatalf("accept: %d %v", st, out)
	}
	if !live(t, c, f.srv.URL) {
		t.Fatal("not signed in after accepting")
	}
}
