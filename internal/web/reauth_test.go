package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// hiddenRE finds a form's hidden fields.
var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// status reads a member's status from the store.
func (f *fixture) status(t *testing.T, id string) string {
	t.Helper()
	u, err := f.handle.Users().UserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Status
}

// TestReauthenticationAPI: ten minutes after signing in, member administration through
// the API answers 401 reauthentication_required and changes nothing; the right
// password (not a wrong one) through /api/v1/reauth lets it through, for ten minutes.
func TestReauthenticationAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "member@example.com", pw)
	oc := browser(t, firefoxUA, "198.51.100.7")
	signInAs(t, f, oc, "owner@example.com", pw)
	disable := f.srv.URL + "/auth/api/v1/admin/members/" + member.ID + "/disable"

	clk.Advance(authn.DefaultReauthAge + time.Second)
	mc := noRedirect(t)
	signInAs(t, f, mc, "member@example.com", pw)
	for name, req := range map[string]func() (int, map[string]any){
		"disable": func() (int, map[string]any) { return postJSON(t, oc, disable, nil) },
		"role": func() (int, map[string]any) {
			return sendJSON(t, oc, "PUT", f.srv.URL+"/auth/api/v1/admin/members/"+member.ID+"/role", map[string]string{"role": "manager"})
		},
		"invite": func() (int, map[string]any) {
			return postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members", map[string]string{"email": "new@example.com"})
		},
		"revoke": func() (int, map[string]any) {
			return sendJSON(t, oc, "DELETE", f.srv.URL+"/auth/api/v1/admin/members/"+member.ID+"/sessions", nil)
		},
	} {
		if st, out := req(); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
			t.Fatalf("%s on a stale session: %d %v", name, st, out)
		}
	}
	if u, _ := f.handle.Users().UserByID(t.Context(), member.ID); u.Status != store.UserActive || u.Roles[0] != "member" || !live(t, mc, f.srv.URL) {
		t.Fatalf("refused actions had effects: %+v", u)
	}
	if _, err := f.handle.Users().UserByEmail(t.Context(), "new@example.com"); err == nil {
		t.Fatal("a refused invitation created the user")
	}
	// Reading is not sensitive.
	if st, _ := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members"); st != http.StatusOK {
		t.Fatalf("listing on a stale session: %d", st)
	}

	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/reauth", map[string]string{"password": "not the password at all"}); st != http.StatusUnauthorized || out["error"] != "wrong_password" {
		t.Fatalf("reauth, wrong password: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, disable, nil); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
		t.Fatalf("after a wrong password: %d %v", st, out)
	}
	if st, out := postJSON(t, noRedirect(t), f.srv.URL+"/auth/api/v1/reauth", map[string]string{"password": pw}); st != http.StatusUnauthorized || out["error"] != "unauthenticated" {
		t.Fatalf("reauth without a session: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/reauth", map[string]string{"password": pw}); st != http.StatusOK || out["status"] != "reauthenticated" {
		t.Fatalf("reauth: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, disable, nil); st != http.StatusOK || out["status"] != "disabled" {
		t.Fatalf("disable after reauth: %d %v", st, out)
	}
	if f.status(t, member.ID) != store.UserDisabled || live(t, mc, f.srv.URL) {
		t.Fatal("disable after reauth had no effect")
	}
	recs := f.audits(t, authn.ActionReauthenticated)
	if len(recs) != 1 || recs[0].ActorID != owner.ID || recs[0].Details["method"] != "pwd" || recs[0].SessionID == "" {
		t.Fatalf("audit: %+v", recs)
	}

	// The proof is good for the re-authentication age, not for ever.
	clk.Advance(authn.DefaultReauthAge + time.Second)
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members/"+member.ID+"/enable", nil); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
		t.Fatalf("enable another ten minutes on: %d %v", st, out)
	}
	if f.status(t, member.ID) != store.UserDisabled {
		t.Fatal("a refused enable had effect")
	}
}

