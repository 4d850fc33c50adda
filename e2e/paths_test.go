package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestPathTricksAreDenied tries the parser tricks that make a gateway and an upstream
// disagree about a path. Signed out, none of them may reach the upstream except as the
// exact public path; signed in, none may reach the denied /admin area.
func TestPathTricksAreDenied(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	if out, err := g.cli("passphrase for the path test\n", "user", "add", "--email", "pat@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}

	tricks := []struct {
		path string
		want int // status for a signed-out client
	}{
		{"/public/%2e%2e/private", http.StatusBadRequest},
		{"/public/%2E%2E/private", http.StatusBadRequest},
		{"/public/../private", http.StatusBadRequest},
		{"/public/..%2fprivate", http.StatusBadRequest},
		{"/public%2f..%2fprivate", http.StatusBadRequest},
		{"/public%2fx", http.StatusBadRequest},
		{"/public/%5c..%5cprivate", http.StatusBadRequest},
		{"/public/..;/private", http.StatusBadRequest},
		{"//public/x", http.StatusBadRequest},
		{"/public//../private", http.StatusBadRequest},
		{"/public/./x", http.StatusBadRequest},
		{"/public/%00", http.StatusBadRequest},
		{"/admin./x", http.StatusBadRequest},        // trailing dot
		{"/admin%20/x", http.StatusBadRequest},      // trailing space
		{"/%EF%BD%81dmin/x", http.StatusBadRequest}, // fullwidth a (NFKC)
		{"/private./x", http.StatusBadRequest},
		{"/PUBLIC/x", http.StatusFound},           // case change: not the public rule
		{"/Public/x", http.StatusFound},           // case change
		{"/private?x=/public/", http.StatusFound}, // the query is not the path
		{"/publicity", http.StatusFound},          // prefix match is by segment
	}
	for _, tc := range tricks {
		before := up.count()
		st := rawRequest(t, g.url, tc.path, nil)
		if st != tc.want {
			t.Errorf("signed out %s: status %d, want %d", tc.path, st, tc.want)
		}
		if up.count() != before {
			t.Errorf("signed out %s reached the upstream", tc.path)
		}
	}
	// Control: the public route itself works.
	if st := rawRequest(t, g.url, "/public/x", nil); st != http.StatusOK {
		t.Fatalf("/public/x: %d", st)
	}

	// Signed in, the deny rule holds against the same tricks and case changes.
	c := browser(t)
	if resp := signInForm(t, c, g.url, "pat@example.com", "passphrase for the path test", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	u, _ := url.Parse(g.url)
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse" {
			cookie = "Cookie: gatehouse=" + ck.Value
		}
	}
	for _, p := range []string{"/admin/users", "/ADMIN/users", "/Admin/users", "/x/..%2fadmin/users", "/%61dmin/users", "/admin%2fusers", "//admin/users"} {
		before := up.count()
		st := rawRequest(t, g.url, p, []string{cookie})
		if st != http.StatusForbidden && st != http.StatusBadRequest {
			t.Errorf("signed in %s: status %d, want 403 or 400", p, st)
		}
		if up.count() != before {
			t.Errorf("signed in %s reached the upstream", p)
		}
	}

	// An outside battery reached /admin past the deny rule, with full identity headers,
	// through segments that Windows/IIS and some frameworks trim (a trailing dot or
	// space) or normalise (NFKC: fullwidth "ａ"). Its exact cases come first, then
	// variants. Each must be refused as ambiguous (400) before any rule is consulted.
	for _, p := range []string{
		"/admin./x", "/admin%2e/x", "/admin%20/x", "/%EF%BD%81dmin/x",
		"/admin%2E/x", "/admin../x", "/admin%20%20/x", "/admin.%20/x", "/admin.;x/users",
		"/admin%20;x/users", "/admin./", "/admin%C2%A0/x", "/admin%E3%80%80/x",
		"/%EF%BC%A1DMIN/x", "/adm%E2%85%B0n/x", "/admin%EF%BC%8E/x", "/x/%E2%80%A5/admin/x",
	} {
		before := up.count()
		if st := rawRequest(t, g.url, p, []string{cookie}); st != http.StatusBadRequest {
			t.Errorf("signed in %s: status %d, want 400", p, st)
		}
		if up.count() != before {
			t.Errorf("signed in %s reached the upstream", p)
		}
	}
}

// TestRedirectTargetsStaySameSite checks that rd never sends a browser off-site.
func TestRedirectTargetsStaySameSite(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	if out, err := g.cli("passphrase for the redirect test\n", "user", "add", "--email", "rd@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	for _, rd := range []string{"//evil.example", "/\\evil.example", "https:/evil.example", "https://evil.example/",
		"\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", "//evil.example/%2f..", " //evil.example"} {
		c := browser(t)
		resp := signInForm(t, c, g.url, "rd@example.com", "passphrase for the redirect test", rd)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("rd=%q: %d Location %q, want 303 to /", rd, resp.StatusCode, loc)
		}
		// The login page must not echo a dangerous rd into its form either.
		_, body, _ := get(t, browser(t), g.url+"/auth/login?rd="+url.QueryEscape(rd))
		if strings.Contains(body, "evil.example") {
			t.Errorf("login page keeps rd=%q", rd)
		}
	}
	// A same-site path is kept.
	resp := signInForm(t, browser(t), g.url, "rd@example.com", "passphrase for the redirect test", "/deals/7?tab=notes")
	if loc := resp.Header.Get("Location"); loc != "/deals/7?tab=notes" {
		t.Fatalf("same-site rd lost: %q", loc)
	}
}
