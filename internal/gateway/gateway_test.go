package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

type fixture struct {
	st       store.Store
	sessions *session.Manager
	tenants  map[string]store.Tenant // by slug
	users    map[string]store.User   // by e-mail
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, sessions: session.NewManager(st, clock.Real{}, session.Options{CacheTTL: time.Hour}),
		tenants: map[string]store.Tenant{}, users: map[string]store.User{}}
	for _, slug := range []string{"a", "b"} {
		tn := store.Tenant{ID: secret.NewID(), Slug: slug, Name: slug, Hosts: []string{slug + ".example.com"}, CreatedAt: time.Now()}
		if err := st.Tenants().CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		f.tenants[slug] = tn
		u := store.User{ID: secret.NewID(), Email: "u@" + slug + ".example.com", Status: store.UserActive, Roles: []string{"member"}, CreatedAt: time.Now()}
		if err := st.Tenant(tn.ID).Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.users[u.Email] = u
	}
	return f
}

func (f *fixture) login(t testing.TB, slug string) string {
	t.Helper()
	tn := f.tenants[slug]
	tok, _, err := f.sessions.Create(context.Background(), f.st.Tenant(tn.ID), f.users["u@"+slug+".example.com"], []string{"pwd"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) gateway(t testing.TB, byHost bool) *Gateway {
	t.Helper()
	pol, err := policy.Compile([]policy.Rule{
		{Path: "/public/*", Access: policy.Public},
		{Path: "/admin/*", Access: policy.Deny},
	}, policy.SignedIn)
	if err != nil {
		t.Fatal(err)
	}
	dir := &Directory{Store: f.st, TTL: time.Minute, Now: time.Now}
	var res TenantResolver = StaticTenant{Dir: dir, Slug: "a"}
	if byHost {
		res = HostTenants{Dir: dir}
	}
	return &Gateway{Prefix: "/auth", Tenants: res, Policy: pol, Sessions: f.sessions, Logger: nopLogger()}
}

// decide runs the request path as the handler does: Decide, then Apply when allowed.
func decide(g *Gateway, r *http.Request, https bool, clientIP string) Decision {
	d := g.Decide(r, https, clientIP)
	if d.Outcome == Allow {
		g.Apply(r, d)
	}
	return d
}

func request(method, target, host, token string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	if token != "" {
		r.Header.Set("Cookie", "theme=dark; gatehouse="+token+"; other=1")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func TestDecideOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	cases := []struct {
		name string
		r    *http.Request
		want Outcome
	}{
		{"public signed out", request("GET", "/public/x", "a.example.com", ""), Allow},
		{"protected signed out browser", request("GET", "/app", "a.example.com", ""), RedirectLogin},
		{"protected signed out API", request("GET", "/app", "a.example.com", "", "Accept", "application/json"), Unauthorized},
		{"protected bearer without session", request("GET", "/app", "a.example.com", "", "Authorization", "Bearer x"), Unauthorized},
		{"protected signed in", request("GET", "/app", "a.example.com", tok), Allow},
		{"deny signed in", request("GET", "/admin/x", "a.example.com", tok), Deny},
		{"deny case trick signed in", request("GET", "/ADMIN/x", "a.example.com", tok), Deny},
		{"garbage cookie", request("GET", "/app", "a.example.com", "garbage"), RedirectLogin},
		{"portal", request("GET", "/auth/login", "a.example.com", ""), Portal},
		{"portal prefix lookalike", request("GET", "/authx", "a.example.com", ""), RedirectLogin},
		{"encoded slash", request("GET", "/public%2f..%2fapp", "a.example.com", ""), BadRequest},
		{"dot segment into portal", request("GET", "/x/../auth/login", "a.example.com", ""), BadRequest},
	}
	for _, c := range cases {
		if d := decide(g, c.r, false, "192.0.2.1"); d.Outcome != c.want {
			t.Errorf("%s: %v, want %v", c.name, d.Outcome, c.want)
		}
	}
}

func TestSignedInRequestGetsIdentityHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	r := request("GET", "/app", "a.example.com", tok, "X-Gatehouse-User-Email", "forged@evil.example", "Remote-User", "forged")
	d := decide(g, r, false, "192.0.2.1")
	if d.Outcome != Allow || r.Header.Get("X-Gatehouse-User-Email") != "u@a.example.com" {
		t.Fatalf("%v %v", d.Outcome, r.Header)
	}
	if r.Header.Get("Remote-User") != "" {
		t.Fatal("forged Remote-User kept (remote headers are off)")
	}
	g.RemoteHeaders = true
	r = request("GET", "/app", "a.example.com", tok)
	decide(g, r, false, "192.0.2.1")
	if r.Header.Get("Remote-User") != "u@a.example.com" {
		t.Fatalf("Remote-User = %q", r.Header.Get("Remote-User"))
	}
}

// TestTenantIsolationByHost: a session of tenant A is worthless on tenant B's host.
func TestTenantIsolationByHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, true)
	tokA := f.login(t, "a")
	if d := decide(g, request("GET", "/app", "a.example.com:443", tokA), false, "192.0.2.1"); d.Outcome != Allow || d.Workspace.Slug != "a" {
		t.Fatalf("own host: %v %q", d.Outcome, d.Workspace.Slug)
	}
	if d := decide(g, request("GET", "/app", "B.Example.com", tokA), false, "192.0.2.1"); d.Outcome != RedirectLogin || d.Workspace.Slug != "b" {
		t.Fatalf("other tenant's host: %v %q", d.Outcome, d.Workspace.Slug)
	}
	if d := decide(g, request("GET", "/app", "c.example.com", tokA), false, "192.0.2.1"); d.Outcome != UnknownTenant {
		t.Fatalf("unknown host: %v", d.Outcome)
	}
}

