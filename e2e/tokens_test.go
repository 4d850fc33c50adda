package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
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

// plainClient is an HTTP client without a cookie jar that does not follow redirects:
// what it sends is exactly what the test puts in each request.
func plainClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// postToken POSTs body (nil: none) as JSON to the token endpoint url with c — its jar's
// cookies — and the extra cookies.
func postToken(t *testing.T, c *http.Client, url string, body any, extra ...*http.Cookie) (int, string, *http.Response) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest("POST", url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for _, ck := range extra {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return do(t, c, req)
}

// tokenOK decodes a 200 answer of the token endpoint and checks its fixed fields.
func tokenOK(t *testing.T, what string, st int, body string) tokenReply {
	t.Helper()
	if st != http.StatusOK {
		t.Fatalf("%s: %d %s", what, st, body)
	}
	r := decodeJSON[tokenReply](t, what, body)
	if r.TokenType != "Bearer" || r.ExpiresIn != 900 || strings.Count(r.AccessToken, ".") != 2 {
		t.Fatalf("%s: answer %s, want an access token, token_type Bearer, expires_in 900", what, body)
	}
	return r
}

// setCookie is the Set-Cookie of name in resp that a user agent keeps — the last one,
// as they are processed in order (nil when there is none).
func setCookie(resp *http.Response, name string) *http.Cookie {
	var last *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			last = ck
		}
	}
	return last
}

// jarCookie is the value of c's cookie name for url.
func jarCookie(t *testing.T, c *http.Client, url, name string) *http.Cookie {
	t.Helper()
	for _, ck := range c.Jar.Cookies(mustURL(t, url)) {
		if ck.Name == name {
			return ck
		}
	}
	t.Fatalf("no cookie %s for %s", name, url)
	return nil
}

// passage is what became of a request sent through the gateway.
type passage struct {
	status   int
	body     string
	resp     *http.Response
	upstream http.Header // what the upstream received; nil when the request did not reach it
}

// through sends req and reports whether (and with which headers) it reached up.
func through(t *testing.T, up *recorder, req *http.Request) passage {
	t.Helper()
	before := up.count()
	st, body, resp := do(t, plainClient(), req)
	p := passage{status: st, body: body, resp: resp}
	switch n := up.count() - before; {
	case n == 1:
		p.upstream = up.last(t)
	case n > 1:
		t.Fatalf("one request reached the upstream %d times", n)
	}
	if (st == http.StatusOK) != (p.upstream != nil) {
		t.Fatalf("request answered %d but reached the upstream: %v\n%s", st, p.upstream != nil, body)
	}
	return p
}

// withBearer sends GET url with only Authorization: Bearer tok (no cookie).
func withBearer(t *testing.T, up *recorder, url, tok string) passage {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return through(t, up, req)
}

// mustPassAs fails unless p reached the upstream as email.
func mustPassAs(t *testing.T, p passage, email, what string) http.Header {
	t.Helper()
	if p.upstream == nil {
		t.Fatalf("%s: refused (%d %s), want it to reach the upstream as %s", what, p.status, p.body, email)
	}
	if got := p.upstream.Get("X-Gatehouse-User-Email"); got != email {
		t.Fatalf("%s: reached the upstream as %q, want %s", what, got, email)
	}
	return p.upstream
}

// mustRefuseToken fails unless p is the RFC 6750 refusal of a presented token: 401 JSON
// invalid_token with a WWW-Authenticate: Bearer challenge naming the error, and the
// upstream never reached.
func mustRefuseToken(t *testing.T, p passage, what string) {
	t.Helper()
	if p.upstream != nil {
		t.Fatalf("%s: reached the upstream as %q, want it refused", what, p.upstream.Get("X-Gatehouse-User-Email"))
	}
	www := p.resp.Header.Get("WWW-Authenticate")
	if p.status != http.StatusUnauthorized || !strings.HasPrefix(www, "Bearer ") || !strings.Contains(www, `realm="gatehouse"`) ||
		!strings.Contains(www, `error="invalid_token"`) || !strings.HasPrefix(p.resp.Header.Get("Content-Type"), "application/json") ||
		apiErrorCode(t, p.body) != "invalid_token" {
		t.Fatalf("%s: %d, WWW-Authenticate %q, Content-Type %q, body %s; want 401 invalid_token with a Bearer challenge",
			what, p.status, www, p.resp.Header.Get("Content-Type"), p.body)
	}
}