// TestReauthenticationBrowser: a stale administrator's form goes to /auth/reauth with
// the page it came from; the right password leads back there and the action then
// works; a wrong one shows the form again (401). Targets off this site are never
// followed.
func TestReauthenticationBrowser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "member@example.com", pw)
	oc := browser(t, firefoxUA, "198.51.100.7")
	signInAs(t, f, oc, "owner@example.com", pw)
	clk.Advance(authn.DefaultReauthAge + time.Minute)
	mc := noRedirect(t)
	signInAs(t, f, mc, "member@example.com", pw)

	back := "/auth/admin/members/" + member.ID
	page, disable := f.srv.URL+back, f.srv.URL+back+"/disable"
	if st, body := getPage(t, oc, page); st != http.StatusOK || !strings.Contains(body, `action="`+back+`/disable"`) {
		t.Fatalf("member page on a stale session: %d\n%s", st, body)
	}
	st, loc, _ := submit(t, oc, page, disable, url.Values{"back": {back}})
	wantReauth := "/auth/reauth?rd=" + url.QueryEscape(back)
	if st != http.StatusSeeOther || loc != wantReauth {
		t.Fatalf("stale form: %d %q, want %q", st, loc, wantReauth)
	}
	if f.status(t, member.ID) != store.UserActive || !live(t, mc, f.srv.URL) {
		t.Fatal("the stale form had effect")
	}
	// A "back" off this site is not followed; the security page is the default.
	for _, evil := range []string{"//evil.example/x", "https://evil.example/x", `/\evil.example`} {
		_, loc, _ := submit(t, oc, page, disable, url.Values{"back": {evil}})
		if loc != "/auth/reauth?rd="+url.QueryEscape("/auth/settings/security") {
			t.Fatalf("back %q: redirected to %q", evil, loc)
		}
	}

	st, body := getPage(t, oc, f.srv.URL+wantReauth)
	if st != http.StatusOK || !strings.Contains(body, `name="rd" value="`+back+`"`) || !strings.Contains(body, `name="password"`) {
		t.Fatalf("reauth page: %d\n%s", st, body)
	}
	st, _, body = submit(t, oc, f.srv.URL+wantReauth, f.srv.URL+"/auth/reauth", url.Values{"rd": {back}, "password": {"not the password at all"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, "The password is not right.") || !strings.Contains(body, `name="rd" value="`+back+`"`) {
		t.Fatalf("reauth, wrong password: %d\n%s", st, body)
	}
	if _, _, b := send(t, oc, "POST", f.srv.URL+"/auth/reauth", url.Values{"rd": {back}, "password": {pw}}, nil); !strings.Contains(string(b), "The form expired") {
		t.Fatal("reauth form accepted without its CSRF token")
	}
	if len(f.audits(t, authn.ActionReauthenticated)) != 0 {
		t.Fatal("refused re-authentications recorded as done")
	}
	st, loc, _ = submit(t, oc, f.srv.URL+wantReauth, f.srv.URL+"/auth/reauth", url.Values{"rd": {back}, "password": {pw}})
	if st != http.StatusSeeOther || loc != back {
		t.Fatalf("reauth: %d %q", st, loc)
	}
	st, _, body = submit(t, oc, f.srv.URL+loc, disable, url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "Disabled: they cannot sign in") {
		t.Fatalf("disable after reauth: %d\n%s", st, body)
	}
	if f.status(t, member.ID) != store.UserDisabled || live(t, mc, f.srv.URL) {
		t.Fatal("disable after reauth had no effect")
	}

	// rd off this site: neither the page nor the redirect after the password leads there.
	for _, evil := range []string{"//evil.example", "https://evil.example", "https:/evil.example", `/\evil.example`, "/%0d%0aLocation:evil.example"} {
		st, body := getPage(t, oc, f.srv.URL+"/auth/reauth?rd="+url.QueryEscape(evil))
		if st != http.StatusOK || strings.Contains(body, "evil.example") || !strings.Contains(body, `name="rd" value="/"`) {
			t.Fatalf("reauth page with rd %q: %d\n%s", evil, st, body)
		}
		st, loc, _ := submit(t, oc, f.srv.URL+"/auth/reauth", f.srv.URL+"/auth/reauth?rd="+url.QueryEscape(evil), url.Values{"rd": {evil}, "password": {pw}})
		if st != http.StatusSeeOther || loc != "/" {
			t.Fatalf("reauth with rd %q: %d %q", evil, st, loc)
		}
	}
	// A browser without a session is sent to sign in first.
	if st, loc, _ := submit(t, noRedirect(t), f.srv.URL+"/auth/login", f.srv.URL+"/auth/reauth", url.Values{"rd": {back}, "password": {pw}}); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/auth/login") {
		t.Fatalf("reauth without a session: %d %q", st, loc)
	}
}

// TestReauthenticationFormsComeBack: every sensitive browser form of a stale session —
// the invitation on the members page, the unlock on the workspace security page, the
// passkey removal on the security page — leads to /auth/reauth and from there back to
// the page it was on, not to an error page that speaks of the API.
func TestReauthenticationFormsComeBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.withLockout()
	f.portal.BaseURL = "https://gw.example"
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	oc := noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw) // before the passkey exists
	if err := f.handle.Passkeys().AddPasskey(t.Context(), store.Passkey{ID: "pk1", UserID: owner.ID, CredentialID: []byte("cred"),
		PublicKey: []byte{1}, Name: "Laptop", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(authn.DefaultReauthAge + time.Minute)

	for _, tc := range []struct {
		name, page, action string
		form               url.Values
	}{
		{"invite", "/auth/admin/members", "/auth/admin/members/invite", url.Values{"email": {"new@example.com"}, "role": {"member"}}},
		{"unlock", "/auth/admin/security", "/auth/admin/unlock", url.Values{"email": {"someone@example.com"}}},
		{"passkey removal", "/auth/settings/security", "/auth/settings/passkeys/delete", url.Values{"id": {"pk1"}}},
	} {
		form := url.Values{}
		// What the page's own form sends, plus the test's fields.
		_, body := getPage(t, oc, f.srv.URL+tc.page)
		if i := strings.Index(body, `action="`+tc.action+`"`); i < 0 {
			t.Fatalf("%s: no form on %s", tc.name, tc.page)
		} else if j := strings.Index(body[i:], "</form>"); j > 0 {
			for _, m := range hiddenRE.FindAllStringSubmatch(body[i:i+j], -1) {
				form.Set(m[1], m[2])
			}
		}
		for k, v := range tc.form {
			form[k] = v
		}
		st, h, b := send(t, oc, "POST", f.srv.URL+tc.action, form, nil)
		if want := "/auth/reauth?rd=" + url.QueryEscape(tc.page); st != http.StatusSeeOther || h.Get("Location") != want {
			t.Errorf("%s on a stale session: %d %q, want 303 %q\n%s", tc.name, st, h.Get("Location"), want, b)
		}
	}
	if _, err := f.handle.Users().UserByEmail(t.Context(), "new@example.com"); err == nil {
		t.Fatal("the stale invitation created the user")
	}
	if pks, _ := f.handle.Passkeys().ListPasskeys(t.Context(), owner.ID); len(pks) != 1 {
		t.Fatal("the stale removal removed the passkey")
	}
}
