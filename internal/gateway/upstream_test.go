package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

func TestOwnCookiesNeverReachUpstream(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	r := request("GET", "/app", "a.example.com", "")
	r.Header["Cookie"] = []string{"theme=dark; gatehouse=" + tok + "; gatehouse_csrf=abc", "__Host-gatehouse=zzz; lang=en; __Host-gatehouse-csrf=q"}
	if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Allow {
		t.Fatalf("outcome %v", d.Outcome)
	}
	if got := r.Header["Cookie"]; len(got) != 1 || got[0] != "theme=dark; lang=en" {
		t.Fatalf("Cookie upstream = %q", got)
	}
	r = request("GET", "/public/x", "a.example.com", "")
	r.Header.Set("Cookie", "gatehouse=whatever")
	decide(g, r, false, "192.0.2.1")
	if _, ok := r.Header["Cookie"]; ok {
		t.Fatalf("Cookie with only our cookie kept: %q", r.Header["Cookie"])
	}
}

func TestTrailersCannotCarryIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	r := request("POST", "/public/x", "a.example.com", "")
	r.TransferEncoding = []string{"chunked"}
	r.Trailer = http.Header{"X-Gatehouse-User-Id": nil, "X-Checksum": nil}
	r.Body = io.NopCloser(&trailerAtEOF{r: r, data: strings.NewReader("body")})
	if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Allow {
		t.Fatalf("outcome %v", d.Outcome)
	}
	if _, ok := r.Trailer["X-Gatehouse-User-Id"]; ok {
		t.Fatal("declared identity trailer kept")
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Fatal(err)
	}
	for k := range r.Trailer {
		if strings.Contains(strings.ToLower(k), "gatehouse") || strings.EqualFold(k, "remote-user") {
			t.Errorf("identity trailer %s survived EOF", k)
		}
	}
	if r.Trailer.Get("X-Checksum") != "ok" {
		t.Error("an unrelated trailer was lost")
	}
}

// trailerAtEOF mimics net/http: trailers are merged into r.Trailer when the body ends.
type trailerAtEOF struct {
	r    *http.Request
	data io.Reader
}

func (b *trailerAtEOF) Read(p []byte) (int, error) {
	n, err := b.data.Read(p)
	if err == io.EOF {
		b.r.Trailer = http.Header{"X-Gatehouse-User-Id": {"admin"}, "Remote-User": {"boss"}, "X_gatehouse_roles": {"owner"}, "X-Checksum": {"ok"}}
	}
	return n, err
}

// TestFrameworkReadingsCannotDodgeRules: /admin.json and method overrides are decided
// as strictly as the route they reach in Rails-, Laravel- or Express-style upstreams.
func TestFrameworkReadingsCannotDodgeRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	tok := f.login(t, "a")
	for _, c := range []struct {
		method, target string
		hdr            []string
		want           Outcome
	}{
		{"GET", "/admin.json", nil, Deny},
		{"GET", "/admin/users.csv", nil, Deny},
		{"GET", "/app/report.pdf", nil, Allow},
		{"GET", "/public/style.css", nil, Allow},
		{"POST", "/app/x", []string{"X-HTTP-Method-Override", "delete"}, Allow},
	} {
		r := request(c.method, c.target, "a.example.com", tok, c.hdr...)
		if d := decide(g, r, false, "192.0.2.1"); d.Outcome != c.want {
			t.Errorf("%s %s %v: %v, want %v", c.method, c.target, c.hdr, d.Outcome, c.want)
		}
	}
}

// TestRouteLimits: a limited route answers 429 with Retry-After once a client used its
// share; other clients and other routes are unaffected.
func TestRouteLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.gateway(t, false)
	rl, err := NewRouteLimits([]RouteLimit{{Path: "/public/search", PerIP: ratelimit.Rule{PerIP: limiter.Rate{Limit: 2, Period: time.Minute}}}}, ratelimit.New(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	g.RouteLimits = rl
	var got []Outcome
	for range 3 {
		got = append(got, decide(g, request("GET", "/public/search", "a.example.com", ""), false, "198.51.100.1").Outcome)
	}
	if got[0] != Allow || got[1] != Allow || got[2] != RateLimited {
		t.Fatalf("outcomes %v", got)
	}
	if d := decide(g, request("GET", "/public/search", "a.example.com", ""), false, "198.51.100.2"); d.Outcome != Allow {
		t.Fatalf("another client: %v", d.Outcome)
	}
	if d := decide(g, request("GET", "/public/other", "a.example.com", ""), false, "198.51.100.1"); d.Outcome != Allow {
		t.Fatalf("another route: %v", d.Outcome)
	}
	d := decide(g, request("GET", "/public/search", "a.example.com", ""), false, "198.51.100.1")
	w := httptest.NewRecorder()
	g.Respond(w, request("GET", "/public/search", "a.example.com", ""), d)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d %v", w.Code, w.Header())
	}
}
