package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// tokens is the token side of the fixture: the store's keys, the token service minting
// access tokens for sessions, and what the gateway verifies with.
type tokens struct {
	keys *token.KeyRing
	svc  *token.Service
}

func (f *fixture) tokens(t testing.TB) *tokens {
	t.Helper()
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	k := &token.KeyRing{Store: f.st.SigningKeys(), Leases: f.st.Maintenance(), Cipher: cipher, Holder: "t", Clock: clock.Real{}}
	if err := k.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &tokens{keys: k, svc: &token.Service{Keys: k, Sessions: f.sessions, Audit: audit.NewWriter(clock.Real{}),
		SuccessorKey: bytes.Repeat([]byte{3}, 32), Clock: clock.Real{}}}
}

// bearerGateway is the fixture's gateway with bearer tokens and assertions on.
func (f *fixture) bearerGateway(t testing.TB, tk *tokens, byHost bool) *Gateway {
	g := f.gateway(t, byHost)
	g.Bearer = &token.Verifier{Keys: tk.keys, Clock: clock.Real{}}
	g.Assertions = &token.Assertions{Keys: tk.keys, Clock: clock.Real{}}
	g.Send = identity.SendAll
	return g
}

// accessToken signs in a user of tenant slug and gets an access token for host.
func (f *fixture) accessToken(t testing.TB, tk *tokens, slug, host string) (string, string) {
	t.Helper()
	tn := f.tenants[slug]
	ws := store.Workspace{Tenant: tn, TenantHandle: f.st.Tenant(tn.ID)}
	cookie := f.login(t, slug)
	e, err := f.sessions.Validate(context.Background(), ws, slug, cookie)
	if err != nil {
		t.Fatal(err)
	}
	g, err := tk.svc.Issue(context.Background(), ws, token.Client{Site: token.Site{Host: host}}, e)
	if err != nil {
		t.Fatal(err)
	}
	return g.AccessToken, cookie
}

// TestBearerTokenActsLikeTheCookie: an access token on a protected route gets the same
// identity headers as the session's cookie, plus the signed assertion, and the
// Authorization header stops at the gateway unless the site forwards it.
func TestBearerTokenActsLikeTheCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tk := f.tokens(t)
	g := f.bearerGateway(t, tk, false)
	at, cookie := f.accessToken(t, tk, "a", "a.example.com")

	viaCookie := request("GET", "/app", "a.example.com", cookie)
	if d := decide(g, viaCookie, false, "192.0.2.1"); d.Outcome != Allow {
		t.Fatalf("cookie: %v", d.Outcome)
	}
	r := request("GET", "/app", "a.example.com", "", "Authorization", "Bearer "+at)
	d := decide(g, r, false, "192.0.2.1")
	if d.Outcome != Allow || d.Entry == nil {
		t.Fatalf("bearer: %v", d.Outcome)
	}
	for _, h := range []string{"X-Gatehouse-User-Id", "X-Gatehouse-User-Email", "X-Gatehouse-Tenant", "X-Gatehouse-Roles", "X-Gatehouse-Session-Id", "X-Gatehouse-Auth-Methods"} {
		if r.Header.Get(h) == "" || r.Header.Get(h) != viaCookie.Header.Get(h) {
			t.Errorf("%s: bearer %q, cookie %q", h, r.Header.Get(h), viaCookie.Header.Get(h))
		}
	}
	if _, ok := r.Header["Authorization"]; ok {
		t.Error("the bearer token went on to the upstream")
	}
	a := r.Header.Get("X-Gatehouse-Assertion")
	in, err := tk.keys.Inspect(a, time.Now())
	if err != nil || !in.Verified || in.Problem != "" || in.Header["typ"] != token.TypeAssertion || in.Claims["aud"].([]any)[0] != "http://a.example.com" ||
		in.Claims["sub"] != d.Entry.User.ID {
		t.Fatalf("assertion %+v %v", in, err)
	}
	if again := request("GET", "/app", "a.example.com", "", "Authorization", "Bearer "+at); decide(g, again, false, "").Outcome != Allow ||
		again.Header.Get("X-Gatehouse-Assertion") != a {
		t.Error("the assertion was minted again for the next request")
	}
	// Forwarded when the site asks; another scheme is the app's and passes either way.
	g.ForwardAuthorization = true
	fw := request("GET", "/app", "a.example.com", "", "Authorization", "bearer "+at)
	if decide(g, fw, false, "").Outcome != Allow || fw.Header.Get("Authorization") != "bearer "+at {
		t.Error("forward_authorization did not forward")
	}
	g.ForwardAuthorization = false
	basic := request("GET", "/app", "a.example.com", cookie, "Authorization", "Basic dTpw")
	if decide(g, basic, false, "").Outcome != Allow || basic.Header.Get("Authorization") != "Basic dTpw" {
		t.Error("an app's Basic credentials were dropped")
	}
	// Without assertions (assertion off), none is sent — and a client's is stripped.
	g.Assertions = nil
	off := request("GET", "/app", "a.example.com", cookie, "X-Gatehouse-Assertion", "forged")
	if decide(g, off, false, "").Outcome != Allow || off.Header.Get("X-Gatehouse-Assertion") != "" {
		t.Errorf("assertion off: %q", off.Header.Get("X-Gatehouse-Assertion"))
	}
}

