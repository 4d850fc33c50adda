package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// TestUnknownUserAndWrongPasswordLookAlike: same answer, same work, same time, so
// sign-in cannot be used to find out who has an account.
//
// The work is counted exactly: each attempt, known or not, runs one bcrypt evaluation
// at the configured cost (the gate counts them). The time is compared in a way a
// loaded machine cannot fake: attempts alternate (known, unknown, known …), and the
// median of the paired differences must stay within a third of an attempt's median
// time. Skipping the hash for unknown users would make the difference the whole bcrypt
// time — about 100 % — while noise from other work spreads both sides alike.
func TestUnknownUserAndWrongPasswordLookAlike(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8)
	f.passwords.Gate = authn.NewGate(authn.GateConfig{Share: 1, Slots: 4})
	f.addUser(t, "known@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	const pairs = 21
	var known, diffs []time.Duration
	for i := range pairs {
		var took [2]time.Duration
		for j, email := range []string{"known@example.com", "nobody" + string(rune('a'+i)) + "@example.com"} {
			before := f.passwords.Gate.Evaluated()
			start := time.Now()
			st, msg := apiLogin(t, c, f.srv.URL, email, "wrong password attempt")
			took[j] = time.Since(start)
			if st != http.StatusUnauthorized || msg != "invalid_credentials" {
				t.Fatalf("%s: %d %s", email, st, msg)
			}
			if n := f.passwords.Gate.Evaluated() - before; n != 1 {
				t.Fatalf("%s: %d password hashes evaluated, want exactly 1", email, n)
			}
		}
		known, diffs = append(known, took[0]), append(diffs, took[0]-took[1])
	}
	slices.Sort(known)
	slices.Sort(diffs)
	mk, md := known[pairs/2], diffs[pairs/2]
	t.Logf("median wrong-password attempt %v; median paired difference (known - unknown) %v", mk, md)
	if md > mk/3 || -md > mk/3 {
		t.Fatalf("unknown e-mails answer %v faster than wrong passwords (median of pairs; an attempt takes %v)", md, mk)
	}
	// Both failures are audited with the internal reason, never shown to the client.
	recs, err := f.handle.Audit().ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range recs {
		if r.Action == audit.ActionLoginFailure {
			reasons[r.Details["reason"]]++
		}
	}
	if reasons[authn.ReasonWrongPassword] != 21 || reasons[authn.ReasonUnknownUser] != 21 {
		t.Fatalf("audited failure reasons: %v", reasons)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestFormLoginNeedsMatchingCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "csrf@example.com", "a perfectly fine passphrase")
	post := func(c *http.Client, token string, extra http.Header) *http.Response {
		form := url.Values{"email": {"csrf@example.com"}, "password": {"a perfectly fine passphrase"}, "csrf": {token}}
		req, _ := http.NewRequest("POST", f.srv.URL+"/auth/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range extra {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pageToken := func(c *http.Client) string {
		resp, err := c.Get(f.srv.URL + "/auth/login")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io_Copy(&b, resp)
		m := csrfRE.FindStringSubmatch(b.String())
		if m == nil {
			t.Fatal("no csrf token")
		}
		return m[1]
	}
	// No cookie, forged token: refused.
	if resp := post(noRedirect(t), "forged-token-forged-token-forged-token", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF cookie: %d", resp.StatusCode)
	}
	// Cookie from one browser, token of another: refused.
	a, b := noRedirect(t), noRedirect(t)
	_ = pageToken(a)
	if resp := post(a, pageToken(b), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("mismatched CSRF token: %d", resp.StatusCode)
	}
	// Right token but sent cross-site: refused.
	tok := pageToken(a)
	if resp := post(a, tok, http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d", resp.StatusCode)
	}
	if resp := post(a, tok, http.Header{"Sec-Fetch-Site": {"cross-site"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", resp.StatusCode)
	}
	// The real thing works.
	if resp := post(a, tok, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("valid form login: %d", resp.StatusCode)
	}
}

func TestJSONAPIRefusesFormsAndCrossSite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "api@example.com", "a perfectly fine passphrase")
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/login", strings.NewReader(`{"email":"api@example.com","password":"a perfectly fine passphrase"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || len(resp.Cookies()) != 0 {
			t.Errorf("Content-Type %q: %d, cookies %v", ct, resp.StatusCode, resp.Cookies())
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/login", strings.NewReader(`{"email":"api@example.com","password":"a perfectly fine passphrase"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin JSON login: %d", resp.StatusCode)
	}
}

func TestPortalSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	for _, path := range []string{"/auth/login", "/auth/logout", "/auth/setup?token=x", "/auth/api/v1/me", "/auth/nope"} {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

// TestSignInRotatesSession: a session token planted before sign-in (session fixation)
// is revoked by the sign-in, which issues a new one.
func TestSignInRotatesSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	u := f.addUser(t, "rot@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	if st, _ := apiLogin(t, c, f.srv.URL, "rot@example.com", "a perfectly fine passphrase"); st != 200 {
		t.Fatal(st)
	}
	srvURL, _ := url.Parse(f.srv.URL)
	first := c.Jar.Cookies(srvURL)[0].Value
	if st, _ := apiLogin(t, c, f.srv.URL, "rot@example.com", "a perfectly fine passphrase"); st != 200 {
		t.Fatal(st)
	}
	second := ""
	for _, ck := range c.Jar.Cookies(srvURL) {
		if ck.Name == session.CookieNamePlain {
			second = ck.Value
		}
	}
	if second == "" || second == first {
		t.Fatal("session token not rotated at sign-in")
	}
	if _, err := f.sessions.Validate(context.Background(), f.handle, "acme", first); err == nil {
		t.Fatal("the pre-sign-in session still works")
	}
	live, err := f.handle.Sessions().ListUserSessions(t.Context(), u.ID, time.Now())
	if err != nil || len(live) != 1 {
		t.Fatalf("live sessions after rotation: %d %v", len(live), err)
	}
	// The store holds only the SHA-256 of the token.
	if string(live[0].TokenHash) == second || len(live[0].TokenHash) != 32 {
		t.Fatal("token not stored as SHA-256")
	}
}

// TestLogoutFailsClosed: when the store cannot revoke, logout says so (503) instead of
// reporting success while the session stays valid.
func TestLogoutFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "out@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	if st, _ := apiLogin(t, c, f.srv.URL, "out@example.com", "a perfectly fine passphrase"); st != 200 {
		t.Fatal(st)
	}
	f.st.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/logout", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("logout with the store down: %d, want 503", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", f.srv.URL+"/auth/api/v1/me", nil)
	if resp, err = c.Do(req); err != nil || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusOK) {
		t.Fatalf("me with the store down: %v %d", err, resp.StatusCode)
	}
}

// TestSignInFloodAnswer: when the hashing budget is spent (a login flood), a sign-in
// is refused with 503 and Retry-After — JSON for the API, a styled page for the form —
// and nobody is signed in.
func TestSignInFloodAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	// A budget that refills a microsecond of hashing per second.
	f.passwords.Gate = authn.NewGate(authn.GateConfig{Share: 0.001, Burst: time.Millisecond, Procs: 1, Estimate: time.Hour})
	f.addUser(t, "flood@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	// A full bucket covers one hash, however dear: the flood's first wrong password spends it.
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "someone@example.com", "a wrong passphrase"); st != http.StatusUnauthorized {
		t.Fatalf("first attempt: %d", st)
	}
	body, _ := json.Marshal(map[string]string{"email": "flood@example.com", "password": "a perfectly fine passphrase"})
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || out["error"] != "unavailable" {
		t.Fatalf("API sign-in over budget: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	}
	st, h, page := send(t, c, "POST", f.srv.URL+"/auth/login", url.Values{"email": {"flood@example.com"},
		"password": {"a perfectly fine passphrase"}, "csrf": {csrfOf(t, c, f.srv.URL+"/auth/login")}}, nil)
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(string(page), "Too many sign-ins are being checked") ||
		!strings.Contains(string(page), `<link rel="stylesheet"`) {
		t.Fatalf("form sign-in over budget: %d Retry-After %q\n%s", st, h.Get("Retry-After"), page)
	}
	if n := len(f.audits(t, "auth.login.success")); n != 0 {
		t.Fatalf("%d sign-ins succeeded over budget", n)
	}
}
