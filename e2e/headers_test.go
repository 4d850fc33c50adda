package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSecurityHeadersOnProxiedResponses: security_headers adds HSTS (HTTPS only), the
// operator's CSP, nosniff, frame options and referrer policy to a real upstream's
// responses, leaves the app's own header alone (unless override), and does not touch
// the portal's own headers.
func TestSecurityHeadersOnProxiedResponses(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/framed") {
			w.Header().Set("X-Frame-Options", "DENY")
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<p>app</p>")
	}))
	t.Cleanup(app.Close)
	dir := t.TempDir()
	port, plainPort := freePort(t), freePort(t)
	upstream := strings.TrimPrefix(app.URL, "http://")
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
	gatehouse {
		rule /public/* public
		security_headers {
			csp "default-src 'self'; img-src 'self' data:"
		}
	}
	reverse_proxy %s
}

http://127.0.0.1:%d {
	gatehouse {
		rule /public/* public
		security_headers override {
			referrer_policy off
		}
	}
	reverse_proxy %s
}
`, filepath.Join(dir, "caddy"), filepath.Join(dir, "gh.db"), port, upstream, plainPort, upstream)
	g := &gateway{t: t, url: fmt.Sprintf("https://127.0.0.1:%d", port), config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	only := func(where string, h http.Header, name, want string) {
		t.Helper()
		if got := h.Values(name); (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("%s: %s = %q, want %q", where, name, got, want)
		}
	}

	// An app that sets nothing gets every header, HSTS because this is HTTPS.
	st, body, r := get(t, c, g.url+"/public/page")
	if st != 200 || body != "<p>app</p>" {
		t.Fatalf("public page: %d %q", st, body)
	}
	only("HTTPS page", r.Header, "Strict-Transport-Security", "max-age=31536000")
	only("HTTPS page", r.Header, "Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
	only("HTTPS page", r.Header, "X-Frame-Options", "SAMEORIGIN")
	only("HTTPS page", r.Header, "Referrer-Policy", "strict-origin-when-cross-origin")
	only("HTTPS page", r.Header, "X-Content-Type-Options", "nosniff")

	// The app's own frame options and CSP win; the rest is still added.
	_, _, r = get(t, c, g.url+"/public/framed")
	only("HTTPS framed", r.Header, "X-Frame-Options", "DENY")
	only("HTTPS framed", r.Header, "Content-Security-Policy", "default-src 'none'")
	only("HTTPS framed", r.Header, "X-Content-Type-Options", "nosniff")

	// The portal keeps its own strict policy, not the operator's app CSP.
	_, _, r = get(t, c, g.url+"/auth/login")
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || len(r.Header.Values("Content-Security-Policy")) != 1 {
		t.Errorf("portal CSP: %q", r.Header.Values("Content-Security-Policy"))
	}

	// Plain HTTP: no HSTS; override replaces the app's frame options; off sends none.
	plain := fmt.Sprintf("http://127.0.0.1:%d", plainPort)
	_, _, r = get(t, c, plain+"/public/framed")
	only("HTTP framed", r.Header, "Strict-Transport-Security", "")
	only("HTTP framed", r.Header, "X-Frame-Options", "SAMEORIGIN")
	only("HTTP framed", r.Header, "Referrer-Policy", "")
	only("HTTP framed", r.Header, "X-Content-Type-Options", "nosniff")
	only("HTTP framed", r.Header, "Content-Security-Policy", "default-src 'none'") // no operator CSP: the app's stays
}

// TestDefaultIdentityHeaders: a site that does not choose sends the default set (who,
// which workspace, the roles) and nothing else — no name, session, methods or
// assertion — while a client's copy of any identity header, sent or not, is removed.
func TestDefaultIdentityHeaders(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: "\n\t\trule /public/* public", defaultHeaders: true})
	addUser(t, g, "dora@example.com", "member", "quartz lantern meadow 7")
	c := browser(t)
	signInAs(t, c, g.url, "dora@example.com", "quartz lantern meadow 7")
	req, _ := http.NewRequest("GET", g.url+"/app", nil)
	for _, h := range []string{"X-Gatehouse-User-Name", "X-Gatehouse-Assertion", "X-Gatehouse-Session-Id", "X-Gatehouse-User-Email", "Remote-User"} {
		req.Header.Set(h, "forged")
	}
	if st, body, _ := do(t, c, req); st != http.StatusOK {
		t.Fatalf("GET /app: %d %s", st, body)
	}
	h := up.last(t)
	var got []string
	for k, v := range h {
		if strings.HasPrefix(k, "X-Gatehouse-") || strings.HasPrefix(k, "Remote-") {
			got = append(got, k)
			if v[0] == "forged" {
				t.Errorf("%s: the client's value reached the app", k)
			}
		}
	}
	want := []string{"X-Gatehouse-Roles", "X-Gatehouse-Tenant", "X-Gatehouse-User-Email", "X-Gatehouse-User-Id"}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Fatalf("the app got %q, want the default %q", got, want)
	}
	if h.Get("X-Gatehouse-User-Email") != "dora@example.com" || h.Get("X-Gatehouse-Roles") != "member" || h.Get("X-Gatehouse-Tenant") != "default" {
		t.Errorf("default headers: %v", h)
	}
}