// TestRefusedBearerTokens: a bad token on a protected route is 401 with RFC 6750's
// WWW-Authenticate, even with a valid cookie along; on a public route the request goes
// on anonymously, without the token.
func TestRefusedBearerTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tk := f.tokens(t)
	g := f.bearerGateway(t, tk, true)
	atA, cookieA := f.accessToken(t, tk, "a", "a.example.com")
	atB, _ := f.accessToken(t, tk, "b", "b.example.com")
	atBonA, _ := f.accessToken(t, tk, "b", "a.example.com") // b's user, minted naming a's host
	revoked, _ := f.accessToken(t, tk, "a", "a.example.com")
	if err := f.sessions.Revoke(context.Background(), f.st.Tenant(f.tenants["a"].ID), sidOf(t, revoked)); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ auth, cookie string }{
		"garbage":                           {"Bearer garbage", ""},
		"another host's token":              {"Bearer " + atB, ""},
		"another tenant's token, this host": {"Bearer " + atBonA, ""},
		"a revoked session's token":         {"Bearer " + revoked, ""},
		"bad token with a good cookie":      {"Bearer garbage", cookieA},
		"empty bearer":                      {"Bearer  ", ""},
	} {
		r := request("GET", "/app", "a.example.com", tc.cookie, "Authorization", tc.auth)
		d := decide(g, r, false, "")
		if d.Outcome != Unauthorized || !d.BearerRefused {
			t.Errorf("%s: %v (refused %v)", name, d.Outcome, d.BearerRefused)
			continue
		}
		w := httptest.NewRecorder()
		g.Respond(w, r, d)
		var body map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) || body["error"] != "invalid_token" {
			t.Errorf("%s: answered %d %q %v", name, w.Code, w.Header().Get("WWW-Authenticate"), body)
		}
	}
	// No credentials at all, from an API client: a Bearer challenge without an error.
	r := request("GET", "/app", "a.example.com", "", "Accept", "application/json")
	d := decide(g, r, false, "")
	w := httptest.NewRecorder()
	g.Respond(w, r, d)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="gatehouse"` {
		t.Errorf("no credentials: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// A public route: anonymous, the token dropped.
	pub := request("GET", "/public/x", "a.example.com", "", "Authorization", "Bearer garbage")
	if d := decide(g, pub, false, ""); d.Outcome != Allow || d.Entry != nil || pub.Header.Get("Authorization") != "" || pub.Header.Get("X-Gatehouse-User-Id") != "" {
		t.Errorf("public route with a bad token: %v %v %q", d.Outcome, d.Entry != nil, pub.Header.Get("Authorization"))
	}
	// The genuine token still works (the refusals are not blanket).
	if d := decide(g, request("GET", "/app", "a.example.com", "", "Authorization", "Bearer "+atA), false, ""); d.Outcome != Allow {
		t.Errorf("the genuine token: %v", d.Outcome)
	}
}

func sidOf(t testing.TB, raw string) string {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, c); err != nil {
		t.Fatal(err)
	}
	return c["sid"].(string)
}

// TestNoAssertionNoRequest: when no assertion can be made (no signing key), Apply fails
// and the request must not go on.
func TestNoAssertionNoRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	g.Assertions = &token.Assertions{Keys: &token.KeyRing{}, Clock: clock.Real{}}
	g.Send = identity.DefaultSelection | identity.SendAssertion
	r := request("GET", "/app", "a.example.com", f.login(t, "a"))
	d := g.Decide(r, false, "")
	if d.Outcome != Allow {
		t.Fatalf("decide: %v", d.Outcome)
	}
	if err := g.Apply(r, d); err == nil {
		t.Fatal("a signed-in request without its assertion was let through")
	}
}

// TestIdentityHeaderSelection: a site sends the headers it selects and no others; a
// client's copy of a header the site does not send is still removed (a header that is
// not sent must not be forgeable either), and the assertion goes only when selected.
func TestIdentityHeaderSelection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tk := f.tokens(t)
	cookie := f.login(t, "a")
	forged := []string{"X-Gatehouse-User-Name", "Forged", "X-Gatehouse-Assertion", "forged", "X-Gatehouse-Session-Id", "forged"}
	for _, c := range []struct {
		name string
		send identity.Selection
		want []string
	}{
		{"default", 0, []string{"X-Gatehouse-User-Id", "X-Gatehouse-User-Email", "X-Gatehouse-Tenant", "X-Gatehouse-Roles"}},
		{"all (the fixture's user has no name: an empty header is left out)", identity.SendAll, []string{"X-Gatehouse-User-Id", "X-Gatehouse-User-Email", "X-Gatehouse-Tenant-Id",
			"X-Gatehouse-Tenant", "X-Gatehouse-Roles", "X-Gatehouse-Session-Id", "X-Gatehouse-Auth-Methods", "X-Gatehouse-Assertion"}},
		{"user id and assertion", identity.SendUserID | identity.SendAssertion, []string{"X-Gatehouse-User-Id", "X-Gatehouse-Assertion"}},
	} {
		g := f.bearerGateway(t, tk, false)
		g.Send = c.send
		r := request("GET", "/app", "a.example.com", cookie, forged...)
		if d := decide(g, r, false, ""); d.Outcome != Allow {
			t.Fatalf("%s: %v", c.name, d.Outcome)
		}
		var got []string
		for k, v := range r.Header {
			if identity.IsIdentityHeader(k) {
				got = append(got, k)
				if v[0] == "forged" || v[0] == "Forged" {
					t.Errorf("%s: %s kept the client's value", c.name, k)
				}
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: upstream got %q, want %q", c.name, got, want)
		}
	}
}
