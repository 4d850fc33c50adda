package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// refreshCookie returns the refresh cookie a response set ("" when none).
func refreshCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "gatehouse_refresh" {
			return c
		}
	}
	return nil
}

func postToken(t *testing.T, c *http.Client, base string, body any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/auth/api/v1/token", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// TestTokenEndpointNeedsAFullSession: the second factor cannot be skipped at the token
// endpoint — a password alone gets no token; the completed sign-in gets one, with the
// refresh token in an HTTP-only cookie that only the token endpoint receives.
func TestTokenEndpointNeedsAFullSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	f.addUser(t, "ann@example.com", pw)
	secret, _ := enrolTOTP(t, f, clk, "ann@example.com", pw)
	clk.Advance(time.Minute)

	if resp, out := postToken(t, noRedirect(t), f.srv.URL, map[string]string{}); resp.StatusCode != http.StatusUnauthorized || out["error"] != "unauthenticated" {
		t.Fatalf("no session: %d %v", resp.StatusCode, out)
	}
	c := noRedirect(t)
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "ann@example.com", "password": pw}); st != 200 || out["status"] != "second_factor" {
		t.Fatalf("password step: %d %v", st, out)
	}
	resp, out := postToken(t, c, f.srv.URL, map[string]string{})
	if resp.StatusCode != http.StatusUnauthorized || out["error"] != "second_factor_required" || out["access_token"] != nil || refreshCookie(resp) != nil {
		t.Fatalf("half signed in: %d %v", resp.StatusCode, out)
	}
	if resp, out := postToken(t, c, f.srv.URL, map[string]string{"client": "native"}); resp.StatusCode != http.StatusUnauthorized || out["refresh_token"] != nil {
		t.Fatalf("half signed in, native: %d %v", resp.StatusCode, out)
	}
	code, _ := otptotp.GenerateCode(secret, clk.Now())
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": code}); st != 200 {
		t.Fatalf("second factor: %d %v", st, out)
	}
	resp, out = postToken(t, c, f.srv.URL, map[string]string{})
	rc := refreshCookie(resp)
	if resp.StatusCode != 200 || out["token_type"] != "Bearer" || out["expires_in"] != 900.0 || out["access_token"] == "" || out["refresh_token"] != nil {
		t.Fatalf("signed in: %d %v", resp.StatusCode, out)
	}
	if rc == nil || !rc.HttpOnly || rc.Path != "/auth/api/v1/token" || rc.SameSite != http.SameSiteStrictMode || rc.Value == "" {
		t.Fatalf("refresh cookie %+v", rc)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	// The sessions page says this session has API access.
	if st, out := getJSON(t, c, f.srv.URL+"/auth/api/v1/sessions"); st != 200 || out["sessions"].([]any)[0].(map[string]any)["api_access"] != true {
		t.Fatalf("sessions after a token: %d %v", st, out)
	}
	if _, page := getPage(t, c, f.srv.URL+"/auth/settings/sessions"); !strings.Contains(page, "API access") {
		t.Fatal("the sessions page does not show API access")
	}
	// The access token names the session and its methods.
	in, err := f.keys.Inspect(out["access_token"].(string), clk.Now())
	if err != nil || !in.Verified || in.Problem != "" || in.Claims["amr"].([]any)[1] != "otp" {
		t.Fatalf("access token: %+v %v", in, err)
	}
}

// TestTokenEndpointRotatesTheCookie: the browser refreshes with its cookie alone; each
// refresh sets a new cookie; the old one, replayed past the grace window, is refused,
// clears the cookie and ends the session.
func TestTokenEndpointRotatesTheCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.addUser(t, "ann@example.com", pw)
	c := noRedirect(t)
	signInAs(t, f, c, "ann@example.com", pw)
	resp, _ := postToken(t, c, f.srv.URL, map[string]string{})
	first := refreshCookie(resp)
	if first == nil {
		t.Fatal("no refresh cookie")
	}
	// A client with only the refresh cookie (no session cookie) refreshes.
	only := noRedirect(t)
	u, _ := url.Parse(f.srv.URL + "/auth/api/v1/token")
	only.Jar.SetCookies(u, []*http.Cookie{{Name: first.Name, Value: first.Value, Path: first.Path}})
	resp, out := postToken(t, only, f.srv.URL, map[string]string{})
	second := refreshCookie(resp)
	if resp.StatusCode != 200 || out["access_token"] == nil || second == nil || second.Value == first.Value {
		t.Fatalf("refresh with the cookie: %d %v", resp.StatusCode, out)
	}
	clk.Advance(token.DefaultRefreshGrace + time.Second)
	replay := noRedirect(t)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: first.Name, Value: first.Value, Path: first.Path}})
	resp, out = postToken(t, replay, f.srv.URL, map[string]string{})
	if resp.StatusCode != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("the replayed cookie: %d %v", resp.StatusCode, out)
	}
	if rc := refreshCookie(resp); rc == nil || rc.MaxAge >= 0 {
		t.Fatalf("the refused cookie is not cleared: %+v", rc)
	}
	if st := getStatus(t, c, f.srv.URL+"/auth/api/v1/me"); st != http.StatusUnauthorized {
		t.Fatalf("the session after the theft: %d", st)
	}
}

