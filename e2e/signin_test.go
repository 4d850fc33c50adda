package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// signInForm signs in through the HTML form exactly as a browser does: GET the page
// (sets the CSRF cookie), POST the form with the token. It returns the response.
func signInForm(t *testing.T, c *http.Client, base, email, password, rd string) *http.Response {
	t.Helper()
	_, body, _ := get(t, c, base+"/auth/login?rd="+url.QueryEscape(rd))
	form := url.Values{"email": {email}, "password": {password}, "csrf": {csrfFrom(t, body)}, "rd": {rd}}
	req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, _, resp := do(t, c, req)
	return resp
}

// runNewcomerFlow is the README's promise: first run logs a setup link, the owner is
// created there, and their identity arrives at the upstream.
func runNewcomerFlow(t *testing.T, dsn string) {
	up := newRecorder(t)
	g := startGateway(t, dsn, up.URL, siteConfig)
	c := browser(t)

	// Signed out: a protected page sends the browser to sign in, keeping the path.
	st, _, resp := get(t, c, g.url+"/reports/q3?x=1")
	if st != http.StatusFound || resp.Header.Get("Location") != "/auth/login?rd="+url.QueryEscape("/reports/q3?x=1") {
		t.Fatalf("signed-out GET: %d Location %q", st, resp.Header.Get("Location"))
	}
	if up.count() != 0 {
		t.Fatal("upstream reached while signed out")
	}

	// First run: open the setup link, create the owner.
	link := g.setupURL()
	st, body, _ := get(t, c, link)
	if st != http.StatusOK {
		t.Fatalf("setup page: %d\n%s", st, body)
	}
	token := strings.SplitN(link, "token=", 2)[1]
	setup := func(password string) (int, string) {
		form := url.Values{"csrf": {csrfFrom(t, body)}, "token": {token}, "email": {"Owner@Example.com"},
			"name": {"Olive Owner"}, "password": {password}, "confirm": {password}}
		req, _ := http.NewRequest("POST", g.url+"/auth/setup", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		st, b, _ := do(t, c, req)
		return st, b
	}
	// A famous passphrase is on the blocklist; the link survives the refusal.
	if st, b := setup("correct horse battery staple"); st != http.StatusBadRequest || !strings.Contains(b, "too common") {
		t.Fatalf("blocklisted password: %d\n%s", st, b)
	}
	st, body = setup("plum kettle orbit seventeen lanterns")
	if st != http.StatusSeeOther {
		t.Fatalf("setup POST: %d\n%s", st, body)
	}
	// The link works once.
	if st, _, _ := get(t, browser(t), link); st != http.StatusNotFound {
		t.Fatalf("setup link reused: %d", st)
	}

	// Signed in by setup: the upstream sees the verified identity.
	st, body, _ = get(t, c, g.url+"/reports/q3")
	if st != http.StatusOK || !strings.Contains(body, `"owner@example.com"`) {
		t.Fatalf("after setup: %d %s", st, body)
	}
	h := up.last(t)
	for name, want := range map[string]string{
		"X-Gatehouse-User-Email": "owner@example.com", "X-Gatehouse-User-Name": "Olive Owner",
		"X-Gatehouse-Tenant": "default", "X-Gatehouse-Roles": "owner", "X-Gatehouse-Auth-Methods": "pwd",
		"Remote-User": "owner@example.com", "Remote-Email": "owner@example.com", "Remote-Groups": "owner",
	} {
		if got := h.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("upstream header %s = %q, want [%q]", name, got, want)
		}
	}
	for _, name := range []string{"X-Gatehouse-User-Id", "X-Gatehouse-Tenant-Id", "X-Gatehouse-Session-Id"} {
		if len(h.Values(name)) != 1 || h.Get(name) == "" {
			t.Errorf("upstream header %s = %q, want one non-empty value", name, h.Values(name))
		}
	}
	// Exactly these identity headers, nothing else that looks like one.
	want := map[string]bool{"X-Gatehouse-User-Id": true, "X-Gatehouse-User-Email": true, "X-Gatehouse-User-Name": true,
		"X-Gatehouse-Tenant-Id": true, "X-Gatehouse-Tenant": true, "X-Gatehouse-Roles": true, "X-Gatehouse-Session-Id": true,
		"X-Gatehouse-Auth-Methods": true, "X-Gatehouse-Assertion": true, "Remote-User": true, "Remote-Email": true, "Remote-Name": true, "Remote-Groups": true}
	for k := range h {
		l := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if (strings.HasPrefix(l, "x-gatehouse-") || strings.HasPrefix(l, "remote-")) && !want[k] {
			t.Errorf("unexpected identity-like header at upstream: %s", k)
		}
		delete(want, k)
	}
	if len(want) != 0 {
		t.Errorf("identity headers missing at upstream: %v", want)
	}

	// A member added with the CLI signs in through the form in another browser.
	req, _ := http.NewRequest("GET", g.url+"/auth/api/v1/me", nil)
	if st, b, _ := do(t, c, req); st != http.StatusOK || !strings.Contains(b, `"email":"owner@example.com"`) {
		t.Fatalf("me: %d %s", st, b)
	}
	out, err := g.cli("a long and unguessable passphrase\n", "user", "add", "--tenant", "default",
		"--email", "member@example.com", "--name", "Max Member", "--role", "member", "--password-stdin")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	m := browser(t)
	resp = signInForm(t, m, g.url, "member@example.com", "wrong password entirely", "/reports")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp = signInForm(t, m, g.url, "member@example.com", "a long and unguessable passphrase", "/reports")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports" {
		t.Fatalf("sign-in: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	st, _, _ = get(t, m, g.url+"/reports")
	if st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != "member@example.com" || up.last(t).Get("X-Gatehouse-Roles") != "member" {
		t.Fatalf("member upstream: %d %v", st, up.last(t))
	}
	// The session cookie is HttpOnly and SameSite=Lax.
	cookie := resp.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "gatehouse=") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Fatalf("session cookie attributes: %q", cookie)
	}

	// The user list shows both accounts.
	out, err = g.cli("", "user", "list", "--tenant", "default")
	if err != nil || !strings.Contains(out, "owner@example.com") || !strings.Contains(out, "member@example.com") {
		t.Fatalf("user list: %v\n%s", err, out)
	}

	// Sign out: the session stops working at once.
	_, body, _ = get(t, m, g.url+"/auth/logout")
	req, _ = http.NewRequest("POST", g.url+"/auth/logout", strings.NewReader(url.Values{"csrf": {csrfFrom(t, body)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if st, _, _ := do(t, m, req); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	before := up.count()
	if st, _, _ := get(t, m, g.url+"/reports"); st != http.StatusFound || up.count() != before {
		t.Fatalf("after logout: %d, upstream reached %d times", st, up.count()-before)
	}
}

func TestNewcomerFlowSQLite(t *testing.T) {
	runNewcomerFlow(t, "sqlite://"+filepath.Join(t.TempDir(), "gatehouse.db"))
}

func TestNewcomerFlowPostgres(t *testing.T) {
	runNewcomerFlow(t, postgresDSN(t))
}

// TestSetupLinkUsesThePortalPrefix: a site with its own portal prefix gets a setup link
// under that prefix, and the link works there.
func TestSetupLinkUsesThePortalPrefix(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: "\n\t\tportal /_gatehouse"})
	link := g.setupURL()
	if !strings.HasPrefix(link, g.url+"/_gatehouse/setup?token=") {
		t.Fatalf("setup link %q", link)
	}
	if st, body, _ := get(t, browser(t), link); st != http.StatusOK || !strings.Contains(body, `action="/_gatehouse/setup"`) {
		t.Fatalf("setup page under the prefix: %d\n%s", st, body)
	}
}
