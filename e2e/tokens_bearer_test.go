package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
			identity_headers all
		}
		reverse_proxy %[4]s
	}
	handle /aud/* {
		gatehouse {
			portal /aud/auth
			token_audience %[5]s
			identity_headers all
		}
		reverse_proxy %[4]s
	}
	handle /fwd/* {
		gatehouse {
			portal /fwd/auth
			forward_authorization
			identity_headers all
		}
		reverse_proxy %[4]s
	}
	handle /noassert/* {
		gatehouse {
			portal /noassert/auth
			identity_headers all
			assertion off
		}
		reverse_proxy %[4]s
	}
	handle {
		gatehouse {
			rule /public/* public
			remote_headers
			identity_headers all
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