// mustInvalidGrant fails unless a token-endpoint answer is 400 invalid_grant without a token.
func mustInvalidGrant(t *testing.T, st int, body, what string) {
	t.Helper()
	if st != http.StatusBadRequest || apiErrorCode(t, body) != "invalid_grant" || strings.Contains(body, "access_token") {
		t.Fatalf("%s: %d %s, want 400 invalid_grant and no token", what, st, body)
	}
}

// identityHeaders are the identity headers the upstream got (X-Gatehouse-* and
// Remote-*), without the assertion (compared on its own).
func identityHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if (strings.HasPrefix(k, "X-Gatehouse-") || strings.HasPrefix(k, "Remote-")) && k != "X-Gatehouse-Assertion" {
			out[k] = strings.Join(v, "|")
		}
	}
	return out
}

// jwtParts decodes a compact JWT's header and claims without verifying anything.
func jwtParts(t *testing.T, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWT segment %q: %v", s, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("JWT segment %s: %v", b, err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signES256 makes a compact ES256 JWT with key (not one of the gateway's).
func signES256(t *testing.T, key *ecdsa.PrivateKey, hdr, claims map[string]any) string {
	t.Helper()
	input := b64json(t, hdr) + "." + b64json(t, claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// signHS256 makes a compact HS256 JWT keyed with secret.
func signHS256(t *testing.T, secret []byte, hdr, claims map[string]any) string {
	t.Helper()
	input := b64json(t, hdr) + "." + b64json(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// jwk is a published key.
type jwk struct {
	Kty, Crv, X, Y, Kid, Use, Alg string
}

// fetchJWKS reads the gateway's published keys (the raw JSON too).
func fetchJWKS(t *testing.T, base string) ([]jwk, string, *http.Response) {
	t.Helper()
	st, body, resp := get(t, plainClient(), base+"/auth/.well-known/jwks.json")
	if st != http.StatusOK {
		t.Fatalf("JWKS: %d %s", st, body)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, body)
	}
	var keys []jwk
	for _, k := range set.Keys {
		if _, private := k["d"]; private {
			t.Fatalf("the JWKS publishes a private key:\n%s", body)
		}
		keys = append(keys, jwk{Kty: k["kty"], Crv: k["crv"], X: k["x"], Y: k["y"], Kid: k["kid"], Use: k["use"], Alg: k["alg"]})
	}
	return keys, body, resp
}

// publicKey is the ECDSA public key of a JWK.
func (k jwk) publicKey(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || k.Kty != "EC" || k.Crv != "P-256" {
		t.Fatalf("JWK %+v is not an EC P-256 key", k)
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
}

// verifyES256 checks tok's signature with pub (the test's own check, independent of
// the gateway's code).
func verifyES256(t *testing.T, pub *ecdsa.PublicKey, tok string) bool {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		return false
	}
	sum := sha256.Sum256([]byte(tok[:i]))
	return ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// freshToken signs in email in a new browser and turns the session into an access
// token (browser flow) on the portal at base+prefix.
func freshToken(t *testing.T, base, prefix, email, pw string) (string, *http.Client) {
	t.Helper()
	c := browser(t)
	st, body := apiCall(t, c, "POST", base+prefix+"/api/v1/login", map[string]string{"email": email, "password": pw})
	if st != http.StatusOK || !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("sign-in of %s at %s: %d %s", email, prefix, st, body)
	}
	st, body, _ = postToken(t, c, base+prefix+"/api/v1/token", nil)
	return tokenOK(t, "token for "+email, st, body).AccessToken, c
}

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

// startGatewayConfig starts the binary on a complete Caddyfile made by config from
// the port.
func startGatewayConfig(t *testing.T, config func(port int, dir string) string) (*gateway, int) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	g := &gateway{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(config(port, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)
	return g, port
}

func startTokenSites(t *testing.T) *tokenSites {
	t.Helper()
	s := &tokenSites{up: newRecorder(t), email: "ref@example.com", pw: "granite willow ocean nine", betaEmail: "bea@example.com",
		betaPW: "saffron meadow pylon two", apiAudience: "https://api.example.com"}
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "gh.db")
	upstream := strings.TrimPrefix(s.up.URL, "http://")
	s.gateway, s.port = startGatewayConfig(t, func(port int, dir string) string {
		return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %[1]s
	gatehouse {
		store %[2]s
		bcrypt_cost 4
		base_url http://127.0.0.1:%[3]d
	}
}

http://127.0.0.1:%[3]d, http://localhost:%[3]d {
	handle /beta/* {
		gatehouse {
			tenant_by_host
			portal /beta/auth
		}
		reverse_proxy %[4]s
	}
	handle /aud/* {
		gatehouse {
			portal /aud/auth
			token_audience %[5]s
		}
		reverse_proxy %[4]s
	}
	handle /fwd/* {
		gatehouse {
			portal /fwd/auth
			forward_authorization
		}
		reverse_proxy %[4]s
	}
	handle /noassert/* {
		gatehouse {
			portal /noassert/auth
			assertion off
		}
		reverse_proxy %[4]s
	}
	handle {
		gatehouse {
			rule /public/* public
			remote_headers
		}
		reverse_proxy %[4]s
	}
}
`, filepath.Join(dir, "caddy"), dsn, port, upstream, s.apiAudience)
	})
	// Tenant beta serves the same host (127.0.0.1) through the /beta/* handler only.
	out := cliOK(t, s.gateway, "created tenant beta", "tenant", "create", "--slug", "beta", "--name", "Beta", "--host", "127.0.0.1")
	if i := strings.Index(out, " id "); i > 0 {
		s.betaTenantID = strings.TrimSpace(out[i+4:])
	}
	addUser(t, s.gateway, s.email, "member", s.pw)
	if out, err := s.cli(s.betaPW+"\n", "user", "add", "--tenant", "beta", "--email", s.betaEmail, "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add in beta: %v\n%s", err, out)
	}
	s.defaultTok, s.cookieClient = freshToken(t, s.url, "/auth", s.email, s.pw)
	s.audTok, _ = freshToken(t, s.url, "/aud/auth", s.email, s.pw)
	return s
}

// TestBearerRefusals: every token that is not a valid access token for this site and
// tenant is refused with 401 invalid_token (RFC 6750) before the upstream, and each
// kind is checked next to a token that differs only in that respect and passes.
func TestBearerRefusals(t *testing.T) {
	s := startTokenSites(t)
	up := s.up
	app := s.url + "/app/data"
	h := mustPassAs(t, withBearer(t, up, app, s.defaultTok), s.email, "a valid token (control)")
	assertion := h.Get("X-Gatehouse-Assertion")
	validHdr, validClaims := jwtParts(t, s.defaultTok)
	keys, _, _ := fetchJWKS(t, s.url)
	if len(keys) != 1 || keys[0].Kid != validHdr["kid"] || !verifyES256(t, keys[0].publicKey(t), s.defaultTok) {
		t.Fatalf("JWKS %+v does not verify the access token (kid %v)", keys, validHdr["kid"])
	}

	t.Run("no token", func(t *testing.T) {
		req, _ := http.NewRequest("GET", app, nil)
		req.Header.Set("Accept", "application/json")
		p := through(t, up, req)
		if www := p.resp.Header.Get("WWW-Authenticate"); p.status != http.StatusUnauthorized || !strings.HasPrefix(www, `Bearer realm="gatehouse"`) ||
			strings.Contains(www, "error=") || apiErrorCode(t, p.body) != "unauthenticated" {
			t.Fatalf("no credentials: %d, WWW-Authenticate %q, %s; want 401 with a bare Bearer challenge", p.status, www, p.body)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, tok := range []string{"not-a-jwt", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.", strings.Repeat("x", 5000)} {
			mustRefuseToken(t, withBearer(t, up, app, tok), fmt.Sprintf("garbage %.20q", tok))
		}
	})
	t.Run("refused bearer with a valid cookie", func(t *testing.T) {
		// A bearer token, when sent, is the credential: a bad one is not rescued by the
		// cookie riding along.
		req, _ := http.NewRequest("GET", app, nil)
		req.Header.Set("Authorization", "Bearer not-a-jwt")
		req.AddCookie(jarCookie(t, s.cookieClient, s.url, "gatehouse"))
		mustRefuseToken(t, through(t, up, req), "a garbage bearer next to a valid session cookie")
	})
	t.Run("alg none", func(t *testing.T) {
		for _, alg := range []string{"none", "None", "NONE"} {
			hdr := map[string]any{"alg": alg, "typ": "at+jwt", "kid": validHdr["kid"]}
			tok := b64json(t, hdr) + "." + b64json(t, validClaims) + "."
			mustRefuseToken(t, withBearer(t, up, app, tok), "alg "+alg)
		}
		// The valid token's signature kept, the header swapped.
		parts := strings.Split(s.defaultTok, ".")
		tok := b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": validHdr["kid"]}) + "." + parts[1] + "." + parts[2]
		mustRefuseToken(t, withBearer(t, up, app, tok), "alg none with a real signature")
	})
	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		_, raw, _ := fetchJWKS(t, s.url)
		pub := keys[0].publicKey(t)
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		jwkJSON, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": keys[0].X, "y": keys[0].Y, "kid": keys[0].Kid})
		uncompressed := append([]byte{4}, append(pub.X.FillBytes(make([]byte, 32)), pub.Y.FillBytes(make([]byte, 32))...)...)
		for name, secret := range map[string][]byte{"PEM": pemKey, "DER": der, "JWK": jwkJSON, "JWKS": []byte(raw), "point": uncompressed, "x": []byte(keys[0].X)} {
			hdr := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": validHdr["kid"]}
			mustRefuseToken(t, withBearer(t, up, app, signHS256(t, secret, hdr, validClaims)), "HS256 keyed with the public key as "+name)
		}
	})
	t.Run("unknown kid", func(t *testing.T) {
		own, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for _, kid := range []any{"not-a-key-of-this-deployment", nil, ""} {
			hdr := map[string]any{"alg": "ES256", "typ": "at+jwt"}
			if kid != nil {
				hdr["kid"] = kid
			}
			mustRefuseToken(t, withBearer(t, up, app, signES256(t, own, hdr, validClaims)), fmt.Sprintf("kid %v", kid))
		}
	})
	t.Run("another key under a published kid", func(t *testing.T) {
		own, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		hdr := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": validHdr["kid"]}
		mustRefuseToken(t, withBearer(t, up, app, signES256(t, own, hdr, validClaims)), "signed by a key not ours, under our kid")
	})
	t.Run("claims changed under a real signature", func(t *testing.T) {
		parts := strings.Split(s.defaultTok, ".")
		changed := map[string]any{}
		for k, v := range validClaims {
			changed[k] = v
		}
		changed["roles"] = []string{"owner"}
		mustRefuseToken(t, withBearer(t, up, app, parts[0]+"."+b64json(t, changed)+"."+parts[2]), "roles changed to owner")
	})
	t.Run("wrong audience", func(t *testing.T) {
		if _, c := jwtParts(t, s.audTok); fmt.Sprint(c["aud"]) != fmt.Sprint([]any{s.apiAudience}) || c["iss"] != s.url {
			t.Fatalf("token from the /aud portal: aud %v iss %v, want aud %s iss %s", c["aud"], c["iss"], s.apiAudience, s.url)
		}
		// Same tenant, issuer and session: only the audience differs.
		mustPassAs(t, withBearer(t, up, s.url+"/aud/data", s.audTok), s.email, "the audience's own token at its site (control)")
		mustRefuseToken(t, withBearer(t, up, app, s.audTok), "a token for "+s.apiAudience+" at a site whose audience is its origin")
		mustRefuseToken(t, withBearer(t, up, s.url+"/aud/data", s.defaultTok), "a token for the origin at the site with token_audience")
	})
	t.Run("wrong issuer", func(t *testing.T) {
		// The same token at the same handler (fixed audience, same tenant), on another
		// host of the site: only the issuer differs.
		req, _ := http.NewRequest("GET", s.url+"/aud/data", nil)
		req.Host = fmt.Sprintf("localhost:%d", s.port)
		req.Header.Set("Authorization", "Bearer "+s.audTok)
		mustRefuseToken(t, through(t, up, req), "a token issued by http://127.0.0.1 presented at http://localhost")
	})
	t.Run("another tenant", func(t *testing.T) {
		betaTok, _ := freshToken(t, s.url, "/beta/auth", s.betaEmail, s.betaPW)
		_, c := jwtParts(t, betaTok)
		if c["iss"] != s.url || fmt.Sprint(c["aud"]) != fmt.Sprint([]any{s.url}) || c["tid"] == validClaims["tid"] || c["tenant"] != "beta" {
			t.Fatalf("beta's token: iss %v aud %v tid %v tenant %v; want the same origin as the default tenant's, another tid", c["iss"], c["aud"], c["tid"], c["tenant"])
		}
		if s.betaTenantID != "" && c["tid"] != s.betaTenantID {
			t.Errorf("beta's token names tenant %v, the CLI created %s", c["tid"], s.betaTenantID)
		}
		// Same origin and audience: only the tenant differs.
		bh := mustPassAs(t, withBearer(t, up, s.url+"/beta/data", betaTok), s.betaEmail, "beta's token at beta's site (control)")
		if bh.Get("X-Gatehouse-Tenant") != "beta" {
			t.Errorf("beta's token passed as tenant %q", bh.Get("X-Gatehouse-Tenant"))
		}
		mustRefuseToken(t, withBearer(t, up, app, betaTok), "beta's token at the default tenant's site")
		mustRefuseToken(t, withBearer(t, up, s.url+"/beta/data", s.defaultTok), "the default tenant's token at beta's site")
	})
	t.Run("assertion as a bearer token", func(t *testing.T) {
		if assertion == "" {
			t.Fatal("no assertion captured")
		}
		// The assertion is ES256 under a published key, for this origin and tenant,
		// naming a live session: only its type tells it from an access token.
		_, c := jwtParts(t, assertion)
		if c["iss"] != s.url || fmt.Sprint(c["aud"]) != fmt.Sprint([]any{s.url}) || c["sid"] != validClaims["sid"] ||
			!verifyES256(t, keys[0].publicKey(t), assertion) {
			t.Fatalf("assertion claims %v do not match the access token's %v, or its signature does not verify", c, validClaims)
		}
		mustRefuseToken(t, withBearer(t, up, app, assertion), "an X-Gatehouse-Assertion presented as a bearer token")
	})
	// Expired tokens: not here (15 minutes of real time); see the comment at the top.
	mustPassAs(t, withBearer(t, up, app, s.defaultTok), s.email, "the valid token after all the refusals")
}

// TestTokenSiteOptions: Authorization stops at the gateway unless the site sets
// forward_authorization; assertion off sends none (and a client's own is stripped
// everywhere); a client cannot smuggle an assertion to the upstream.
func TestTokenSiteOptions(t *testing.T) {
	s := startTokenSites(t)
	up := s.up
	h := mustPassAs(t, withBearer(t, up, s.url+"/app/x", s.defaultTok), s.email, "bearer at the main site")
	if h.Get("Authorization") != "" || h.Get("X-Gatehouse-Assertion") == "" {
		t.Fatalf("main site: Authorization %q (want none), assertion %q (want one)", h.Get("Authorization"), h.Get("X-Gatehouse-Assertion"))
	}
	h = mustPassAs(t, withBearer(t, up, s.url+"/fwd/x", s.defaultTok), s.email, "bearer at the forward_authorization site")
	if h.Get("Authorization") != "Bearer "+s.defaultTok {
		t.Fatalf("forward_authorization: the upstream got Authorization %q, want the bearer token", h.Get("Authorization"))
	}
	for _, path := range []string{"/noassert/x", "/app/x", "/public/x"} {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("X-Gatehouse-Assertion", "forged.by.client")
		req.Header.Set("x_gatehouse_assertion", "forged.by.client")
		if path != "/public/x" {
			req.Header.Set("Authorization", "Bearer "+s.defaultTok)
		}
		p := through(t, up, req)
		if p.upstream == nil {
			t.Fatalf("%s: %d %s", path, p.status, p.body)
		}
		got := p.upstream.Values("X-Gatehouse-Assertion")
		switch path {
		case "/noassert/x":
			if len(got) != 0 || p.upstream.Get("X-Gatehouse-User-Email") != s.email {
				t.Errorf("assertion off: the upstream got assertions %q (identity %q)", got, p.upstream.Get("X-Gatehouse-User-Email"))
			}
		case "/app/x":
			if len(got) != 1 || got[0] == "forged.by.client" || strings.Count(got[0], ".") != 2 {
				t.Errorf("a client's assertion next to a real one: the upstream got %q", got)
			}
		case "/public/x":
			if len(got) != 0 {
				t.Errorf("an anonymous client's assertion reached the upstream: %q", got)
			}
		}
		for k := range p.upstream {
			if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Gatehouse-Assertion") && k != "X-Gatehouse-Assertion" {
				t.Errorf("%s: the upstream got %s", path, k)
			}
		}
	}
}

// TestTokenInspectCLI: gatehouse token inspect prints the claims, that the signature is
// verified and the session live; once the session has ended it says so and exits
// non-zero, as it does for a token not signed by this deployment.
func TestTokenInspectCLI(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "inspect@example.com", "marble orchid tundra three"
	addUser(t, g, email, "member", pw)
	tok, c := freshToken(t, g.url, "/auth", email, pw)
	_, claims := jwtParts(t, tok)
	sid, _ := claims["sid"].(string)
	h := mustPassAs(t, withBearer(t, up, g.url+"/app/x", tok), email, "the token to inspect")

	out, err := g.cli("", "token", "inspect", tok)
	if err != nil || !strings.Contains(out, `"email": "`+email+`"`) || !strings.Contains(out, `"sid": "`+sid+`"`) ||
		!strings.Contains(out, `"sub": "`+h.Get("X-Gatehouse-User-Id")+`"`) || !strings.Contains(out, `"typ": "at+jwt"`) ||
		!strings.Contains(out, "signature: verified") || !hasFields(out, "session:", sid, "live") {
		t.Fatalf("token inspect of a live token: %v\n%s", err, out)
	}
	// Read from standard input, with the scheme pasted along.
	out, err = g.cli("Bearer "+tok+"\n", "token", "inspect", "-")
	if err != nil || !strings.Contains(out, "signature: verified") || !hasFields(out, "session:", sid, "live") {
		t.Fatalf("token inspect - : %v\n%s", err, out)
	}
	// The assertion is a token of this deployment too.
	if out, err := g.cli("", "token", "inspect", h.Get("X-Gatehouse-Assertion")); err != nil || !strings.Contains(out, "signature: verified") {
		t.Errorf("token inspect of the assertion: %v\n%s", err, out)
	}
	// A token signed by someone else.
	own, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hdr, _ := jwtParts(t, tok)
	forged := signES256(t, own, hdr, claims)
	if out, err := g.cli("", "token", "inspect", forged); err == nil || !strings.Contains(out, "signature: NOT verified") {
		t.Errorf("token inspect of a forged token: %v\n%s", err, out)
	}

	// After sign-out: the session is reported revoked, and the token refused.
	if st, body := apiCall(t, c, "POST", g.url+"/auth/api/v1/logout", nil); st != http.StatusNoContent {
		t.Fatalf("logout: %d %s", st, body)
	}
	mustRefuseToken(t, withBearer(t, up, g.url+"/app/x", tok), "the token after logout")
	out, err = g.cli("", "token", "inspect", tok)
	if !strings.Contains(out, "signature: verified") || !hasFields(out, "session:", sid, "revoked") {
		t.Fatalf("token inspect after logout does not report the session revoked:\n%s", out)
	}
	if err == nil {
		t.Errorf("token inspect of a token whose session was revoked exits 0, want non-zero (the gateway refuses it):\n%s", out)
	}
}

// TestSessionsShowAPIAccess: the session that holds a live refresh token is marked
// "API access" on the sessions page and in the API; the others are not; once its
// refresh token is revoked (which ends that session) the mark goes with it.
func TestSessionsShowAPIAccess(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "api@example.com", "violet canyon drum eleven"
	addUser(t, g, email, "member", pw)
	a, b := browserUA(t, uaFirefoxLinux), browserUA(t, uaSafariIOS)
	signInAs(t, a, g.url, email, pw)
	signInAs(t, b, g.url, email, pw)
	sidA := mustReach(t, a, g, up, email, "A")
	sidB := mustReach(t, b, g, up, email, "B")

	apiAccess := func(c *http.Client) map[string]bool {
		st, body := apiCall(t, c, "GET", g.url+"/auth/api/v1/sessions", nil)
		if st != http.StatusOK {
			t.Fatalf("GET sessions: %d %s", st, body)
		}
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, s := range list.Sessions {
			v, ok := s["api_access"].(bool)
			if !ok {
				t.Fatalf("session without a boolean api_access: %v", s)
			}
			out[s["id"].(string)] = v
		}
		return out
	}
	if m := apiAccess(a); len(m) != 2 || m[sidA] || m[sidB] {
		t.Fatalf("before any token: api_access %v, want false for both", m)
	}

	// B (the iPhone) gets a native token: B's session has API access, A's has not.
	st, body, _ := postToken(t, b, g.url+"/auth/api/v1/token", map[string]string{"client": "native"})
	rb := tokenOK(t, "B's token", st, body)
	for _, c := range []*http.Client{a, b} {
		if m := apiAccess(c); len(m) != 2 || m[sidA] || !m[sidB] {
			t.Fatalf("api_access %v, want only %s (B)", m, sidB)
		}
	}
	st, page, _ := get(t, a, g.url+"/auth/settings/sessions")
	if st != http.StatusOK || strings.Count(page, "API access") != 1 {
		t.Fatalf("sessions page: %d, \"API access\" %d times, want once:\n%s", st, strings.Count(page, "API access"), page)
	}
	for _, item := range strings.Split(page, "<li")[1:] {
		item, _, _ = strings.Cut(item, "</li>")
		switch {
		case strings.Contains(item, devSafariIOS) && !strings.Contains(item, "API access"):
			t.Errorf("B's entry lacks \"API access\":\n%s", item)
		case strings.Contains(item, devFirefoxLinux) && strings.Contains(item, "API access"):
			t.Errorf("A's entry is marked \"API access\":\n%s", item)
		}
	}
	// Rotating keeps the mark (the successor is live).
	st, body, _ = postToken(t, plainClient(), g.url+"/auth/api/v1/token", map[string]string{"client": "native", "refresh_token": rb.RefreshToken})
	rb2 := tokenOK(t, "B's refresh", st, body)
	if m := apiAccess(a); !m[sidB] || m[sidA] {
		t.Fatalf("after a rotation: api_access %v, want B's only", m)
	}
	// Revoking B's refresh token ends B's session: A's list no longer has it.
	if st, body, _ := postToken(t, plainClient(), g.url+"/auth/api/v1/token/revoke", map[string]string{"refresh_token": rb2.RefreshToken}); st != http.StatusOK {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if m := apiAccess(a); len(m) != 1 || m[sidA] {
		t.Fatalf("after revoking B's refresh token: %v, want A only, without API access", m)
	}
}

// TestTokenEndpointRateLimit: the token endpoint is limited by its own class
// (rate_limit token), not only by the portal's general API limit.
func TestTokenEndpointRateLimit(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: "rate_limit token 3/1m 0"})
	var codes []int
	for range 5 {
		st, _, _ := postToken(t, plainClient(), g.url+"/auth/api/v1/token", map[string]string{"client": "native", "refresh_token": "guess"})
		codes = append(codes, st)
	}
	if fmt.Sprint(codes) != "[400 400 400 429 429]" {
		t.Fatalf("5 refresh guesses with rate_limit token 3/1m: %v, want [400 400 400 429 429]", codes)
	}
	// The general API class is not what is spent: other API calls go on.
	if st, _ := apiCall(t, browser(t), "GET", g.url+"/auth/api/v1/me", nil); st != http.StatusUnauthorized {
		t.Errorf("another API call after the token limit: %d, want 401 (not limited)", st)
	}
}
