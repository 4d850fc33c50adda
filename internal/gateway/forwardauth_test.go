package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// verify runs a verify request as the handler does: rebuild, decide, answer.
func verify(g *Gateway, r *http.Request, trusted, nginx bool) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	fr, https, err := ForwardedRequest(r, trusted)
	if err != nil {
		g.RefuseForwarded(w, r, err)
		return w
	}
	g.AnswerForwardAuth(w, fr, g.Decide(fr, https, "192.0.2.1"), nginx)
	return w
}

// verifyRequest is a verify request to Gatehouse's own host naming a request for the
// app: method, host, target, then more header pairs.
// The app is on HTTPS (X-Forwarded-Proto), so the session cookie is __Host-gatehouse.
func verifyRequest(method, host, target, token string, hdr ...string) *http.Request {
	r := request("GET", "/_gatehouse/verify", "gatehouse.internal:9091", "", hdr...)
	if token != "" {
		r.Header.Set("Cookie", "theme=dark; __Host-gatehouse="+token+"; other=1")
	}
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Host", host)
	r.Header.Set("X-Forwarded-Uri", target)
	r.Header.Set("X-Forwarded-Proto", "https")
	return r
}

// TestForwardAuthUntrustedPeer: from a peer outside trusted_proxies the X-Forwarded-*
// headers are the client's own words — a spoofed X-Forwarded-Uri naming a public rule
// gets 403, never the public route's 200, signed in or not, and nothing of the session.
func TestForwardAuthUntrustedPeer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	for _, token := range []string{"", tok} {
		w := verify(g, verifyRequest("GET", "a.example.com", "/public/x", token), false, false)
		if w.Code != http.StatusForbidden || w.Header().Get("X-Gatehouse-User-Id") != "" {
			t.Fatalf("untrusted peer, public X-Forwarded-Uri (token %t): %d %v", token != "", w.Code, w.Header())
		}
	}
	// The same request from the trusted proxy is the public route's.
	if w := verify(g, verifyRequest("GET", "a.example.com", "/public/x", ""), true, false); w.Code != http.StatusOK {
		t.Fatalf("trusted peer, public route: %d", w.Code)
	}
	if _, _, err := ForwardedRequest(verifyRequest("GET", "a.example.com", "/public/x", ""), false); !errors.Is(err, ErrUntrustedPeer) {
		t.Fatalf("ForwardedRequest from an untrusted peer: %v", err)
	}
}

// TestForwardAuthDecisions: the trusted proxy's question is decided as a proxied request
// is, on the forwarded method, host and target — not on the verify request's own.
func TestForwardAuthDecisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	cases := []struct {
		name             string
		r                *http.Request
		nginx            bool
		status           int
		location, header string
	}{
		{"browser signed out", verifyRequest("GET", "a.example.com", "/reports/q3?x=1&y=2", ""), false, http.StatusFound,
			"/auth/login?rd=" + url.QueryEscape("/reports/q3?x=1&y=2"), ""},
		{"nginx browser signed out", verifyRequest("GET", "a.example.com", "/reports/q3?x=1&y=2", ""), true, http.StatusUnauthorized,
			"/auth/login?rd=" + url.QueryEscape("/reports/q3?x=1&y=2"), ""},
		{"API signed out", verifyRequest("GET", "a.example.com", "/api/x", "", "Accept", "application/json"), false, http.StatusUnauthorized, "", ""},
		{"nginx API signed out", verifyRequest("GET", "a.example.com", "/api/x", "", "Accept", "application/json"), true, http.StatusUnauthorized, "", ""},
		{"bearer refused", verifyRequest("GET", "a.example.com", "/api/x", "", "Authorization", "Bearer nope"), false, http.StatusUnauthorized, "", ""},
		{"signed in", verifyRequest("GET", "a.example.com", "/app", tok), false, http.StatusOK, "", "u@a.example.com"},
		{"deny rule", verifyRequest("GET", "a.example.com", "/admin/x", tok), false, http.StatusForbidden, "", ""},
		{"deny by case", verifyRequest("GET", "a.example.com", "/ADMIN/x", tok), false, http.StatusForbidden, "", ""},
		{"ambiguous path", verifyRequest("GET", "a.example.com", "/public%2f..%2fapp", ""), false, http.StatusBadRequest, "", ""},
		{"dot segments", verifyRequest("GET", "a.example.com", "/public/../app", ""), false, http.StatusBadRequest, "", ""},
		{"portal path", verifyRequest("GET", "a.example.com", "/auth/login", ""), false, http.StatusForbidden, "", ""},
		{"method override", verifyRequest("POST", "a.example.com", "/public/x", "", "X-HTTP-Method-Override", "DELETE"), false, http.StatusOK, "", ""},
	}
	for _, c := range cases {
		w := verify(g, c.r, true, c.nginx)
		if w.Code != c.status || w.Header().Get("Location") != c.location || w.Header().Get("X-Gatehouse-User-Email") != c.header {
			t.Errorf("%s: %d Location %q email %q, want %d %q %q", c.name, w.Code, w.Header().Get("Location"),
				w.Header().Get("X-Gatehouse-User-Email"), c.status, c.location, c.header)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", c.name, w.Header().Get("Cache-Control"))
		}
	}
}

