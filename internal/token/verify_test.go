package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// forge signs claims with any method and key, with the header fields given.
func forge(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifierRefusals: each way a bearer token can be wrong is refused, and the
// genuine token is accepted (so that the refusals are not the verifier refusing
// everything).
func TestVerifierRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e, g := f.issued(t, "ann@acme.test")
	if sid, err := f.verifier.Verify(g.AccessToken, site, f.ws.TenantID()); err != nil || sid != e.Session.ID {
		t.Fatalf("the genuine token: %q %v", sid, err)
	}
	now := f.clk.Now()
	good := claimsOf(&e.Facts, site.Origin(), site.Origin(), now, DefaultAccessTTL)
	kk := f.keys.signing(now)
	pubDER, _ := x509.MarshalPKIXPublicKey(kk.pub)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	withClaims := func(edit func(*Claims)) Claims { c := good; edit(&c); return c }
	ours := func(c Claims, typ string) string {
		return forge(t, jwt.SigningMethodES256, kk.priv, map[string]any{"kid": kk.kid, "typ": typ}, c)
	}
	other := testdb.Workspace(t, f.st, "other")
	assertion, err := (&Assertions{Keys: f.keys, Clock: f.clk}).For(&e.Facts, site)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, raw string
		site      Site
		tenant    string
	}{
		{"empty", "", site, f.ws.TenantID()},
		{"garbage", "not.a.jwt", site, f.ws.TenantID()},
		{"too long", strings.Repeat("a", 5000), site, f.ws.TenantID()},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": kk.kid, "typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"HS256 keyed with the public key", forge(t, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": kk.kid, "typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"HS256 keyed with the JWKS", forge(t, jwt.SigningMethodHS256, f.keys.JWKS(), map[string]any{"kid": kk.kid, "typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"unknown kid", forge(t, jwt.SigningMethodES256, stranger, map[string]any{"kid": "nope", "typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"another key under our kid", forge(t, jwt.SigningMethodES256, stranger, map[string]any{"kid": kk.kid, "typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"no kid", forge(t, jwt.SigningMethodES256, kk.priv, map[string]any{"typ": TypeAccess}, good), site, f.ws.TenantID()},
		{"tampered claims", tamper(g.AccessToken), site, f.ws.TenantID()},
		{"an assertion as a bearer token", assertion, site, f.ws.TenantID()},
		{"no type", forge(t, jwt.SigningMethodES256, kk.priv, map[string]any{"kid": kk.kid}, good), site, f.ws.TenantID()},
		{"wrong audience", ours(withClaims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"https://other.example.com"} }), TypeAccess), site, f.ws.TenantID()},
		{"audience the site does not name", g.AccessToken, Site{HTTPS: true, Host: site.Host, Audience: "api://deals"}, f.ws.TenantID()},
		{"wrong issuer", ours(withClaims(func(c *Claims) { c.Issuer = "https://evil.example.com" }), TypeAccess), site, f.ws.TenantID()},
		{"another site (host)", g.AccessToken, Site{HTTPS: true, Host: "other.example.com"}, f.ws.TenantID()},
		{"plain HTTP for an HTTPS token", g.AccessToken, Site{Host: site.Host}, f.ws.TenantID()},
		{"another tenant", g.AccessToken, site, other.TenantID()},
		{"expired beyond the leeway", ours(withClaims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-Leeway - time.Second)) }), TypeAccess), site, f.ws.TenantID()},
		{"no expiry", ours(withClaims(func(c *Claims) { c.ExpiresAt = nil }), TypeAccess), site, f.ws.TenantID()},
		{"not valid yet", ours(withClaims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(Leeway + time.Minute)) }), TypeAccess), site, f.ws.TenantID()},
		{"issued in the future", ours(withClaims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(Leeway + time.Minute)) }), TypeAccess), site, f.ws.TenantID()},
		{"no session", ours(withClaims(func(c *Claims) { c.SessionID = "" }), TypeAccess), site, f.ws.TenantID()},
	}
	for _, tc := range cases {
		if sid, err := f.verifier.Verify(tc.raw, tc.site, tc.tenant); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: accepted (sid %q, %v)", tc.name, sid, err)
		}
	}
	// Within the leeway an expired token still passes; it is refused once past it,
	// also when it sits in the cache.
	edge := ours(withClaims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-Leeway + time.Second)) }), TypeAccess)
	if _, err := f.verifier.Verify(edge, site, f.ws.TenantID()); err != nil {
		t.Errorf("expired within the leeway: %v", err)
	}
	f.clk.Advance(2 * time.Second)
	if _, err := f.verifier.Verify(edge, site, f.ws.TenantID()); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a cached token past its expiry and the leeway: %v", err)
	}
	f.clk.Advance(DefaultAccessTTL + Leeway)
	if _, err := f.verifier.Verify(g.AccessToken, site, f.ws.TenantID()); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("the genuine token after 15 minutes: %v", err)
	}
}

