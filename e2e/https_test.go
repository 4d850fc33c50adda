package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPSUsesHostPrefixedSecureCookie: on HTTPS the session cookie is
// __Host-gatehouse with Secure, and a plain "gatehouse" cookie (which a sibling site or a
// plain-HTTP response could plant) is not accepted as a session.
func TestHTTPSUsesHostPrefixedSecureCookie(t *testing.T) {
	up := newRecorder(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`{
	admin off
	skip_install_trust
	persist_config off
	storage file_system %s
	gatehouse {
		store sqlite://%s
		bcrypt_cost 4
	}
}

https://127.0.0.1:%d {
	tls internal
	gatehouse
	reverse_proxy %s
}
`, filepath.Join(dir, "caddy"), filepath.Join(dir, "gh.db"), port, strings.TrimPrefix(up.URL, "http://"))
	g := &gateway{t: t, url: fmt.Sprintf("https://127.0.0.1:%d", port), config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)
	if out, err := g.cli("passphrase for the https test\n", "user", "add", "--email", "tls@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/login", strings.NewReader(`{"email":"tls@example.com","password":"passphrase for the https test"}`))
	req.Header.Set("Content-Type", "application/json")
	st, body, resp := do(t, c, req)
	if st != http.StatusOK {
		t.Fatalf("login: %d %s", st, body)
	}
	var session string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-gatehouse=") {
			session = sc
		}
	}
	if session == "" || !strings.Contains(session, "Secure") || !strings.Contains(session, "HttpOnly") ||
		!strings.Contains(session, "Path=/") || strings.Contains(session, "Domain=") {
		t.Fatalf("HTTPS session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	// Portal answers over HTTPS pin HTTPS for a year (without includeSubDomains).
	for _, path := range []string{"/auth/login", "/auth/api/v1/me", "/auth/nope"} {
		_, _, r := get(t, c, g.url+path)
		if h := r.Header.Get("Strict-Transport-Security"); h != "max-age=31536000" {
			t.Errorf("%s over HTTPS: Strict-Transport-Security %q", path, h)
		}
	}
	if st, _, _ := get(t, c, g.url+"/app"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != "tls@example.com" {
		t.Fatalf("signed-in HTTPS request: %d", st)
	}
	// The same token under the plain name is not a session on HTTPS.
	token := strings.TrimPrefix(strings.SplitN(session, ";", 2)[0], "__Host-gatehouse=")
	plain, _ := http.NewRequest("GET", g.url+"/app", nil)
	plain.Header.Set("Cookie", "gatehouse="+token)
	before := up.count()
	c.Jar, _ = cookiejar.New(nil)
	if st, _, _ := do(t, c, plain); st != http.StatusFound || up.count() != before {
		t.Fatalf("plain-named cookie on HTTPS: %d, upstream reached %d times", st, up.count()-before)
	}
}