// TestForwardAuthMalformed: a forwarded request line that is missing, repeated, a comma
// list or not an origin-form target is refused with 400, never guessed.
func TestForwardAuthMalformed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	mutate := map[string]func(h http.Header){
		"no method":        func(h http.Header) { h.Del("X-Forwarded-Method") },
		"no host":          func(h http.Header) { h.Del("X-Forwarded-Host") },
		"no uri":           func(h http.Header) { h.Del("X-Forwarded-Uri") },
		"two uris":         func(h http.Header) { h.Add("X-Forwarded-Uri", "/app") },
		"comma host":       func(h http.Header) { h.Set("X-Forwarded-Host", "a.example.com, evil.example") },
		"absolute uri":     func(h http.Header) { h.Set("X-Forwarded-Uri", "https://a.example.com/public/x") },
		"relative uri":     func(h http.Header) { h.Set("X-Forwarded-Uri", "public/x") },
		"fragment":         func(h http.Header) { h.Set("X-Forwarded-Uri", "/public/x#frag") },
		"space":            func(h http.Header) { h.Set("X-Forwarded-Uri", "/public/x y") },
		"control":          func(h http.Header) { h.Set("X-Forwarded-Uri", "/public/x\x01") },
		"bad method":       func(h http.Header) { h.Set("X-Forwarded-Method", "GET /") },
		"bad host":         func(h http.Header) { h.Set("X-Forwarded-Host", "a.example.com/evil") },
		"host with user":   func(h http.Header) { h.Set("X-Forwarded-Host", "user@a.example.com") },
		"bad proto":        func(h http.Header) { h.Set("X-Forwarded-Proto", "gopher") },
		"empty method":     func(h http.Header) { h["X-Forwarded-Method"] = []string{""} },
		"two protos":       func(h http.Header) { h.Add("X-Forwarded-Proto", "http") },
		"scheme-less host": func(h http.Header) { h.Set("X-Forwarded-Uri", "//evil.example/public/x") },
	}
	for name, m := range mutate {
		r := verifyRequest("GET", "a.example.com", "/public/x", "")
		m(r.Header)
		w := verify(g, r, true, false)
		// "//evil.example/..." parses as a path with an empty first segment, which the
		// normaliser refuses: 400 either way.
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, w.Code)
		}
	}
}

// TestForwardAuthIdentityInResponse: the allowed answer carries the same identity
// headers a proxied request gets — the permission and scope of the route, the Remote-*
// set when enabled — and nothing the client forged; the Cookie for the upstream is the
// browser's without Gatehouse's session cookie.
func TestForwardAuthIdentityInResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	g.RemoteHeaders = true
	pol, err := policy.Compile([]policy.Rule{{Path: "/deals/*", Access: policy.RequirePermission, Require: "deals:read"}}, policy.SignedIn)
	if err != nil {
		t.Fatal(err)
	}
	g.Policy = pol
	tok := f.login(t, "a")
	r := verifyRequest("GET", "a.example.com", "/deals/7", tok, "X-Gatehouse-User-Email", "forged@evil.example",
		"X-Gatehouse-Roles", "owner", "Remote-Groups", "admins")
	w := verify(g, r, true, false)
	h := w.Header()
	if w.Code != http.StatusOK || h.Get("X-Gatehouse-User-Email") != "u@a.example.com" || h.Get("X-Gatehouse-Roles") != "member" ||
		h.Get("X-Gatehouse-Tenant") != "a" || h.Get("X-Gatehouse-Permission") != "deals:read" || h.Get("X-Gatehouse-Scope") != "own" ||
		h.Get("Remote-User") != "u@a.example.com" || h.Get("Remote-Groups") != "member" {
		t.Fatalf("allowed answer: %d %v", w.Code, h)
	}
	if got := h.Get(UpstreamCookieHeader); got != "theme=dark; other=1" {
		t.Fatalf("cookie for the upstream: %q", got)
	}
	// The same set as a request Gatehouse proxies itself.
	pr := request("GET", "/deals/7", "a.example.com", "")
	pr.Header.Set("Cookie", "__Host-gatehouse="+tok)
	decide(g, pr, true, "192.0.2.1")
	for name := range pr.Header {
		if strings.HasPrefix(name, "X-Gatehouse-") || strings.HasPrefix(name, "Remote-") {
			if h.Get(name) != pr.Header.Get(name) {
				t.Errorf("%s: verify answer %q, proxied request %q", name, h.Get(name), pr.Header.Get(name))
			}
		}
	}
	for name := range h {
		if (strings.HasPrefix(name, "X-Gatehouse-") && name != UpstreamCookieHeader || strings.HasPrefix(name, "Remote-")) && pr.Header.Get(name) == "" {
			t.Errorf("%s in the verify answer, not on the proxied request", name)
		}
	}
	// Only Gatehouse's cookie: nothing is left for the upstream.
	r = verifyRequest("GET", "a.example.com", "/app", "")
	r.Header.Set("Cookie", "__Host-gatehouse="+tok)
	if w := verify(g, r, true, false); w.Code != http.StatusOK || len(w.Header()[UpstreamCookieHeader]) != 0 {
		t.Fatalf("only the session cookie: %d %v", w.Code, w.Header())
	}
}

// TestForwardAuthTenantByHost: with tenant_by_host the tenant is the forwarded host's,
// not the verify request's own host: tenant A's session is worthless for tenant B's host.
func TestForwardAuthTenantByHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, true)
	tokA := f.login(t, "a")
	if w := verify(g, verifyRequest("GET", "a.example.com", "/app", tokA), true, false); w.Code != http.StatusOK || w.Header().Get("X-Gatehouse-Tenant") != "a" {
		t.Fatalf("own host: %d %v", w.Code, w.Header())
	}
	if w := verify(g, verifyRequest("GET", "b.example.com", "/app", tokA, "Accept", "application/json"), true, false); w.Code != http.StatusUnauthorized {
		t.Fatalf("other tenant's host: %d", w.Code)
	}
	if w := verify(g, verifyRequest("GET", "c.example.com", "/public/x", ""), true, false); w.Code != http.StatusNotFound {
		t.Fatalf("unknown host: %d", w.Code)
	}
}
