package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaddyfileExample runs the README's newcomer path on Caddyfile.example itself
// (ports and data directory moved aside): the setup link from the log creates the owner,
// and the demo upstream shows the e-mail it received.
func TestCaddyfileExample(t *testing.T) {
	src, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	site, up, admin := freePort(t), freePort(t), freePort(t)
	cfg := strings.NewReplacer(
		"localhost:8080", fmt.Sprintf("localhost:%d", site),
		":9000", fmt.Sprintf(":%d", up),
		"localhost:2019", fmt.Sprintf("localhost:%d", admin),
		"sqlite://data/gatehouse.db", "sqlite://"+filepath.Join(dir, "data", "gatehouse.db"),
	).Replace(string(src))
	g := &gateway{t: t, url: fmt.Sprintf("http://localhost:%d", site), config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)

	link := g.setupURL()
	if !strings.HasPrefix(link, g.url+"/auth/setup?token=") {
		t.Fatalf("setup link %q does not use base_url", link)
	}
	c := browser(t)
	_, body, _ := get(t, c, link)
	form := url.Values{"csrf": {csrfFrom(t, body)}, "token": {strings.SplitN(link, "token=", 2)[1]}, "email": {"newcomer@example.com"},
		"name": {"New Comer"}, "password": {"maple rocket sundial ninety"}, "confirm": {"maple rocket sundial ninety"}}
	req, _ := http.NewRequest("POST", g.url+"/auth/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if st, b, _ := do(t, c, req); st != http.StatusSeeOther {
		t.Fatalf("setup: %d %s", st, b)
	}
	st, body, _ := get(t, c, g.url+"/")
	if st != http.StatusOK || !strings.Contains(body, "Gatehouse says you are <strong>newcomer@example.com</strong>") {
		t.Fatalf("demo page: %d\n%s", st, body)
	}
	// The headers the example chooses reach the demo (the name is not in the default).
	if !strings.Contains(body, "<td>X-Gatehouse-User-Name</td><td><code>New Comer</code>") {
		t.Errorf("demo page lacks the name the example's identity_headers add:\n%s", body)
	}
	// The demo app leads to the portal's pages (the owner sees the workspace's too).
	for _, link := range []string{`href="/auth/settings/security"`, `href="/auth/settings/sessions"`, `href="/auth/admin/security"`, `href="/auth/admin/members"`, `href="/auth/admin/roles"`, `href="/auth/logout"`} {
		if !strings.Contains(body, link) {
			t.Errorf("demo page has no %s", link)
		}
	}
	// The CRM policy: the owner lists every deal, with scope tenant handed to the app.
	st, body, _ = get(t, c, g.url+"/api/deals")
	if st != http.StatusOK || !strings.Contains(body, "<code>deals:read</code>; your scope: <strong>tenant</strong>") {
		t.Fatalf("owner on /api/deals: %d\n%s", st, body)
	}
	// A path the policy does not name is denied, even to the owner.
	if st, _, _ = get(t, c, g.url+"/nowhere"); st != http.StatusForbidden {
		t.Errorf("owner on an unlisted path: %d", st)
	}
	// Signed out: the home page is public and leads to sign-in; the CRM's routes
	// send the browser to sign in.
	if st, body, _ = get(t, browser(t), g.url+"/"); st != http.StatusOK || !strings.Contains(body, `href="/auth/login"`) {
		t.Fatalf("public demo page: %d\n%s", st, body)
	}
	if st, _, _ = get(t, browser(t), g.url+"/api/deals"); st != http.StatusFound {
		t.Fatalf("signed-out /api/deals: %d", st)
	}
}
