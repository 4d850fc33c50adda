package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// withBearerHost is withBearer with the Host header of another instance: two gateways
// behind one load balancer serve one origin, and a token names that origin.
func withBearerHost(t *testing.T, up *recorder, url, host, tok string) passage {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+tok)
	return through(t, up, req)
}

// bearerRefusedWithin polls until the gateway refuses tok, failing if that takes
// longer than limit (and if the token passes as anyone but email meanwhile).
func bearerRefusedWithin(t *testing.T, up *recorder, url, host, tok, email string, limit time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		p := withBearerHost(t, up, url, host, tok)
		if p.upstream == nil {
			mustRefuseToken(t, p, what)
			return time.Since(start)
		}
		mustPassAs(t, p, email, what+" (before the refusal)")
		if time.Since(start) > limit {
			t.Fatalf("%s: the token still passes %v later (limit %v)", what, time.Since(start).Round(time.Millisecond), limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTokensTwoInstancesPostgres: two gateways on one PostgreSQL schema serve one
// origin. They publish the same keys; a token minted on one passes the other with the
// same identity; refresh tokens rotate across them; a spent refresh token presented
// on the other after the grace window is theft there too — refused, and the family
// and the session end on both; signing out on one makes the access token fail on the
// other within session_cache_ttl.
func TestTokensTwoInstancesPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	up := newRecorder(t)
	const ttl = 2 * time.Second
	app := fmt.Sprintf("session_cache_ttl %s\n\t\trefresh_grace 1s\n\t\tmaster_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ttl)
	g1 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	g2 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	origin := strings.TrimPrefix(g1.url, "http://") // the Host both instances are reached by
	const email, pw = "pia@example.com", "lantern fjord cobalt eight"
	addUser(t, g1, email, "member", pw)

	// One key set, whichever instance answers.
	k1, _, _ := fetchJWKS(t, g1.url)
	k2, _, _ := fetchJWKS(t, g2.url)
	if len(k1) != 1 || !slices.Equal(k1, k2) {
		t.Fatalf("the instances publish different keys:\n%+v\n%+v", k1, k2)
	}

	c := browser(t)
	signInAs(t, c, g1.url, email, pw)
	sid := mustReach(t, c, g1, up, email, "the session on instance 1")
	st, body, _ := postToken(t, c, g1.url+"/auth/api/v1/token", map[string]string{"client": "native"})
	r1 := tokenOK(t, "native token on instance 1", st, body)
	h1 := mustPassAs(t, withBearerHost(t, up, g1.url+"/app/one", origin, r1.AccessToken), email, "instance 1's token on instance 1")
	h2 := mustPassAs(t, withBearerHost(t, up, g2.url+"/app/two", origin, r1.AccessToken), email, "instance 1's token on instance 2")
	if !maps.Equal(identityHeaders(h1), identityHeaders(h2)) || h2.Get("X-Gatehouse-Session-Id") != sid {
		t.Fatalf("the same token passes as\n%v on instance 1 and\n%v on instance 2", identityHeaders(h1), identityHeaders(h2))
	}

	refresh := func(g *gateway, tok string) (int, string) {
		req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/token", strings.NewReader(`{"client":"native","refresh_token":"`+tok+`"}`))
		req.Host = origin
		req.Header.Set("Content-Type", "application/json")
		st, body, _ := do(t, plainClient(), req)
		return st, body
	}
	// Rotation across the instances: 1 → 2.
	st, body = refresh(g1, r1.RefreshToken)
	r2 := tokenOK(t, "refresh on instance 1", st, body)
	st, body = refresh(g2, r2.RefreshToken)
	r3 := tokenOK(t, "refresh of instance 1's successor on instance 2", st, body)
	if r3.RefreshToken == r2.RefreshToken || r2.RefreshToken == r1.RefreshToken {
		t.Fatal("refresh tokens did not rotate")
	}
	mustPassAs(t, withBearerHost(t, up, g1.url+"/app/r3", origin, r3.AccessToken), email, "instance 2's token on instance 1")

	// r1 was spent on instance 1; after the grace window it comes back on instance 2.
	time.Sleep(1500 * time.Millisecond)
	st, body = refresh(g2, r1.RefreshToken)
	mustInvalidGrant(t, st, body, "instance 1's spent refresh token on instance 2")
	for i, g := range []*gateway{g1, g2} {
		st, body := refresh(g, r3.RefreshToken)
		mustInvalidGrant(t, st, body, fmt.Sprintf("the family's live refresh token on instance %d after theft detection", i+1))
	}
	mustBeRefused(t, c, g2, up, email, "the session's cookie on instance 2, which detected the theft")
	mustRefuseToken(t, withBearerHost(t, up, g2.url+"/app/x", origin, r3.AccessToken), "the session's access token on instance 2")
	took := refusedWithin(t, c, g1, up, email, ttl+3*time.Second, "the session's cookie on instance 1")
	bearerRefusedWithin(t, up, g1.url+"/app/x", origin, r3.AccessToken, email, ttl+3*time.Second, "the session's access token on instance 1")
	t.Logf("instance 1 refused the session %v after instance 2 revoked it (session_cache_ttl %v)", took.Round(time.Millisecond), ttl)

	// Sign-out on instance 1: the access token, in use (cached) on instance 2, stops
	// working there within session_cache_ttl.
	d := browser(t)
	signInAs(t, d, g1.url, email, pw)
	st, body, _ = postToken(t, d, g1.url+"/auth/api/v1/token", nil)
	tok := tokenOK(t, "browser token on instance 1", st, body).AccessToken
	mustPassAs(t, withBearerHost(t, up, g2.url+"/app/d", origin, tok), email, "the token on instance 2")
	mustPassAs(t, withBearerHost(t, up, g2.url+"/app/d", origin, tok), email, "the token on instance 2, cached")
	if st, body := apiCall(t, d, "POST", g1.url+"/auth/api/v1/logout", nil); st != http.StatusNoContent {
		t.Fatalf("logout on instance 1: %d %s", st, body)
	}
	mustRefuseToken(t, withBearerHost(t, up, g1.url+"/app/d", origin, tok), "the token on instance 1 after signing out there")
	took = bearerRefusedWithin(t, up, g2.url+"/app/d", origin, tok, email, ttl+3*time.Second, "the token on instance 2 after signing out on instance 1")
	t.Logf("instance 2 refused the access token %v after the sign-out on instance 1 (session_cache_ttl %v)", took.Round(time.Millisecond), ttl)
}

// pyVerify is the independent verifier: Debian's PyJWT (python3-jwt) with
// python3-cryptography fetches the JWKS from the gateway (PyJWKClient) and decodes
// each token with ES256 only, the expected audience and issuer, and exp/iat/nbf
// required. It prints, per check, the claims and header or the error.
const pyVerify = `
import json, sys
import jwt
req = json.load(sys.stdin)
client = jwt.PyJWKClient(req["jwks_url"])
out = {}
for c in req["checks"]:
    try:
        key = client.get_signing_key_from_jwt(c["token"])
        claims = jwt.decode(c["token"], key.key, algorithms=["ES256"], audience=c["audience"], issuer=c["issuer"],
                            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]})
        out[c["name"]] = {"ok": True, "claims": claims, "header": jwt.get_unverified_header(c["token"]), "kid": key.key_id}
    except Exception as e:
        out[c["name"]] = {"ok": False, "error": type(e).__name__ + ": " + str(e)}
json.dump(out, sys.stdout)
`

// pyCheck is one token for pyVerify.
type pyCheck struct {
	Name     string `json:"name"`
	Token    string `json:"token"`
	Audience string `json:"audience"`
	Issuer   string `json:"issuer"`
}

// pyResult is pyVerify's answer for one check.
type pyResult struct {
	OK     bool           `json:"ok"`
	Error  string         `json:"error"`
	Claims map[string]any `json:"claims"`
	Header map[string]any `json:"header"`
	KID    string         `json:"kid"`
}

// python runs pyVerify under /usr/bin/python3 (Debian's, with its python3-jwt — not
// whichever python3 comes first on PATH) in a clean environment.
func python(t *testing.T, jwksURL string, checks ...pyCheck) map[string]pyResult {
	t.Helper()
	const py = "/usr/bin/python3"
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	probe := exec.Command(py, "-c", "import jwt, cryptography, jwt.algorithms; jwt.algorithms.ECAlgorithm")
	probe.Env = env
	if out, err := probe.CombinedOutput(); err != nil {
		testenv.Need(t, fmt.Sprintf("%s with python3-jwt and python3-cryptography (apt-get install python3-jwt python3-cryptography; scripts/deps.sh installs them in CI): %v %s", py, err, out))
	}
	in, _ := json.Marshal(map[string]any{"jwks_url": jwksURL, "checks": checks})
	cmd := exec.Command(py, "-c", pyVerify)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python verifier: %v\n%s", err, stderr.String())
	}
	res := map[string]pyResult{}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(checks) {
		t.Fatalf("python verifier answered %s (%v)", out, err)
	}
	return res
}

// TestTokensInteropPython: an independent JWT implementation verifies the gateway's
// access tokens and assertions against the JWKS it serves, and reads the claims the
// spec names; after `gatehouse keys rotate-signing` the running gateway publishes the
// new key (within its one-minute reload) while the old key stays published, so every
// token already out still verifies; tokens go on being signed with the old key until
// the new one's lead time has passed.
func TestTokensInteropPython(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "py@example.com", "thistle harbour quartz four"
	addUser(t, g, email, "member", pw)
	jwksURL := g.url + "/auth/.well-known/jwks.json"
	keys, _, resp := fetchJWKS(t, g.url)
	if len(keys) != 1 || keys[0].Alg != "ES256" || keys[0].Use != "sig" || keys[0].Kid == "" {
		t.Fatalf("JWKS %+v: want one ES256 signing key with a kid", keys)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
		t.Errorf("JWKS Cache-Control %q: want it cacheable", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("JWKS Content-Type %q", ct)
	}
	oldKID := keys[0].Kid

	access, _ := freshToken(t, g.url, "/auth", email, pw)
	h := mustPassAs(t, withBearer(t, up, g.url+"/app/py", access), email, "the access token")
	assertion := h.Get("X-Gatehouse-Assertion")
	if assertion == "" {
		t.Fatal("no assertion at the upstream")
	}
	parts := strings.Split(access, ".")
	_, changed := jwtParts(t, access)
	changed["roles"] = []string{"owner"}
	tampered := parts[0] + "." + b64json(t, changed) + "." + parts[2]
	checks := []pyCheck{
		{Name: "access", Token: access, Audience: g.url, Issuer: g.url},
		{Name: "assertion", Token: assertion, Audience: g.url, Issuer: g.url},
		// Controls: the verifier must be able to say no.
		{Name: "tampered", Token: tampered, Audience: g.url, Issuer: g.url},
		{Name: "other audience", Token: access, Audience: "https://elsewhere.example", Issuer: g.url},
		{Name: "other issuer", Token: assertion, Audience: g.url, Issuer: "https://elsewhere.example"},
	}
	res := python(t, jwksURL, checks...)
	for _, n := range []string{"tampered", "other audience", "other issuer"} {
		if res[n].OK {
			t.Fatalf("control %q: the python verifier accepted it — the check proves nothing", n)
		}
	}
	want := map[string]float64{"access": 900, "assertion": 300}
	for name, lifetime := range want {
		r := res[name]
		if !r.OK {
			t.Fatalf("python could not verify the %s: %s", name, r.Error)
		}
		c := r.Claims
		if r.KID != oldKID || r.Header["alg"] != "ES256" {
			t.Errorf("%s: header %v verified with kid %s, want ES256 under %s", name, r.Header, r.KID, oldKID)
		}
		if c["sub"] != h.Get("X-Gatehouse-User-Id") || c["sid"] != h.Get("X-Gatehouse-Session-Id") || c["tid"] != h.Get("X-Gatehouse-Tenant-Id") ||
			c["tenant"] != "default" || c["email"] != email || fmt.Sprint(c["roles"]) != "[member]" || fmt.Sprint(c["amr"]) != "[pwd]" {
			t.Errorf("%s claims %v do not match the identity headers %v", name, c, identityHeaders(h))
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != lifetime || c["nbf"].(float64) > iat || c["jti"] == nil {
			t.Errorf("%s: exp-iat %v (want %v), nbf %v iat %v, jti %v", name, exp-iat, lifetime, c["nbf"], iat, c["jti"])
		}
	}
	if res["access"].Header["typ"] != "at+jwt" || res["assertion"].Header["typ"] == "at+jwt" {
		t.Errorf("typ: access %v, assertion %v; want at+jwt for the access token only", res["access"].Header["typ"], res["assertion"].Header["typ"])
	}

	// Rotation by the CLI, against the running gateway.
	out := cliOK(t, g, "new signing key", "keys", "rotate-signing")
	m := regexp.MustCompile(`new signing key (\S+):`).FindStringSubmatch(out)
	if m == nil || m[1] == oldKID {
		t.Fatalf("rotate-signing output does not name a new key:\n%s", out)
	}
	newKID := m[1]
	list := cliOK(t, g, newKID, "keys", "list")
	if !regexp.MustCompile(regexp.QuoteMeta(oldKID)+`.*\bsigning\b.*\bpublished\b`).MatchString(list) ||
		!regexp.MustCompile(regexp.QuoteMeta(newKID)+`.*\bnext\b.*\bpublished\b`).MatchString(list) {
		t.Errorf("keys list after rotation: want %s signing and published, %s next and published:\n%s", oldKID, newKID, list)
	}
	// The gateway reloads its keys every minute.
	start := time.Now()
	var kids []string
	for {
		keys, _, _ := fetchJWKS(t, g.url)
		kids = kids[:0]
		for _, k := range keys {
			kids = append(kids, k.Kid)
		}
		if len(keys) == 2 {
			break
		}
		if time.Since(start) > 75*time.Second {
			t.Fatalf("the running gateway still publishes %v %v after the rotation, want the new key %s too", kids, time.Since(start).Round(time.Second), newKID)
		}
		time.Sleep(time.Second)
	}
	t.Logf("the gateway published the new key %v after the rotation", time.Since(start).Round(time.Second))
	if !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKID) {
		t.Fatalf("JWKS after rotation %v, want the old %s and the new %s", kids, oldKID, newKID)
	}
	// A token made now is still signed with the old key (the new one signs only after
	// its lead time), and everything already out still verifies.
	later, _ := freshToken(t, g.url, "/auth", email, pw)
	if hdr, _ := jwtParts(t, later); hdr["kid"] != oldKID {
		t.Errorf("a token made right after the rotation is signed with %v, want the old key %s until the new one's lead time has passed", hdr["kid"], oldKID)
	}
	res = python(t, jwksURL,
		pyCheck{Name: "access", Token: access, Audience: g.url, Issuer: g.url},
		pyCheck{Name: "assertion", Token: assertion, Audience: g.url, Issuer: g.url},
		pyCheck{Name: "later", Token: later, Audience: g.url, Issuer: g.url},
		pyCheck{Name: "tampered", Token: tampered, Audience: g.url, Issuer: g.url})
	for _, n := range []string{"access", "assertion", "later"} {
		if !res[n].OK {
			t.Errorf("after the rotation python cannot verify the %s token: %s", n, res[n].Error)
		}
	}
	if res["tampered"].OK {
		t.Error("after the rotation python accepts a tampered token")
	}
	mustPassAs(t, withBearer(t, up, g.url+"/app/py", access), email, "the pre-rotation token after the rotation")
}
