package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// proxyAddr is the loopback address the front proxy connects to Gatehouse from: the
// only one in Gatehouse's trusted_proxies. Tests connect from 127.0.0.1, an untrusted
// peer, unless they act as the proxy.
const proxyAddr = "127.0.0.2"

// nginxSnippet is the nginx configuration the README quotes.
const nginxSnippet = "testdata/nginx-forward-auth.conf"

// startNginx runs Debian's nginx as a private process (its own prefix, pid, logs and
// temp paths in a temporary directory, a free port) with the README's snippet in the
// server block, in front of the app and Gatehouse; it connects to both from proxyAddr.
// It returns nginx's base URL.
func startNginx(t *testing.T, gatehouse, app string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			testenv.Need(t, "nginx is not installed (apt-get install nginx, or run make test, which installs it)")
		}
		bin = "/usr/sbin/nginx"
	}
	snippet, err := filepath.Abs(nginxSnippet)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers would otherwise run as nobody, locked out of dir
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 256; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream gatehouse { server %[3]s; }
	upstream app { server %[4]s; }
	server {
		listen 127.0.0.1:%[5]d;
		proxy_bind %[6]s;
		include %[7]s;
	}
}
`, user, dir, strings.TrimPrefix(gatehouse, "http://"), strings.TrimPrefix(app, "http://"), port, proxyAddr, snippet)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cfg, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // nginx: fast shutdown
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nnginx error log:\n%s", out.String(), log)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited:\n%s\n%s", out.String(), log)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forwardAuthGateway starts Gatehouse as nginx's auth service: its site has the verify
// route and trusts only proxyAddr. The app is not behind it (its reverse_proxy goes to
// a recorder that must never be reached).
func forwardAuthGateway(t *testing.T) (*gateway, *recorder) {
	t.Helper()
	never := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{
		dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: never.URL,
		global: "servers {\n\t\ttrusted_proxies static " + proxyAddr + "/32\n\t}",
		site: `
		forward_auth_endpoint /_gatehouse/verify
		rule /public/* public
		rule /admin/* deny
		remote_headers`,
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.logs())
		}
	})
	const pw = "a long and unguessable passphrase"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "nurse@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	return g, never
}

// TestForwardAuthBehindNginx: Gatehouse as nginx's auth_request service, with the
// README's snippet. An anonymous browser ends at the sign-in page, signs in through
// nginx and lands on the page it asked for, where the app sees the verified identity —
// not the identity headers the client forged, nor Gatehouse's session cookie; an API
// client gets 401; a public rule is served anonymously; a denied route is 403; a
// spoofed X-Forwarded-Uri sent straight to Gatehouse from an untrusted peer is refused.
func TestForwardAuthBehindNginx(t *testing.T) {
	testenv.Short(t, "nginx in front of the built binary")
	app := newRecorder(t)
	g, never := forwardAuthGateway(t)
	base := startNginx(t, g.url, app.URL)
	c := browser(t)

	// Anonymous browser: to the sign-in page, keeping the whole original URL.
	const page = "/reports/q3?x=1&y=2"
	st, _, resp := get(t, c, base+page)
	want := "/auth/login?rd=" + url.QueryEscape(page)
	if st != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("anonymous browser: %d Location %q, want 302 %q", st, resp.Header.Get("Location"), want)
	}
	st, body, _ := get(t, c, base+resp.Header.Get("Location"))
	if st != http.StatusOK || !strings.Contains(body, `name="password"`) || !strings.Contains(body, `name="rd" value="`+strings.ReplaceAll(page, "&", "&amp;")+`"`) {
		t.Fatalf("sign-in page through nginx: %d\n%s", st, body)
	}
	if app.count() != 0 {
		t.Fatal("the app was reached while signed out")
	}

	// Sign in through nginx: back to the original URL.
	resp = signInForm(t, c, base, "nurse@example.com", "a long and unguessable passphrase", page)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("sign-in: %d Location %q, want 303 %q", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	req, _ := http.NewRequest("GET", base+resp.Header.Get("Location"), nil)
	req.Header.Set("Cookie", "theme=dark")
	for _, l := range forgedLines() {
		name, value, _ := strings.Cut(l, ": ")
		req.Header[name] = append(req.Header[name], value) // as spelled
	}
	st, body, _ = do(t, c, req)
	if st != http.StatusOK || !strings.Contains(body, "upstream saw "+page) {
		t.Fatalf("signed in through nginx: %d\n%s", st, body)
	}
	h := app.last(t)
	if h.Get("X-Gatehouse-User-Email") != "nurse@example.com" || h.Get("X-Gatehouse-Roles") != "member" ||
		h.Get("Remote-User") != "nurse@example.com" || h.Get("X-Gatehouse-User-Id") == "" || h.Get("X-Gatehouse-Assertion") == "" ||
		h.Get("X-Gatehouse-Session-Id") == "" || h.Get("X-Gatehouse-Tenant") != "default" {
		t.Fatalf("identity the app saw: %v", h)
	}
	assertNoForgery(t, h)
	// The assertion is for the app's origin (the host the browser used), not Gatehouse's.
	parts := strings.Split(h.Get("X-Gatehouse-Assertion"), ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q", h.Get("X-Gatehouse-Assertion"))
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !strings.Contains(string(claims), `"aud":["`+base+`"]`) {
		t.Fatalf("assertion claims %s (%v), want aud %s", claims, err, base)
	}
	if ck := h.Get("Cookie"); ck != "theme=dark" {
		t.Fatalf("Cookie the app saw: %q, want the app's own cookie only (not Gatehouse's session)", ck)
	}
	if _, ok := h[http.CanonicalHeaderKey("X-Gatehouse-Upstream-Cookie")]; ok {
		t.Fatal("the app saw X-Gatehouse-Upstream-Cookie")
	}

	// A denied route: 403, the app not reached.
	n := app.count()
	if st, _, _ := get(t, c, base+"/admin/users"); st != http.StatusForbidden || app.count() != n {
		t.Fatalf("denied route through nginx: %d (app reached: %t)", st, app.count() != n)
	}

	// An API client without a session: 401.
	api, _ := http.NewRequest("GET", base+"/api/records", nil)
	api.Header.Set("Accept", "application/json")
	if st, body, resp := do(t, plainClient(), api); st != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Fatalf("API client through nginx: %d %q\n%s", st, resp.Header.Get("Location"), body)
	}

	// A public rule: served anonymously, without identity.
	req, _ = http.NewRequest("GET", base+"/public/leaflet.pdf", nil)
	req.Header.Set("X-Gatehouse-User-Email", "forged@evil.example")
	if st, _, _ := do(t, plainClient(), req); st != http.StatusOK || app.last(t).Get("X-Gatehouse-User-Email") != "" {
		t.Fatalf("public route through nginx: %d, identity %q", st, app.last(t).Get("X-Gatehouse-User-Email"))
	}

	// Straight to Gatehouse from an untrusted peer, naming the public route: refused.
	spoof, _ := http.NewRequest("GET", g.url+"/_gatehouse/verify", nil)
	spoof.Header.Set("X-Forwarded-Method", "GET")
	spoof.Header.Set("X-Forwarded-Host", strings.TrimPrefix(base, "http://"))
	spoof.Header.Set("X-Forwarded-Uri", "/public/leaflet.pdf")
	for _, cl := range []*http.Client{plainClient(), c} { // anonymous, and with the session
		if st, _, resp := do(t, cl, spoof); st != http.StatusForbidden || resp.Header.Get("X-Gatehouse-User-Id") != "" {
			t.Fatalf("spoofed X-Forwarded-Uri from an untrusted peer: %d %v", st, resp.Header)
		}
	}
	if never.count() != 0 {
		t.Fatal("Gatehouse's own reverse_proxy was reached")
	}
}

// TestForwardAuthTraefikStyle: a client acting as the trusted proxy (Traefik's
// forwardAuth, Caddy's forward_auth) gets a 302 to the sign-in with the original URL
// for browsers, 401 for API clients, and 200 with the identity headers once signed in.
func TestForwardAuthTraefikStyle(t *testing.T) {
	testenv.Short(t, "forward auth against the built binary")
	g, _ := forwardAuthGateway(t)
	asProxy := plainClient()
	asProxy.Transport = &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(proxyAddr)}, Timeout: 5 * time.Second}).DialContext}
	host := "127.0.0.1:8443" // the app's host as the proxy names it (the Caddy site answers 127.0.0.1)
	ask := func(method, uri, accept, cookie string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", g.url+"/_gatehouse/verify", nil)
		req.Header.Set("X-Forwarded-Method", method)
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", host)
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("Accept", accept)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		_, _, resp := do(t, asProxy, req)
		return resp
	}
	const page = "/records/17?tab=notes&sort=desc"
	resp := ask("GET", page, "text/html", "")
	if want := "/auth/login?rd=" + url.QueryEscape(page); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("browser via the trusted proxy: %d Location %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp := ask("GET", page, "application/json", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API client via the trusted proxy: %d", resp.StatusCode)
	}
	if resp := ask("GET", "/public/a", "text/html", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Gatehouse-User-Id") != "" {
		t.Fatalf("public route via the trusted proxy: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := ask("GET", "/public/%2e%2e/records", "text/html", ""); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("ambiguous path via the trusted proxy: %d", resp.StatusCode)
	}

	// Signed in (the portal on the app's host, as the proxy passes it): 200 with the
	// identity for the proxy to copy upstream.
	c := browser(t)
	st, body := apiCallHost(t, c, g.url+"/auth/api/v1/login", host, map[string]string{"email": "nurse@example.com", "password": "a long and unguessable passphrase"})
	if st != http.StatusOK {
		t.Fatalf("sign-in: %d %s", st, body)
	}
	var session string
	for _, ck := range c.Jar.Cookies(mustURL(t, g.url)) {
		if ck.Name == "gatehouse" {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("no session cookie after sign-in")
	}
	resp = ask("GET", page, "text/html", "gatehouse="+session+"; theme=dark")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Gatehouse-User-Email") != "nurse@example.com" ||
		resp.Header.Get("Remote-User") != "nurse@example.com" || resp.Header.Get("X-Gatehouse-Assertion") == "" ||
		resp.Header.Get("X-Gatehouse-Upstream-Cookie") != "theme=dark" {
		t.Fatalf("signed in via the trusted proxy: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := ask("GET", "/admin/x", "text/html", "gatehouse="+session); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("denied route via the trusted proxy: %d", resp.StatusCode)
	}
}

// apiCallHost is apiCall with the Host header a front proxy passes (the app's host).
func apiCallHost(t *testing.T, c *http.Client, u, host string, body map[string]string) (int, string) {
	t.Helper()
	form := "{"
	sep := ""
	for k, v := range body {
		form += fmt.Sprintf("%s%q:%q", sep, k, v)
		sep = ","
	}
	req, _ := http.NewRequest("POST", u, strings.NewReader(form+"}"))
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	st, b, _ := do(t, c, req)
	return st, b
}

// TestREADMEQuotesNginxSnippet keeps the README's nginx configuration the one the test
// above runs.
func TestREADMEQuotesNginxSnippet(t *testing.T) {
	snippet, err := os.ReadFile(nginxSnippet)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```nginx\n"+string(snippet)+"```\n") {
		t.Fatalf("README.md does not quote %s verbatim in an nginx code block", nginxSnippet)
	}
}
