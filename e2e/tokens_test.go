package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
)

// Access tokens and refresh tokens, end to end: the token endpoint, bearer tokens on
// protected routes, X-Gatehouse-Assertion, refusals, the CLI and the sessions page.
// Expiry of an access token is not driven here: it takes 15 minutes of real time (the
// binary has no fake clock), and the verifier's handling of exp/nbf with its leeway is
// unit-tested in internal/token.

// tokenReply is the token endpoint's answer.
type tokenReply struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// refreshCookieName is the browser's refresh-token cookie on plain-HTTP development.
const refreshCookieName = "gatehouse_refresh"

// TestSPAFlow: a single-page app's whole life with tokens. The cookie session becomes
// an access token and a refresh token in an HttpOnly cookie only the token endpoint
// gets; the access token alone (no cookie) passes protected routes with the very
// identity the cookie gives, with an assertion, and without the Authorization header
// reaching the upstream; the refresh cookie alone rotates; signing out makes the
// access token fail on its next request and the refresh token invalid.
func TestSPAFlow(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "spa@example.com", "single page apple orchard"
	addUser(t, g, email, "member", pw)
	b := browser(t)
	signInAs(t, b, g.url, email, pw)
	sid := mustReach(t, b, g, up, email, "the browser's session")
	byCookie := up.last(t)

	// The session becomes an access token; the refresh token is in a cookie that
	// scripts cannot read, sent only to the token endpoint, never cross-site.
	st, body, resp := postToken(t, b, g.url+"/auth/api/v1/token", nil)
	first := tokenOK(t, "token for the session", st, body)
	if keys := decodeJSON[map[string]any](t, "token answer", body); len(keys) != 3 {
		t.Errorf("browser token answer %s: want exactly access_token, token_type, expires_in (the refresh token only in the cookie)", body)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token answer Cache-Control %q, want no-store", cc)
	}
	rc := setCookie(resp, refreshCookieName)
	if rc == nil || rc.Value == "" || !rc.HttpOnly || rc.Path != "/auth/api/v1/token" || rc.SameSite != http.SameSiteStrictMode || rc.Domain != "" {
		t.Fatalf("refresh cookie %+v (Set-Cookie %q): want HttpOnly, Path=/auth/api/v1/token, SameSite=Strict, host-only",
			rc, resp.Header.Values("Set-Cookie"))
	}
	if strings.Contains(body, rc.Value) {
		t.Fatal("the refresh token is in the browser's answer body, readable by scripts")
	}
	hdr, claims := jwtParts(t, first.AccessToken)
	if hdr["alg"] != "ES256" || hdr["typ"] != "at+jwt" || hdr["kid"] == nil || claims["sid"] != sid || claims["email"] != email ||
		claims["iss"] != g.url || fmt.Sprint(claims["aud"]) != fmt.Sprint([]any{g.url}) {
		t.Fatalf("access token header %v claims %v: want ES256 at+jwt with a kid, sid %s, iss and aud %s", hdr, claims, sid, g.url)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 || claims["jti"] == nil || claims["nbf"] == nil {
		t.Errorf("access token times: exp-iat %v, jti %v, nbf %v", exp-iat, claims["jti"], claims["nbf"])
	}

	// The bearer token alone: the same identity as the cookie, an assertion, and no
	// Authorization header at the upstream.
	h := mustPassAs(t, withBearer(t, up, g.url+"/app/check", first.AccessToken), email, "the access token alone")
	if got, want := identityHeaders(h), identityHeaders(byCookie); !maps.Equal(got, want) || len(want) < 6 {
		t.Fatalf("identity headers with the bearer token\n%v\nwith the cookie\n%v", got, want)
	}
	if h.Get("Authorization") != "" {
		t.Fatalf("the upstream got the Authorization header %q", h.Get("Authorization"))
	}
	assertion := h.Get("X-Gatehouse-Assertion")
	if assertion == "" || byCookie.Get("X-Gatehouse-Assertion") == "" {
		t.Fatalf("no X-Gatehouse-Assertion at the upstream (bearer %q, cookie %q)", assertion, byCookie.Get("X-Gatehouse-Assertion"))
	}
	// Minted at most once per session per interval: the same session's next request
	// carries the same assertion.
	if again := mustPassAs(t, withBearer(t, up, g.url+"/app/again", first.AccessToken), email, "the access token again"); again.Get("X-Gatehouse-Assertion") != assertion {
		t.Errorf("a second request of the session got another assertion: minted per request")
	}
	ahdr, aclaims := jwtParts(t, assertion)
	if ahdr["alg"] != "ES256" || ahdr["typ"] == "at+jwt" || aclaims["aud"] == nil || fmt.Sprint(aclaims["aud"]) != fmt.Sprint([]any{g.url}) ||
		aclaims["sid"] != sid || aclaims["sub"] != h.Get("X-Gatehouse-User-Id") || aclaims["tid"] != h.Get("X-Gatehouse-Tenant-Id") {
		t.Errorf("assertion header %v claims %v: want ES256, not an access token, aud %s, the session's facts", ahdr, aclaims, g.url)
	}

	// Refresh with the refresh cookie only (no session cookie): a new access token and
	// a rotated refresh cookie.
	st, body, resp = postToken(t, plainClient(), g.url+"/auth/api/v1/token", nil, rc)
	second := tokenOK(t, "refresh with the cookie", st, body)
	rc2 := setCookie(resp, refreshCookieName)
	if rc2 == nil || rc2.Value == "" || rc2.Value == rc.Value || !rc2.HttpOnly || rc2.Path != "/auth/api/v1/token" || rc2.SameSite != http.SameSiteStrictMode {
		t.Fatalf("refresh cookie after rotation %+v (was %q): want a new HttpOnly, path-scoped, SameSite=Strict one", rc2, rc.Value)
	}
	if second.AccessToken == first.AccessToken {
		t.Fatal("refreshing gave the same access token")
	}
	if _, c2 := jwtParts(t, second.AccessToken); c2["sid"] != sid {
		t.Fatalf("the refreshed access token names session %v, want %s", c2["sid"], sid)
	}
	mustPassAs(t, withBearer(t, up, g.url+"/app/after-refresh", second.AccessToken), email, "the refreshed access token")

	// Signing out ends it all: both access tokens are refused on their next request,
	// and the refresh token (live, unspent) is refused too. The sign-out answer clears
	// the refresh cookie (at its path) along with the session cookie.
	req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/logout", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(jarCookie(t, b, g.url, "gatehouse"))
	st, body, resp = do(t, plainClient(), req)
	if st != http.StatusNoContent {
		t.Fatalf("logout: %d %s", st, body)
	}
	if ck := setCookie(resp, refreshCookieName); ck == nil || ck.MaxAge >= 0 || ck.Path != "/auth/api/v1/token" {
		t.Errorf("sign-out does not clear the refresh cookie at its path: Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	mustRefuseToken(t, withBearer(t, up, g.url+"/app/after-logout", second.AccessToken), "the refreshed access token after logout")
	mustRefuseToken(t, withBearer(t, up, g.url+"/app/after-logout", first.AccessToken), "the first access token after logout")
	// The refresh cookie alone: no token (there is no session to fall back to either),
	// and the dead cookie is cleared.
	st, body, resp = postToken(t, plainClient(), g.url+"/auth/api/v1/token", nil, rc2)
	if st < 400 || st >= 500 || strings.Contains(body, "access_token") {
		t.Fatalf("the refresh cookie after logout: %d %s, want a refusal without a token", st, body)
	}
	if ck := setCookie(resp, refreshCookieName); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("a refused refresh cookie is not cleared: Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	// The same refresh token presented as such: invalid_grant (RFC 6749).
	st, body, _ = postToken(t, plainClient(), g.url+"/auth/api/v1/token", map[string]string{"refresh_token": rc2.Value})
	mustInvalidGrant(t, st, body, "the refresh token after logout")

	// Signed in again, the browser still holds the dead refresh cookie: its new session
	// starts a new token family rather than failing on the stale cookie.
	signInAs(t, b, g.url, email, pw)
	st, body, resp = postToken(t, plainClient(), g.url+"/auth/api/v1/token", nil, rc2, jarCookie(t, b, g.url, "gatehouse"))
	fresh := tokenOK(t, "a new session with a stale refresh cookie", st, body)
	if ck := setCookie(resp, refreshCookieName); ck == nil || ck.Value == "" || ck.Value == rc2.Value {
		t.Errorf("new family: refresh cookie %+v, want a new one (Set-Cookie %q)", ck, resp.Header.Values("Set-Cookie"))
	}
	if _, c := jwtParts(t, fresh.AccessToken); c["sid"] == sid {
		t.Errorf("the new token names the ended session %s", sid)
	}
	mustPassAs(t, withBearer(t, up, g.url+"/app/again", fresh.AccessToken), email, "the new session's token")
}

// TestNativeClientRefresh: a native client gets its refresh token in the body and
// rotates it; two parallel refreshes with the same token within the grace window both
// succeed with the same successor; a spent token presented after the grace window
// (refresh_grace 1s here) is theft: refused, and the session it belongs to is revoked —
// its cookie, its access tokens and its live refresh token — while the user's other
// session goes on. Revoking a refresh token (a native client signing out) ends its
// session too.
func TestNativeClientRefresh(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: "refresh_grace 1s"})
	const email, pw = "native@example.com", "copper kettle winter seven"
	addUser(t, g, email, "member", pw)
	tokenURL := g.url + "/auth/api/v1/token"
	c := browser(t)
	signInAs(t, c, g.url, email, pw)
	sid := mustReach(t, c, g, up, email, "the native client's session")
	other := browser(t)
	signInAs(t, other, g.url, email, pw)
	otherSID := mustReach(t, other, g, up, email, "the user's other session")

	st, body, resp := postToken(t, c, tokenURL, map[string]string{"client": "native"})
	r1 := tokenOK(t, "native token", st, body)
	if r1.RefreshToken == "" || r1.RefreshExpiresIn <= 0 {
		t.Fatalf("native answer %s: want refresh_token and refresh_expires_in", body)
	}
	if ck := setCookie(resp, refreshCookieName); ck != nil {
		t.Errorf("a native client got a refresh cookie %+v", ck)
	}

	refresh := func(tok string) (int, string) {
		st, body, _ := postToken(t, plainClient(), tokenURL, map[string]string{"client": "native", "refresh_token": tok})
		return st, body
	}
	st, body = refresh(r1.RefreshToken)
	r2 := tokenOK(t, "native refresh", st, body)
	if r2.RefreshToken == "" || r2.RefreshToken == r1.RefreshToken {
		t.Fatalf("refresh did not rotate: %q then %q", r1.RefreshToken, r2.RefreshToken)
	}
	mustPassAs(t, withBearer(t, up, g.url+"/app/native", r2.AccessToken), email, "the refreshed native access token")

	// Two parallel refreshes with the same token: both succeed, with one successor.
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]tokenReply, 2)
	fails := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			b, _ := json.Marshal(map[string]string{"client": "native", "refresh_token": r2.RefreshToken})
			req, _ := http.NewRequest("POST", tokenURL, strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := plainClient().Do(req)
			if err != nil {
				fails[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			rb, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || json.Unmarshal(rb, &results[i]) != nil {
				fails[i] = fmt.Sprintf("%d %s", resp.StatusCode, rb)
			}
		}()
	}
	close(start)
	wg.Wait()
	if fails[0] != "" || fails[1] != "" {
		t.Fatalf("parallel refreshes within the grace window: %q / %q, want both to succeed", fails[0], fails[1])
	}
	if results[0].RefreshToken == "" || results[0].RefreshToken != results[1].RefreshToken || results[0].RefreshToken == r2.RefreshToken {
		t.Fatalf("parallel refreshes got successors %q and %q, want one and the same new one", results[0].RefreshToken, results[1].RefreshToken)
	}
	r3 := results[0]
	for i, r := range results {
		mustPassAs(t, withBearer(t, up, g.url+"/app/parallel", r.AccessToken), email, fmt.Sprintf("access token of parallel refresh %d", i))
	}
	st, body = refresh(r3.RefreshToken)
	r4 := tokenOK(t, "refreshing the shared successor", st, body)

	// After the grace window (1 s) the spent token comes back: theft.
	time.Sleep(1500 * time.Millisecond)
	st, body = refresh(r2.RefreshToken)
	mustInvalidGrant(t, st, body, "a spent refresh token after the grace window")
	mustBeRefused(t, c, g, up, email, "the cookie of the session whose refresh token was replayed")
	mustRefuseToken(t, withBearer(t, up, g.url+"/app/stolen", r4.AccessToken), "an access token of the revoked session")
	st, body = refresh(r4.RefreshToken)
	mustInvalidGrant(t, st, body, "the family's live refresh token after theft detection")
	// Only that session: the user's other one is untouched and no longer lists it.
	mustReach(t, other, g, up, email, "the user's other session after theft detection")
	if ids := sessionIDs(listSessions(t, other, g.url)); !slices.Equal(ids, []string{otherSID}) || slices.Contains(ids, sid) {
		t.Fatalf("after theft detection the user's sessions are %v, want only %s", ids, otherSID)
	}

	// A native client signing out: revoking its refresh token ends its session.
	n := browser(t)
	signInAs(t, n, g.url, email, pw)
	st, body, _ = postToken(t, n, tokenURL, map[string]string{"client": "native"})
	rn := tokenOK(t, "native token to revoke", st, body)
	mustPassAs(t, withBearer(t, up, g.url+"/app/n", rn.AccessToken), email, "the token before revoking")
	if st, body, _ := postToken(t, plainClient(), tokenURL+"/revoke", map[string]string{"refresh_token": rn.RefreshToken}); st != http.StatusOK {
		t.Fatalf("revoke: %d %s", st, body)
	}
	mustRefuseToken(t, withBearer(t, up, g.url+"/app/n", rn.AccessToken), "an access token after its refresh token was revoked")
	mustBeRefused(t, n, g, up, email, "the session whose refresh token was revoked")
	st, body = refresh(rn.RefreshToken)
	mustInvalidGrant(t, st, body, "a revoked refresh token")
	// An unknown token gets the same answer as a real one.
	if st, body, _ := postToken(t, plainClient(), tokenURL+"/revoke", map[string]string{"refresh_token": "made-up"}); st != http.StatusOK {
		t.Errorf("revoking an unknown token: %d %s", st, body)
	}
}

// TestTokenNeedsSecondFactor: a user with an authenticator app who has given only the
// password (a pending session) gets no token — 401 second_factor_required — in either
// flow; after the code the same browser gets one whose methods say pwd,otp.
func TestTokenNeedsSecondFactor(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "mfa@example.com", "second factor required passphrase"
	addUser(t, g, email, "member", pw)
	e := browser(t)
	signInAs(t, e, g.url, email, pw)
	st, body := apiCall(t, e, "POST", g.url+"/auth/api/v1/totp/enroll", map[string]string{})
	secret := decodeJSON[map[string]string](t, "totp enroll", body)["secret"]
	if st != http.StatusOK || secret == "" {
		t.Fatalf("totp enroll: %d %s", st, body)
	}
	code, err := otptotp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, body := apiCall(t, e, "POST", g.url+"/auth/api/v1/totp/confirm", map[string]string{"code": code}); st != http.StatusOK || !strings.Contains(body, `"enrolled"`) {
		t.Fatalf("totp confirm: %d %s", st, body)
	}

	// The password step only.
	p := browser(t)
	st, body = apiCall(t, p, "POST", g.url+"/auth/api/v1/login", map[string]string{"email": email, "password": pw})
	if st != http.StatusOK || !strings.Contains(body, `"second_factor"`) {
		t.Fatalf("password step: %d %s", st, body)
	}
	for _, req := range []any{nil, map[string]string{"client": "native"}, map[string]string{"client": "browser"}} {
		st, body, resp := postToken(t, p, g.url+"/auth/api/v1/token", req)
		if st != http.StatusUnauthorized || apiErrorCode(t, body) != "second_factor_required" || strings.Contains(body, "access_token") ||
			strings.Contains(body, "refresh_token") || setCookie(resp, refreshCookieName) != nil {
			t.Fatalf("token request %v with a pending session: %d %s (Set-Cookie %q), want 401 second_factor_required and no token",
				req, st, body, resp.Header.Values("Set-Cookie"))
		}
	}
	// Without any session at all the answer says so differently.
	if st, body, _ := postToken(t, browser(t), g.url+"/auth/api/v1/token", nil); st != http.StatusUnauthorized || apiErrorCode(t, body) != "unauthenticated" {
		t.Errorf("token request without a session: %d %s", st, body)
	}

	// The code (the next step: the current one was spent confirming) completes it.
	code, _ = otptotp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if st, body := apiCall(t, p, "POST", g.url+"/auth/api/v1/login/totp", map[string]string{"code": code}); st != http.StatusOK || !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("second factor: %d %s", st, body)
	}
	st, body, _ = postToken(t, p, g.url+"/auth/api/v1/token", nil)
	tok := tokenOK(t, "token after the second factor", st, body)
	if _, c := jwtParts(t, tok.AccessToken); fmt.Sprint(c["amr"]) != "[pwd otp]" {
		t.Errorf("amr %v, want [pwd otp]", c["amr"])
	}
	if h := mustPassAs(t, withBearer(t, up, g.url+"/app/mfa", tok.AccessToken), email, "the token after 2FA"); h.Get("X-Gatehouse-Auth-Methods") != "pwd,otp" {
		t.Errorf("auth methods with the token: %q, want pwd,otp", h.Get("X-Gatehouse-Auth-Methods"))
	}
}

// tokenSites is a gateway whose one origin has several gatehouse handlers: the
// default tenant's main site (token audience = the origin), /aud/* of the same tenant
// with token_audience set, /beta/* of another tenant, /fwd/* forwarding Authorization,
// /noassert/* without assertions. Each has its own portal prefix where it mints
// tokens, so that tokens differing only in audience, issuer or tenant can be made.
type tokenSites struct {
	*gateway
	up                 *recorder
	port               int
	email, pw          string // default tenant member
	betaEmail, betaPW  string // member of tenant beta
	betaTenantID       string
	apiAudience        string // token_audience of /aud/*
	defaultTok, audTok string
	cookieClient       *http.Client // the default member's browser
}
