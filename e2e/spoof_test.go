package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// identityNames are all headers Gatehouse sets (with remote_headers on).
var identityNames = []string{
	"X-Gatehouse-User-Id", "X-Gatehouse-User-Email", "X-Gatehouse-User-Name", "X-Gatehouse-Tenant-Id",
	"X-Gatehouse-Tenant", "X-Gatehouse-Roles", "X-Gatehouse-Teams", "X-Gatehouse-Session-Id",
	"X-Gatehouse-Auth-Methods", "X-Gatehouse-Permission", "X-Gatehouse-Scope", "X-Gatehouse-Assertion",
	"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups",
}

// spellings returns the ways a client may write a header name that some upstream
// would read as the same header.
func spellings(name string) []string {
	lower := strings.ToLower(name)
	return []string{
		name, lower, strings.ToUpper(name),
		strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(lower, "-", "_"),
		strings.ReplaceAll(strings.ToUpper(name), "-", "_"),
	}
}

// rawRequest writes an HTTP/1.1 request byte for byte (no client-side canonicalising)
// and returns the status code.
func rawRequest(t *testing.T, base, path string, headerLines []string) int {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, u.Host)
	for _, l := range headerLines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// forgedLines are header lines forging every identity header in every spelling, twice.
func forgedLines() []string {
	var lines []string
	for _, n := range identityNames {
		for _, s := range spellings(n) {
			lines = append(lines, s+": forged-admin", s+": forged-owner")
		}
	}
	return lines
}

// assertNoForgery fails if any header the upstream got carries a forged value.
func assertNoForgery(t *testing.T, h http.Header) {
	t.Helper()
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, "forged") {
				t.Errorf("forged header reached upstream: %s: %s", k, v)
			}
		}
	}
}

func TestForgedIdentityHeadersNeverReachUpstream(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	if out, err := g.cli("passphrase for the spoofing test\n", "user", "add", "--email", "eve@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}

	// Signed out, on a public route: nothing forged arrives, and no identity at all.
	if st := rawRequest(t, g.url, "/public/page", forgedLines()); st != http.StatusOK {
		t.Fatalf("public: %d", st)
	}
	h := up.last(t)
	assertNoForgery(t, h)
	for _, n := range identityNames {
		if h.Get(n) != "" {
			t.Errorf("signed-out request carries %s", n)
		}
	}

	// Signed in: exactly our values arrive, one each.
	c := browser(t)
	body, _ := json.Marshal(map[string]string{"email": "eve@example.com", "password": "passphrase for the spoofing test"})
	req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if st, b, _ := do(t, c, req); st != http.StatusOK || !strings.Contains(b, "signed_in") {
		t.Fatalf("API login: %d %s", st, b)
	}
	u, _ := url.Parse(g.url)
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse" {
			cookie = "Cookie: gatehouse=" + ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie after API login")
	}
	for _, path := range []string{"/public/page", "/private"} {
		lines := append(forgedLines(), cookie)
		if st := rawRequest(t, g.url, path, lines); st != http.StatusOK {
			t.Fatalf("signed-in %s: %d", path, st)
		}
		h = up.last(t)
		assertNoForgery(t, h)
		if got := h.Values("X-Gatehouse-User-Email"); len(got) != 1 || got[0] != "eve@example.com" {
			t.Errorf("%s: X-Gatehouse-User-Email = %q", path, got)
		}
		if got := h.Values("Remote-User"); len(got) != 1 || got[0] != "eve@example.com" {
			t.Errorf("%s: Remote-User = %q", path, got)
		}
	}

	// Connection: naming our headers must not make the proxy drop them.
	for _, conn := range []string{"X-Gatehouse-User-Id", "x-gatehouse-user-email, X-Gatehouse-Roles", "keep-alive, Remote-User"} {
		if st := rawRequest(t, g.url, "/private", []string{cookie, "Connection: " + conn}); st != http.StatusOK {
			t.Fatalf("Connection %q: %d", conn, st)
		}
		h = up.last(t)
		for _, n := range []string{"X-Gatehouse-User-Id", "X-Gatehouse-User-Email", "X-Gatehouse-Roles", "Remote-User"} {
			if h.Get(n) == "" {
				t.Errorf("Connection: %s removed %s", conn, n)
			}
		}
	}
}
