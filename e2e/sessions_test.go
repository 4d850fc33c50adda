package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// User-Agents of two browsers, and the device labels the sessions page derives from them.
const (
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaSafariIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	devFirefoxLinux = "Firefox on Linux"
	devSafariIOS    = "Safari on iOS"
)

// uaTransport sends every request with one User-Agent, as one browser would.
type uaTransport struct{ ua string }

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return http.DefaultTransport.RoundTrip(r)
}

// browserUA is browser (a cookie jar, redirects not followed) with a fixed User-Agent.
func browserUA(t *testing.T, ua string) *http.Client {
	c := browser(t)
	c.Transport = uaTransport{ua: ua}
	return c
}

// addUser adds a user with the CLI.
func addUser(t *testing.T, g *gateway, email, role, password string) {
	t.Helper()
	if out, err := g.cli(password+"\n", "user", "add", "--email", email, "--role", role, "--password-stdin"); err != nil {
		t.Fatalf("user add %s: %v\n%s", email, err, out)
	}
}

// apiCall sends a JSON API request (no body when body is nil) and returns status and body.
func apiCall(t *testing.T, c *http.Client, method, url string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	st, b, _ := do(t, c, req)
	return st, b
}

// decodeJSON decodes an API answer, failing the test on malformed JSON.
func decodeJSON[T any](t *testing.T, what, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: answer is not the expected JSON (%v):\n%s", what, err, body)
	}
	return v
}

// apiErrorCode is the "error" field of a JSON error answer.
func apiErrorCode(t *testing.T, body string) string {
	t.Helper()
	return decodeJSON[struct {
		Error string `json:"error"`
	}](t, "error answer", body).Error
}

// signInAs signs c in through the JSON API and fails unless that gives a full session.
func signInAs(t *testing.T, c *http.Client, base, email, password string) {
	t.Helper()
	st, body := apiCall(t, c, "POST", base+"/auth/api/v1/login", map[string]string{"email": email, "password": password})
	if st != http.StatusOK || !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("sign-in of %s: %d %s", email, st, body)
	}
}

// loginStatus tries a password sign-in in a fresh browser and returns the status.
func loginStatus(t *testing.T, base, email, password string) int {
	t.Helper()
	st, _ := apiCall(t, browser(t), "POST", base+"/auth/api/v1/login", map[string]string{"email": email, "password": password})
	return st
}

// apiSession is a session as GET /auth/api/v1/sessions shows it.
type apiSession struct {
	ID         string   `json:"id"`
	Device     string   `json:"device"`
	IP         string   `json:"ip"`
	CreatedAt  string   `json:"created_at"`
	LastActive string   `json:"last_active"`
	Methods    []string `json:"auth_methods"`
	Current    bool     `json:"current"`
}

// listSessions is the signed-in user's session list as the API shows it.
func listSessions(t *testing.T, c *http.Client, base string) []apiSession {
	t.Helper()
	st, body := apiCall(t, c, "GET", base+"/auth/api/v1/sessions", nil)
	if st != http.StatusOK {
		t.Fatalf("GET sessions: %d %s", st, body)
	}
	return decodeJSON[struct {
		Sessions []apiSession `json:"sessions"`
	}](t, "GET sessions", body).Sessions
}

// sessionIDs are the ids of a session list, sorted.
func sessionIDs(list []apiSession) []string {
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// currentSession is the id of the session the list marks as current (exactly one).
func currentSession(t *testing.T, list []apiSession) string {
	t.Helper()
	var cur []string
	for _, s := range list {
		if s.Current {
			cur = append(cur, s.ID)
		}
	}
	if len(cur) != 1 {
		t.Fatalf("%d sessions marked current, want 1: %+v", len(cur), list)
	}
	return cur[0]
}

// reaches asks the protected upstream through the gateway with c: true when the
// request got through with email's identity (and the upstream saw the session id it
// returns in sid), false when the gateway refused it (sent it to sign in, or 401)
// without the upstream seeing it. Anything else fails the test.
func reaches(t *testing.T, c *http.Client, g *gateway, up *recorder, email string) (ok bool, sid string) {
	t.Helper()
	before := up.count()
	st, body, resp := get(t, c, g.url+"/app/check")
	switch {
	case st == http.StatusOK:
		h := up.last(t)
		if up.count() != before+1 || h.Get("X-Gatehouse-User-Email") != email {
			t.Fatalf("request passed as %q (upstream reached %d times), want %s", h.Get("X-Gatehouse-User-Email"), up.count()-before, email)
		}
		return true, h.Get("X-Gatehouse-Session-Id")
	case st == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), "/auth/login"), st == http.StatusUnauthorized:
		if up.count() != before {
			t.Fatalf("refused request (%d) reached the upstream", st)
		}
		return false, ""
	}
	t.Fatalf("protected request: unexpected %d (Location %q)\n%s", st, resp.Header.Get("Location"), body)
	return false, ""
}

