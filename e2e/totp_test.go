package e2e

import (
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// oathtool runs the independent TOTP implementation from Debian's oathtool package.
func oathtool(t *testing.T, secret, now string) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.Need(t, "oathtool is not installed (apt-get install oathtool, or run make test, which installs it)")
	}
	out, err := exec.Command(path, "--totp", "-b", "-N", now, secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var secretRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
var codeRE = regexp.MustCompile(`<li><code>([a-z0-9-]{14})</code></li>`)

// postForm posts a form with the page's CSRF token.
func postForm(t *testing.T, c *http.Client, u, csrf string, v url.Values) (int, string, *http.Response) {
	t.Helper()
	v.Set("csrf", csrf)
	req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

// TestTOTPWithOathtool enrols an authenticator app through the real pages, reads the
// key the page shows, and signs in with codes computed by oathtool.
func TestTOTPWithOathtool(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const pw = "passphrase for the totp test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "otp@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c := browser(t)
	if resp := signInForm(t, c, g.url, "otp@example.com", pw, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	_, body, _ := get(t, c, g.url+"/auth/settings/security")
	st, body, _ := postForm(t, c, g.url+"/auth/settings/totp/enroll", csrfFrom(t, body), url.Values{})
	m := secretRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("enrol page: %d\n%s", st, body)
	}
	secret := m[1]
	st, body, _ = postForm(t, c, g.url+"/auth/settings/totp/confirm", csrfFrom(t, body), url.Values{"code": {oathtool(t, secret, "now")}})
	codes := codeRE.FindAllStringSubmatch(body, -1)
	if st != http.StatusOK || len(codes) != 10 {
		t.Fatalf("confirm: %d, %d recovery codes\n%s", st, len(codes), body)
	}

	// A new browser: password, then the 2FA page, then a code from oathtool (the next
	// step: the current one was spent confirming the enrolment).
	b := browser(t)
	resp := signInForm(t, b, g.url, "otp@example.com", pw, "/reports")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login/2fa") {
		t.Fatalf("password step: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	before := up.count()
	if st, _, _ := get(t, b, g.url+"/reports"); st != http.StatusFound || up.count() != before {
		t.Fatalf("half-signed-in request reached the upstream (%d)", st)
	}
	_, body, _ = get(t, b, g.url+resp.Header.Get("Location"))
	csrf := csrfFrom(t, body)
	if st, _, _ := postForm(t, b, g.url+"/auth/login/2fa", csrf, url.Values{"code": {oathtool(t, secret, "now - 90 seconds")}, "rd": {"/reports"}}); st != http.StatusUnauthorized {
		t.Fatalf("code three steps old: %d", st)
	}
	st, _, resp = postForm(t, b, g.url+"/auth/login/2fa", csrf, url.Values{"code": {oathtool(t, secret, "now + 30 seconds")}, "rd": {"/reports"}})
	if st != http.StatusSeeOther || resp.Header.Get("Location") != "/reports" {
		t.Fatalf("2FA step: %d %q", st, resp.Header.Get("Location"))
	}
	if st, _, _ := get(t, b, g.url+"/reports"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-Auth-Methods") != "pwd,otp" {
		t.Fatalf("after 2FA: %d, methods %q", st, up.last(t).Get("X-Gatehouse-Auth-Methods"))
	}

	// A recovery code signs in too, once.
	r := browser(t)
	resp = signInForm(t, r, g.url, "otp@example.com", pw, "/")
	_, body, _ = get(t, r, g.url+resp.Header.Get("Location"))
	st, body, _ = postForm(t, r, g.url+"/auth/login/2fa", csrfFrom(t, body), url.Values{"code": {codes[0][1]}, "rd": {"/"}})
	if st != http.StatusOK || !strings.Contains(body, "9 recovery codes left") {
		t.Fatalf("recovery code: %d\n%s", st, body)
	}
	if st, _, _ := get(t, r, g.url+"/x"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-Auth-Methods") != "pwd,rec" {
		t.Fatalf("after recovery code: %d %q", st, up.last(t).Get("X-Gatehouse-Auth-Methods"))
	}
}

// hasFields tells whether a line of out starts (after spaces) with label and contains
// every value.
func hasFields(out, label string, values ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), label) {
			continue
		}
		ok := true
		for _, v := range values {
			ok = ok && strings.Contains(line, v)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestCLIPolicyAndReset: the CLI shows and changes the tenant policy and resets a
// user's factors, against the same store the gateway uses.
func TestCLIPolicyAndReset(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	// Durations read as they are written (7d, not 168h0m0s), and what is in effect is
	// shown — the gateway's defaults included — never zeros.
	out, err := g.cli("", "tenant", "security")
	if err != nil || !hasFields(out, "require 2FA:", "off, grace period 7d") ||
		!hasFields(out, "lockout:", "after 5 failures (gateway default), for 15m (gateway default), doubling up to 24h (gateway default)") {
		t.Fatalf("show policy: %v %s", err, out)
	}
	out, err = g.cli("", "tenant", "security", "--require-2fa", "on", "--grace", "0d", "--passkeys-for-admins", "on", "--on-anomaly", "block")
	if err != nil || !hasFields(out, "require 2FA:", "on since", "grace period 0") || !hasFields(out, "require passkeys for admins:", "on") ||
		!hasFields(out, "on unusual sign-in:", "block") {
		t.Fatalf("set policy: %v %s", err, out)
	}
	if out, err := g.cli("", "tenant", "security", "--lockout-threshold", "3", "--lockout-duration", "5m"); err != nil ||
		!hasFields(out, "lockout:", "after 3 failures (this tenant), for 5m (this tenant), doubling up to 24h (gateway default)") {
		t.Fatalf("tenant lockout policy: %v %s", err, out)
	}
	if out, err := g.cli("", "tenant", "security", "--grace", "100d"); err == nil || !strings.Contains(out, "--grace") {
		t.Fatalf("out-of-range grace period: %v %s", err, out)
	}
	if out, err := g.cli("", "tenant", "security", "--require-2fa", "maybe"); err == nil || !strings.Contains(out, `--require-2fa "maybe"`) {
		t.Fatalf("bad flag value: %v %s", err, out)
	}
	const pw = "passphrase for the policy test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "pol@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	// Zero grace: a member without a factor is sent to enrolment, not upstream.
	c := browser(t)
	resp := signInForm(t, c, g.url, "pol@example.com", pw, "/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login/2fa") {
		t.Fatalf("enrol-only sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body, _ := get(t, c, g.url+resp.Header.Get("Location"))
	if !strings.Contains(body, "Set up two-step verification") || !strings.Contains(body, "Set up an authenticator app") {
		t.Fatalf("enrolment page:\n%s", body)
	}
	if out, err := g.cli("", "user", "reset-2fa", "--email", "pol@example.com"); err != nil || !strings.Contains(out, "removed the second factors of pol@example.com") {
		t.Fatalf("reset-2fa: %v %s", err, out)
	}
	// Without Redis the counters live in the gateway's memory: the CLI says so.
	if out, err := g.cli("", "user", "unlock", "--email", "pol@example.com"); err == nil || !strings.Contains(out, "unlock through the admin page") {
		t.Fatalf("unlock without redis: %v %s", err, out)
	}
}
