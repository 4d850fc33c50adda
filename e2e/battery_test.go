package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The findings of the outside security and load battery, each tried again here
// against the built binary.

// TestForeignIdentityHeadersStripped: identity headers that apps behind other proxies
// trust (X-Forwarded-User, X-Remote-User, X-Original-URL …) are removed in every
// spelling by default; strip_header adds names; keep_header lets one through.
func TestForeignIdentityHeadersStripped(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig+`
		strip_header X-Employee-Id
		keep_header X-Original-URL`)
	stripped := []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Remote-User",
		"X-Auth-Request-User", "X-Auth-Request-Email", "X-Rewrite-URL", "X-Employee-Id"}
	var lines []string
	for _, n := range stripped {
		for _, s := range spellings(n) {
			lines = append(lines, s+": forged-admin")
		}
	}
	lines = append(lines, "X-Original-URL: /kept/by/config", "Connection: keep-alive, X-Remote-User")
	if st := rawRequest(t, g.url, "/public/page", lines); st != http.StatusOK {
		t.Fatalf("public: %d", st)
	}
	h := up.last(t)
	assertNoForgery(t, h)
	if got := h.Get("X-Original-URL"); got != "/kept/by/config" {
		t.Errorf("keep_header X-Original-URL: upstream got %q", got)
	}
	if got := h.Get("X-Remote-User"); got != "" {
		t.Errorf("X-Remote-User reached the upstream: %q", got)
	}
}