// mustReach fails unless c gets through to the upstream as email.
func mustReach(t *testing.T, c *http.Client, g *gateway, up *recorder, email, what string) string {
	t.Helper()
	ok, sid := reaches(t, c, g, up, email)
	if !ok {
		t.Fatalf("%s: the session of %s is refused, want it to work", what, email)
	}
	return sid
}

// mustBeRefused fails unless the gateway refuses c now.
func mustBeRefused(t *testing.T, c *http.Client, g *gateway, up *recorder, email, what string) {
	t.Helper()
	if ok, _ := reaches(t, c, g, up, email); ok {
		t.Fatalf("%s: the session of %s still reaches the upstream", what, email)
	}
}

// refusedWithin polls until the gateway refuses c, failing if that takes longer than
// limit; it returns how long it took.
func refusedWithin(t *testing.T, c *http.Client, g *gateway, up *recorder, email string, limit time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if ok, _ := reaches(t, c, g, up, email); !ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: the session of %s still reaches the upstream %v later (limit %v)", what, email, time.Since(start).Round(time.Millisecond), limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSessionsPageTwoBrowsers: one user signed in from two browsers sees both sessions
// on either, each marking its own as current, with devices named from the User-Agent;
// the HTML page shows them with "This device"; revoking one session and signing out
// everywhere else take effect on the very next request; and another user cannot revoke
// (or even learn of) the first user's sessions.
func TestSessionsPageTwoBrowsers(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "sam@example.com", "quiet harbour lamp ninety"
	const other, otherPW = "olga@example.com", "amber meadow kettle forty"
	addUser(t, g, email, "member", pw)
	addUser(t, g, other, "member", otherPW)

	a, b := browserUA(t, uaFirefoxLinux), browserUA(t, uaSafariIOS)
	signInAs(t, a, g.url, email, pw)
	signInAs(t, b, g.url, email, pw)
	sidA := mustReach(t, a, g, up, email, "browser A after sign-in")
	sidB := mustReach(t, b, g, up, email, "browser B after sign-in")
	if sidA == "" || sidB == "" || sidA == sidB {
		t.Fatalf("session ids at the upstream: A %q, B %q", sidA, sidB)
	}

	// Both browsers list the same two sessions; each marks its own as current, and
	// the devices come from the User-Agents.
	listA, listB := listSessions(t, a, g.url), listSessions(t, b, g.url)
	want := []string{sidA, sidB}
	slices.Sort(want)
	if !slices.Equal(sessionIDs(listA), want) || !slices.Equal(sessionIDs(listB), want) {
		t.Fatalf("session lists: A sees %v, B sees %v, want %v", sessionIDs(listA), sessionIDs(listB), want)
	}
	if cur := currentSession(t, listA); cur != sidA {
		t.Errorf("A's list marks %s current, want A's own %s", cur, sidA)
	}
	if cur := currentSession(t, listB); cur != sidB {
		t.Errorf("B's list marks %s current, want B's own %s", cur, sidB)
	}
	for _, s := range listA {
		wantDev := map[string]string{sidA: devFirefoxLinux, sidB: devSafariIOS}[s.ID]
		if s.Device != wantDev {
			t.Errorf("session %s: device %q, want %q", s.ID, s.Device, wantDev)
		}
		if s.IP != "127.0.0.1" || s.CreatedAt == "" || s.LastActive == "" || !slices.Equal(s.Methods, []string{"pwd"}) {
			t.Errorf("session %s: ip %q created %q last active %q methods %v", s.ID, s.IP, s.CreatedAt, s.LastActive, s.Methods)
		}
	}

	// The HTML page: both devices, "This device" on A's own entry only, and a sign-out
	// button for the other one.
	st, page, _ := get(t, a, g.url+"/auth/settings/sessions")
	if st != http.StatusOK {
		t.Fatalf("sessions page: %d\n%s", st, page)
	}
	if strings.Count(page, "This device") != 1 {
		t.Fatalf("sessions page shows \"This device\" %d times, want once:\n%s", strings.Count(page, "This device"), page)
	}
	for _, item := range strings.Split(page, "<li")[1:] {
		item, _, _ = strings.Cut(item, "</li>")
		switch {
		case strings.Contains(item, devFirefoxLinux):
			if !strings.Contains(item, "This device") || strings.Contains(item, `value="`+sidA+`"`) {
				t.Errorf("A's own entry is not marked \"This device\", or offers to sign itself out:\n%s", item)
			}
		case strings.Contains(item, devSafariIOS):
			if strings.Contains(item, "This device") || !strings.Contains(item, `value="`+sidB+`"`) {
				t.Errorf("B's entry on A's page is marked \"This device\", or has no sign-out for %s:\n%s", sidB, item)
			}
		}
	}
	if !strings.Contains(page, devFirefoxLinux) || !strings.Contains(page, devSafariIOS) || !strings.Contains(page, "Sign out everywhere except this device") {
		t.Fatalf("sessions page lacks a device or the sign-out-everywhere button:\n%s", page)
	}

	// Without ?others=true nothing is revoked.
	if st, body := apiCall(t, a, "DELETE", g.url+"/auth/api/v1/sessions", nil); st != http.StatusBadRequest {
		t.Fatalf("DELETE sessions without others=true: %d %s", st, body)
	}
	mustReach(t, b, g, up, email, "B after a refused DELETE")

	// Sign out everywhere else from A: B is refused on its next request, A goes on.
	st, body := apiCall(t, a, "DELETE", g.url+"/auth/api/v1/sessions?others=true", nil)
	if st != http.StatusOK || decodeJSON[map[string]int](t, "revoke others", body)["revoked"] != 1 {
		t.Fatalf("DELETE sessions?others=true: %d %s", st, body)
	}
	mustBeRefused(t, b, g, up, email, "B after A signed out everywhere else")
	if st, _ := apiCall(t, b, "GET", g.url+"/auth/api/v1/sessions", nil); st != http.StatusUnauthorized {
		t.Errorf("B's revoked session on the API: %d, want 401", st)
	}
	mustReach(t, a, g, up, email, "A after signing out everywhere else")
	if ids := sessionIDs(listSessions(t, a, g.url)); !slices.Equal(ids, []string{sidA}) {
		t.Fatalf("after revoking the others A sees %v, want only %s", ids, sidA)
	}

	// Revoke one session by id: a new browser C, ended from A.
	c := browserUA(t, uaSafariIOS)
	signInAs(t, c, g.url, email, pw)
	sidC := mustReach(t, c, g, up, email, "browser C after sign-in")
	if st, body := apiCall(t, a, "DELETE", g.url+"/auth/api/v1/sessions/"+sidC, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE sessions/%s: %d %s", sidC, st, body)
	}
	mustBeRefused(t, c, g, up, email, "C after A revoked it")
	// An id that is no longer live is not found.
	if st, body := apiCall(t, a, "DELETE", g.url+"/auth/api/v1/sessions/"+sidC, nil); st != http.StatusNotFound {
		t.Errorf("revoking an ended session again: %d %s", st, body)
	}

	// Another user: does not see the first user's sessions, and cannot end one (the
	// answer is the one for a session that does not exist).
	o := browserUA(t, uaFirefoxLinux)
	signInAs(t, o, g.url, other, otherPW)
	sidO := mustReach(t, o, g, up, other, "the other user")
	if ids := sessionIDs(listSessions(t, o, g.url)); !slices.Equal(ids, []string{sidO}) {
		t.Fatalf("the other user's list %v, want only their own %s", ids, sidO)
	}
	st, idor := apiCall(t, o, "DELETE", g.url+"/auth/api/v1/sessions/"+sidA, nil)
	if st != http.StatusNotFound {
		t.Fatalf("another user revoking %s's session: %d %s, want 404", email, st, idor)
	}
	st, none := apiCall(t, o, "DELETE", g.url+"/auth/api/v1/sessions/"+secret.NewID(), nil)
	if st != http.StatusNotFound || apiErrorCode(t, none) != apiErrorCode(t, idor) {
		t.Errorf("a foreign session answers %s, a made-up id %d %s: they must look alike", idor, st, none)
	}
	if st, body := apiCall(t, o, "DELETE", g.url+"/auth/api/v1/sessions?others=true", nil); st != http.StatusOK || !strings.Contains(body, `"revoked":0`) {
		t.Errorf("the other user signing out everywhere else: %d %s", st, body)
	}
	mustReach(t, a, g, up, email, "A after another user's attempts")
	if ids := sessionIDs(listSessions(t, a, g.url)); !slices.Equal(ids, []string{sidA}) {
		t.Fatalf("after another user's attempts A sees %v, want %s", ids, sidA)
	}
}

// TestRevokeOthersOnSecondInstancePostgres: two gateways on one PostgreSQL database.
// Browser B's session is in use on the second instance (so that instance caches it);
// browser A signs out everywhere else on the first: the second instance refuses B
// within session_cache_ttl, while A keeps working on both.
func TestRevokeOthersOnSecondInstancePostgres(t *testing.T) {
	dsn := postgresDSN(t)
	up := newRecorder(t)
	const ttl = 2 * time.Second
	app := fmt.Sprintf("session_cache_ttl %s\n\t\tmaster_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ttl)
	g1 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	g2 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	const email, pw = "paula@example.com", "two instances passphrase"
	addUser(t, g1, email, "member", pw)

	a, b := browserUA(t, uaFirefoxLinux), browserUA(t, uaSafariIOS)
	signInAs(t, a, g1.url, email, pw)
	signInAs(t, b, g2.url, email, pw)
	sidA := mustReach(t, a, g1, up, email, "A on instance 1")
	sidB := mustReach(t, b, g2, up, email, "B on instance 2")
	if mustReach(t, a, g2, up, email, "A on instance 2") != sidA {
		t.Fatal("A's session is another one on instance 2")
	}
	// Instance 1 lists the session made on instance 2.
	list := listSessions(t, a, g1.url)
	want := []string{sidA, sidB}
	slices.Sort(want)
	if !slices.Equal(sessionIDs(list), want) {
		t.Fatalf("instance 1 lists %v, want %v", sessionIDs(list), want)
	}

	// B is in instance 2's cache now; A signs out everywhere else on instance 1.
	mustReach(t, b, g2, up, email, "B on instance 2, cached")
	st, body := apiCall(t, a, "DELETE", g1.url+"/auth/api/v1/sessions?others=true", nil)
	if st != http.StatusOK || !strings.Contains(body, `"revoked":1`) {
		t.Fatalf("revoke others on instance 1: %d %s", st, body)
	}
	mustBeRefused(t, b, g1, up, email, "B on instance 1, which revoked it")
	// Slack on top of the TTL for a loaded machine: what matters is that it ends, and
	// in the order of the TTL, not minutes later.
	took := refusedWithin(t, b, g2, up, email, ttl+3*time.Second, "B on instance 2")
	t.Logf("instance 2 refused the revoked session after %v (session_cache_ttl %v)", took.Round(time.Millisecond), ttl)
	mustReach(t, a, g1, up, email, "A on instance 1 after revoking the others")
	mustReach(t, a, g2, up, email, "A on instance 2 after revoking the others")
	if ids := sessionIDs(listSessions(t, a, g2.url)); !slices.Equal(ids, []string{sidA}) {
		t.Fatalf("instance 2 lists %v after the revocation, want only %s", ids, sidA)
	}
}