// TestTokenEndpointForNativeClients: the refresh token comes in the answer, is sent
// back in the body, and the revoke call ends family and session.
func TestTokenEndpointForNativeClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "ann@example.com", pw)
	c := noRedirect(t)
	signInAs(t, f, c, "ann@example.com", pw)
	resp, out := postToken(t, c, f.srv.URL, map[string]string{"client": "native"})
	refresh, _ := out["refresh_token"].(string)
	if resp.StatusCode != 200 || refresh == "" || refreshCookie(resp) != nil || out["refresh_expires_in"].(float64) < 29*24*3600 {
		t.Fatalf("native: %d %v", resp.StatusCode, out)
	}
	bare := noRedirect(t) // no cookies at all
	resp, out = postToken(t, bare, f.srv.URL, map[string]string{"client": "native", "refresh_token": refresh})
	next, _ := out["refresh_token"].(string)
	if resp.StatusCode != 200 || next == "" || next == refresh {
		t.Fatalf("native refresh: %d %v", resp.StatusCode, out)
	}
	if resp, out := postToken(t, bare, f.srv.URL, map[string]string{"client": "robot"}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unknown client kind: %d %v", resp.StatusCode, out)
	}
	if st, out := postJSON(t, bare, f.srv.URL+"/auth/api/v1/token/revoke", map[string]string{"refresh_token": next}); st != 200 || out["status"] != "revoked" {
		t.Fatalf("revoke: %d %v", st, out)
	}
	if resp, _ := postToken(t, bare, f.srv.URL, map[string]string{"client": "native", "refresh_token": next}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a revoked token: %d", resp.StatusCode)
	}
	if st := getStatus(t, c, f.srv.URL+"/auth/api/v1/me"); st != http.StatusUnauthorized {
		t.Fatalf("the session after revoking its token: %d", st)
	}
	// The token endpoint refuses what browsers send cross-site and forms.
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/token", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site token request: %v %v", resp.StatusCode, err)
	}
	req, _ = http.NewRequest("POST", f.srv.URL+"/auth/api/v1/token", strings.NewReader("client=native"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("a form-encoded token request: %v %v", resp.StatusCode, err)
	}
}

// TestJWKSIsPublicAndCacheable: the key set holds the public keys, may be cached for a
// few minutes and fetched from other origins.
func TestJWKSIsPublicAndCacheable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	resp, err := http.Get(f.srv.URL + "/auth/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || resp.StatusCode != 200 || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %d %s %v", resp.StatusCode, body, err)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["kid"] == "" || k["d"] != "" {
		t.Fatalf("key %v", k)
	}
	if resp.Header.Get("Cache-Control") != "public, max-age=300" || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("headers %v", resp.Header)
	}
}

// TestStaleRefreshCookieAfterSigningInAgain: the browser signs out (the refresh cookie
// is cleared) or keeps an old one of an ended session; signing in again, the token
// endpoint starts a new family from the session instead of answering invalid_grant.
func TestStaleRefreshCookieAfterSigningInAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "ann@example.com", pw)
	c := noRedirect(t)
	signInAs(t, f, c, "ann@example.com", pw)
	resp, _ := postToken(t, c, f.srv.URL, map[string]string{})
	old := refreshCookie(resp)
	st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/logout", map[string]string{})
	u, _ := url.Parse(f.srv.URL + "/auth/api/v1/token")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == old.Name {
			t.Fatalf("logout left the refresh cookie: %v", ck)
		}
	}
	if st != http.StatusNoContent {
		t.Fatalf("logout: %d", st)
	}
	signInAs(t, f, c, "ann@example.com", pw)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: old.Name, Value: old.Value, Path: old.Path}}) // an old one kept somewhere
	resp, out := postToken(t, c, f.srv.URL, map[string]string{})
	if resp.StatusCode != 200 || out["access_token"] == nil || refreshCookie(resp) == nil || refreshCookie(resp).Value == old.Value {
		t.Fatalf("token after signing in again: %d %v", resp.StatusCode, out)
	}
}