// TestStoreFailureFailsClosed: when the store cannot be read, protected routes answer
// 503 — never "continue without identity" — while public routes keep working.
func TestStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	g.Sessions = session.NewManager(f.st, clock.Real{}, session.Options{}) // cold cache
	tok := f.login(t, "a")
	decide(g, request("GET", "/public/x", "a.example.com", ""), false, "192.0.2.1") // the tenant is known
	f.st.Close()
	if d := decide(g, request("GET", "/app", "a.example.com", tok), false, "192.0.2.1"); d.Outcome != Unavailable {
		t.Fatalf("protected with store down: %v", d.Outcome)
	}
	r := request("GET", "/public/x", "a.example.com", tok)
	if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Allow || r.Header.Get("X-Gatehouse-User-Id") != "" {
		t.Fatalf("public with store down: %v %v", d.Outcome, r.Header)
	}
	w := httptest.NewRecorder()
	g.Respond(w, request("GET", "/app", "a.example.com", tok), Decision{Outcome: Unavailable})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("503 answer: %d %v", w.Code, w.Header())
	}
}

func TestRespond(t *testing.T) {
	t.Parallel()
	g := &Gateway{Prefix: "/auth"}
	cases := []struct {
		o        Outcome
		target   string
		accept   string
		status   int
		location string
	}{
		{RedirectLogin, "/deals/7?tab=notes", "", 302, "/auth/login?rd=%2Fdeals%2F7%3Ftab%3Dnotes"},
		{RedirectLogin, "/", "", 302, "/auth/login"},
		{Unauthorized, "/x", "application/json", 401, ""},
		{Deny, "/x", "", 403, ""},
		{BadRequest, "/x", "", 400, ""},
		{UnknownTenant, "/x", "", 404, ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", c.target, nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		g.Respond(w, r, Decision{Outcome: c.o})
		if w.Code != c.status || w.Header().Get("Location") != c.location {
			t.Errorf("%v: %d %q", c.o, w.Code, w.Header().Get("Location"))
		}
		if c.accept != "" && !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%v: API answer not JSON: %s", c.o, w.Body.String())
		}
	}
}