// tamper changes one claim of a token and keeps its signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	payload = []byte(strings.Replace(string(payload), `"roles":["member"]`, `"roles":["owner"]`, 1))
	parts[1] = b64(payload)
	return strings.Join(parts, ".")
}

// TestRevokedSessionEndsItsTokens: a token is only as good as its session — signing out
// (here: the session revoked) refuses it on the next request.
func TestRevokedSessionEndsItsTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	e, g := f.issued(t, "ann@acme.test")
	if got, err := f.sessionOf(g.AccessToken); err != nil || got.User.ID != e.User.ID || !got.Facts.Equal(&e.Facts) {
		t.Fatalf("before: %v", err)
	}
	if err := f.sessions.Revoke(ctx, f.ws, e.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessionOf(g.AccessToken); err == nil {
		t.Fatal("a revoked session's token still gets in")
	}
}

// TestFloodOfDistinctTokensKeepsMemoryFlat sends 200,000 distinct tokens — valid ones
// and forged ones — and shows the cache and the heap staying bounded.
func TestFloodOfDistinctTokensKeepsMemoryFlat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := f.signedIn(t, "ann@acme.test")
	const size = 1_000
	total, valid := 200_000, 20_000
	if testing.Short() {
		total, valid = 20_000, 3_000 // each token costs an ECDSA check: the full tier sends 200,000
	}
	v := &Verifier{Keys: f.keys, Size: size, Clock: f.clk}
	goodTok, err := f.svc.Issue(ctx, f.ws, Client{Site: site}, e)
	if err != nil {
		t.Fatal(err)
	}
	forgedBase := goodTok.AccessToken[:strings.LastIndexByte(goodTok.AccessToken, '.')]
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var base uint64
	for i := range total {
		var raw string
		if i < valid {
			c := claimsOf(&e.Facts, site.Origin(), site.Origin(), f.clk.Now(), DefaultAccessTTL)
			if raw, err = f.keys.sign(c, TypeAccess, f.clk.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(raw, site, f.ws.TenantID()); err != nil {
				t.Fatalf("valid token %d: %v", i, err)
			}
		} else {
			// Distinct forged tokens: our header and claims, a signature of random bytes.
			raw = forgedBase + "." + b64([]byte(strconv.Itoa(i)+strings.Repeat("x", 60)))
			if _, err := v.Verify(raw, site, f.ws.TenantID()); err == nil {
				t.Fatalf("forged token %d accepted", i)
			}
		}
		if i == valid/2 {
			base = heap()
		}
		if v.Len() > size {
			t.Fatalf("the cache holds %d tokens after %d, bound %d", v.Len(), i+1, size)
		}
	}
	grown := int64(heap()) - int64(base)
	t.Logf("heap grew %d KiB from token %d to %d; cache %d", grown/1024, valid/2, total, v.Len())
	if grown > 8<<20 {
		t.Fatalf("the heap grew %d MiB over a flood of distinct tokens", grown>>20)
	}
}
