package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

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
