package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// apiLoginStatus signs in through the JSON API and returns the status, the
// Retry-After header and the client.
func apiLoginStatus(t *testing.T, base, email, password string, hdr ...string) (int, string, *http.Client) {
	t.Helper()
	c := browser(t)
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", base+"/auth/api/v1/login", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	st, _, resp := do(t, c, req)
	return st, resp.Header.Get("Retry-After"), c
}

// TestLockoutThroughTheGateway: five wrong passwords lock the account — the right one is
// then refused with 429 and Retry-After, for a known and an unknown e-mail alike — and
// an admin's unlock opens it at once.
func TestLockoutThroughTheGateway(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: "rate_limit login 0 0"}) // lockout alone here; rate limits have their own test
	const pw = "passphrase for the lockout test"
	for _, u := range [][2]string{{"locked@example.com", "member"}, {"boss@example.com", "owner"}} {
		if out, err := g.cli(pw+"\n", "user", "add", "--email", u[0], "--role", u[1], "--password-stdin"); err != nil {
			t.Fatalf("user add: %v %s", err, out)
		}
	}
	for _, email := range []string{"locked@example.com", "ghost@example.com"} {
		for i := range 5 {
			if st, _, _ := apiLoginStatus(t, g.url, email, "wrong guess number "+fmt.Sprint(i)); st != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: %d", email, i+1, st)
			}
		}
		st, retry, _ := apiLoginStatus(t, g.url, email, pw)
		if st != http.StatusTooManyRequests || retry == "" || retry == "0" {
			t.Fatalf("%s after 5 failures: %d Retry-After %q", email, st, retry)
		}
	}
	// The owner unlocks the member through the admin API.
	_, _, owner := apiLoginStatus(t, g.url, "boss@example.com", pw)
	users, err := g.cli("", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	var memberID string
	for _, line := range strings.Split(users, "\n") {
		if strings.HasPrefix(line, "locked@example.com") {
			f := strings.Fields(line)
			memberID = f[len(f)-1]
		}
	}
	req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/admin/users/"+memberID+"/unlock", nil)
	if st, b, _ := do(t, owner, req); st != http.StatusOK {
		t.Fatalf("unlock: %d %s", st, b)
	}
	if st, _, _ := apiLoginStatus(t, g.url, "locked@example.com", pw); st != http.StatusOK {
		t.Fatalf("after unlock: %d", st)
	}
}

// TestRateLimitKeyIsCaddysClientIP: X-Forwarded-For from an untrusted peer does not
// change the rate-limit key; from a configured trusted proxy it does.
func TestRateLimitKeyIsCaddysClientIP(t *testing.T) {
	up := newRecorder(t)
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "gh.db")
	spoof := func(g *gateway, xff func(i int) string) []int {
		var got []int
		for i := range 4 {
			st, _, _ := apiLoginStatus(t, g.url, fmt.Sprintf("user%d@example.com", i), "some wrong password", "X-Forwarded-For", xff(i))
			got = append(got, st)
		}
		return got
	}
	rotating := func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }

	// Both gateways share the store, so they share its master key too.
	const app = "rate_limit login 3/1m 0\n\t\tmaster_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	g := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	if got := spoof(g, rotating); fmt.Sprint(got) != "[401 401 401 429]" {
		t.Fatalf("untrusted peer rotating X-Forwarded-For: %v, want the 4th limited", got)
	}
	g.stop()

	trusted := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app,
		global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"})
	if got := spoof(trusted, rotating); fmt.Sprint(got) != "[401 401 401 401]" {
		t.Fatalf("trusted proxy, four different clients: %v, want none limited", got)
	}
	if got := spoof(trusted, func(int) string { return "198.51.100.7" }); fmt.Sprint(got) != "[401 401 401 429]" {
		t.Fatalf("trusted proxy, one client: %v, want the 4th limited", got)
	}
}

// TestRouteLimitThroughTheGateway: a limit on a proxied route answers 429 with
// Retry-After, and the upstream is not reached.
func TestRouteLimitThroughTheGateway(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: siteConfig + "\n\t\tlimit /public/search 2/1m"})
	var codes []int
	for range 3 {
		st, _, resp := get(t, browser(t), g.url+"/public/search?q=x")
		codes = append(codes, st)
		if st == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[200 200 429]" || up.count() != 2 {
		t.Fatalf("route limit: %v, upstream reached %d times", codes, up.count())
	}
	if st, _, _ := get(t, browser(t), g.url+"/public/other"); st != http.StatusOK {
		t.Fatalf("unlimited route: %d", st)
	}
}