func TestCookieValue(t *testing.T) {
	t.Parallel()
	h := http.Header{"Cookie": {"a=1; gatehouse_csrf=zz; gatehouse=tok; gatehouse=second", "x=y"}}
	if v := cookieValue(h, "gatehouse"); v != "tok" {
		t.Fatalf("got %q", v)
	}
	if v := cookieValue(h, "__Host-gatehouse"); v != "" {
		t.Fatalf("got %q", v)
	}
	if v := cookieValue(http.Header{"Cookie": {`gatehouse="quoted"`}}, "gatehouse"); v != "quoted" {
		t.Fatalf("got %q", v)
	}
}

// BenchmarkDecideSignedInAllowed is the per-request cost of Gatehouse for a signed-in,
// allowed request on a session-cache hit: strip, normalise, policy, session, headers.
func BenchmarkDecideSignedInAllowed(b *testing.B) {
	f := newFixture(b)
	g := f.gateway(b, false)
	g.RemoteHeaders = true
	tok := f.login(b, "a")
	r := request("GET", "/app/deals/42", "a.example.com", tok, "User-Agent", "bench", "Accept", "text/html")
	base := r.Header.Clone()
	b.ReportAllocs()
	for b.Loop() {
		for k := range r.Header {
			delete(r.Header, k)
		}
		for k, v := range base {
			r.Header[k] = v
		}
		if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Allow {
			b.Fatal(d.Outcome)
		}
	}
}

func TestMethodOverrideDecidedStrictly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pol, err := policy.Compile([]policy.Rule{{Path: "/api/items/{id}", Methods: []string{"DELETE"}, Access: policy.Deny}}, policy.SignedIn)
	if err != nil {
		t.Fatal(err)
	}
	g := f.gateway(t, false)
	g.Policy = pol
	tok := f.login(t, "a")
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		r := request("POST", "/api/items/7", "a.example.com", tok, h, "DELETE")
		if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Deny {
			t.Errorf("POST with %s: DELETE: %v", h, d.Outcome)
		}
	}
	if d := decide(g, request("POST", "/api/items/7", "a.example.com", tok), false, "192.0.2.1"); d.Outcome != Allow {
		t.Errorf("plain POST: %v", d.Outcome)
	}
}

// TestHostCacheFloodKeepsTenants: random unknown hosts fill the cache without evicting
// a real tenant's entry.
func TestHostCacheFloodKeepsTenants(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := &Directory{Store: f.st, TTL: time.Hour, Now: time.Now}
	if _, err := h.ByHost(t.Context(), "a.example.com"); err != nil {
		t.Fatal(err)
	}
	for i := range maxDirectory + 50 {
		_, _ = h.ByHost(t.Context(), fmt.Sprintf("r%d.example.com", i))
	}
	h.mu.RLock()
	e, ok := h.byHost["a.example.com"]
	n := len(h.byHost)
	h.mu.RUnlock()
	if !ok || !e.found || n > maxDirectory {
		t.Fatalf("tenant entry kept: %v, cache size %d", ok, n)
	}
}

// TestRespondUsesTheOneErrorShape: API clients get {"error","message"} (and
// "retry_after" with Retry-After when they should come back), as from the portal.
func TestRespondUsesTheOneErrorShape(t *testing.T) {
	t.Parallel()
	g := &Gateway{Prefix: "/auth"}
	for _, c := range []struct {
		d     Decision
		code  string
		retry string
	}{
		{Decision{Outcome: Unauthorized}, "unauthenticated", ""},
		{Decision{Outcome: Deny}, "forbidden", ""},
		{Decision{Outcome: RateLimited, RetryAfter: 1500 * time.Millisecond}, "too_many_requests", "2"},
		{Decision{Outcome: Unavailable}, "unavailable", "5"},
	} {
		w := httptest.NewRecorder()
		g.Respond(w, request("GET", "/app", "a.example.com", "", "Accept", "application/json"), c.d)
		var body struct {
			Error, Message string
			RetryAfter     int `json:"retry_after"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != c.code || body.Message == "" ||
			w.Header().Get("Retry-After") != c.retry || (c.retry != "" && fmt.Sprint(body.RetryAfter) != c.retry) {
			t.Errorf("%v: %d %s Retry-After %q", c.d.Outcome, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
}