// TestCorrectConcurrentSignInsAreNotLocked: ten simultaneous sign-ins with the right
// password all succeed — none is answered "locked" (429 with a lockout's Retry-After)
// and nothing is audited as a lock.
func TestCorrectConcurrentSignInsAreNotLocked(t *testing.T) {
	up := newRecorder(t)
	// The per-account rate limit is raised so that it does not hide what is tested.
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: siteConfig, app: "rate_limit login 100/1m 100/1m"})
	const pw = "ten at once, all of them right"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "ten@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	var wg sync.WaitGroup
	statuses := make([]string, 10)
	for i := range statuses {
		wg.Go(func() {
			c := browser(t)
			req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/login", strings.NewReader(`{"email":"ten@example.com","password":"`+pw+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i] = fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(b)))
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if !strings.HasPrefix(s, "200 ") || !strings.Contains(s, "signed_in") {
			t.Errorf("sign-in %d: %s", i, s)
		}
	}
	// The account is not locked: one more sign-in works.
	if st, body := apiSignIn(t, g.url, "ten@example.com", pw); st != http.StatusOK {
		t.Fatalf("after the concurrent sign-ins: %d %s", st, body)
	}
}

func apiSignIn(t *testing.T, base, email, pw string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	req, _ := http.NewRequest("POST", base+"/auth/api/v1/login", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	st, body, _ := do(t, browser(t), req)
	return st, body
}

// TestReloadKeepsLockoutsAndMetrics: a config reload — here one that changes the rate
// limits, with in-memory state — neither unlocks accounts nor resets Gatehouse's
// counters; portal requests are counted as policy decisions.
func TestReloadKeepsLockoutsAndMetrics(t *testing.T) {
	up := newRecorder(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: siteConfig, admin: admin, app: "rate_limit login 30/1m 10/1m"})
	const pw = "a reload must not open this door"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "lock@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	for i := range 5 {
		if st, body := apiSignIn(t, g.url, "lock@example.com", "wrong guess "+strconv.Itoa(i)); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, st, body)
		}
	}
	if st, _ := apiSignIn(t, g.url, "lock@example.com", pw); st != http.StatusTooManyRequests {
		t.Fatalf("locked account before the reload: %d", st)
	}
	before := scrape(t, admin)
	if before["gatehouse_signins_total"+`{outcome="failure"}`] != 5 || before["gatehouse_policy_decisions_total"+`{outcome="portal"}`] < 6 {
		t.Fatalf("metrics before the reload: %v", before)
	}

	// Reload through the admin API with different rate limits.
	cfg, err := os.ReadFile(g.config)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(cfg), "rate_limit login 30/1m 10/1m", "rate_limit login 40/1m 20/1m", 1)
	if changed == string(cfg) {
		t.Fatal("test config has no rate_limit line to change")
	}
	req, _ := http.NewRequest("POST", "http://"+admin+"/load", strings.NewReader(changed))
	req.Header.Set("Content-Type", "text/caddyfile")
	if st, body, _ := do(t, browser(t), req); st != http.StatusOK {
		t.Fatalf("reload: %d %s", st, body)
	}
	// The reload closes the old server's idle keep-alive connections; a POST on one the
	// client still holds would fail with EOF (Go retries no POST), as no browser would.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	// While the old server winds down (slowly on a loaded machine) a new connection can
	// still be reset: wait until the new config answers before the POST that counts.
	waitFor(t, "the reloaded gateway to answer", func() bool {
		resp, err := http.Get(g.url + "/public/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})

	// A connection reset by the old server on its way out is retried (as a browser
	// would); the answer is what counts.
	st := 0
	for attempt := 0; st == 0; attempt++ {
		b, _ := json.Marshal(map[string]string{"email": "lock@example.com", "password": pw})
		resp, err := browser(t).Post(g.url+"/auth/api/v1/login", "application/json", strings.NewReader(string(b)))
		if err != nil {
			if attempt == 4 {
				t.Fatalf("sign-in after the reload: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		resp.Body.Close()
		st = resp.StatusCode
	}
	if st != http.StatusTooManyRequests {
		t.Fatalf("the reload unlocked the account: %d", st)
	}
	after := scrape(t, admin)
	for _, k := range []string{`gatehouse_signins_total{outcome="failure"}`, `gatehouse_signins_total{outcome="locked"}`, `gatehouse_policy_decisions_total{outcome="portal"}`} {
		if after[k] < before[k] || after[k] == 0 {
			t.Errorf("%s: %v before the reload, %v after", k, before[k], after[k])
		}
	}
}

// scrape reads Gatehouse's series from Caddy's /metrics.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	out := metrics(t, admin)
	for k := range out {
		if !strings.HasPrefix(k, "gatehouse_") {
			delete(out, k)
		}
	}
	return out
}

// TestValidateChangesNothing: `gatehouse validate` provisions the config without
// creating the store, the master key or the default workspace.
func TestValidateChangesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{
	admin off
	gatehouse {
		store sqlite://%s/gh.db
		master_key_file %s/master.key
	}
}
http://127.0.0.1:1 {
	gatehouse
	reverse_proxy 127.0.0.1:2
}
`, data, data)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "validate", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Valid configuration") {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(data)
		t.Fatalf("validate created %s (%v): %v", data, err, entries)
	}
}

// TestPortalErrorsAreStyledOrJSON: a wrong method or an unknown portal path gets a page
// with the layout and a way on for browsers, JSON for the API.
func TestPortalErrorsAreStyledOrJSON(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	c := browser(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/auth/nope", http.StatusNotFound, ""},
		{"PUT", "/auth/login", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"DELETE", "/auth/settings/security", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, g.url+tc.path, nil)
		req.Header.Set("Accept", "text/html")
		st, body, resp := do(t, c, req)
		if st != tc.status || resp.Header.Get("Allow") != tc.allow || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, `href="/auth/static/style.css"`) || !strings.Contains(body, `href="/auth/login"`) {
			t.Errorf("browser %s %s: %d Allow %q\n%s", tc.method, tc.path, st, resp.Header.Get("Allow"), body)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/auth/api/v1/nope", http.StatusNotFound, "not_found", ""},
		{"GET", "/auth/api/v1/login", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"DELETE", "/auth/api/v1/me", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, g.url+tc.path, nil)
		st, body, resp := do(t, c, req)
		var out struct{ Error, Message string }
		if st != tc.status || resp.Header.Get("Allow") != tc.allow || json.Unmarshal([]byte(body), &out) != nil || out.Error != tc.code || out.Message == "" {
			t.Errorf("API %s %s: %d Allow %q %s", tc.method, tc.path, st, resp.Header.Get("Allow"), body)
		}
	}
}
