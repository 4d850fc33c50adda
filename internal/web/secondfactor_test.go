package web

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// enrolTOTP signs in, enrols an authenticator app through the API and returns its
// secret and the recovery codes.
func enrolTOTP(t *testing.T, f *fixture, clk *clock.Fake, email, pw string) (string, []string) {
	t.Helper()
	c := noRedirect(t)
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": email, "password": pw}); st != 200 || out["status"] != "signed_in" {
		t.Fatalf("login before enrolment: %d %v", st, out)
	}
	st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", map[string]string{})
	secret, _ := out["secret"].(string)
	if st != 200 || secret == "" || !strings.HasPrefix(out["otpauth_url"].(string), "otpauth://totp/") || out["qr_png"] == "" {
		t.Fatalf("enroll: %d %v", st, out)
	}
	wrong, _ := otptotp.GenerateCode(secret, clk.Now().Add(-5*time.Minute))
	if st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/confirm", map[string]string{"code": wrong}); st != 400 {
		t.Fatalf("confirm with a stale code: %d", st)
	}
	code, _ := otptotp.GenerateCode(secret, clk.Now())
	st, out = postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/confirm", map[string]string{"code": code})
	raw, _ := out["recovery_codes"].([]any)
	if st != 200 || len(raw) != 10 {
		t.Fatalf("confirm: %d %v", st, out)
	}
	var codes []string
	for _, r := range raw {
		codes = append(codes, r.(string))
	}
	return secret, codes
}

func TestTOTPSignInReplayAndRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	f.addUser(t, "two@example.com", "a perfectly fine passphrase")
	secret, codes := enrolTOTP(t, f, clk, "two@example.com", "a perfectly fine passphrase")

	login := func() *http.Client {
		c := noRedirect(t)
		st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "two@example.com", "password": "a perfectly fine passphrase"})
		if st != 200 || out["status"] != "second_factor" {
			t.Fatalf("password step: %d %v", st, out)
		}
		return c
	}
	// The code used to confirm enrolment cannot be used again (same step).
	c := login()
	sameStep, _ := otptotp.GenerateCode(secret, clk.Now())
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": sameStep}); st != 401 {
		t.Fatalf("replayed confirmation code: %d %v", st, out)
	}
	// The next step's code works (skew +1), once.
	next, _ := otptotp.GenerateCode(secret, clk.Now().Add(30*time.Second))
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": next}); st != 200 || out["status"] != "signed_in" {
		t.Fatalf("valid code: %d %v", st, out)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/auth/api/v1/me", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("me after 2FA: %v", err)
	}
	if st, _ := postJSON(t, login(), f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": next}); st != 401 {
		t.Fatalf("same code in a second sign-in: %d", st)
	}

	// Twenty parallel submissions of one fresh valid code: exactly one succeeds.
	clk.Advance(90 * time.Second)
	fresh, _ := otptotp.GenerateCode(secret, clk.Now())
	clients := make([]*http.Client, 20)
	for i := range clients {
		clients[i] = login()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, cl := range clients {
		wg.Go(func() {
			st, _ := postJSON(t, cl, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": fresh})
			if st == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d of 20 parallel submissions of one code succeeded, want exactly 1", ok)
	}

	// A recovery code works once; the user is told how many remain.
	c = login()
	st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/recovery", map[string]string{"code": strings.ToUpper(codes[3])})
	if st != 200 || out["recovery_codes_remaining"] != float64(9) {
		t.Fatalf("recovery code: %d %v", st, out)
	}
	if st, _ := postJSON(t, login(), f.srv.URL+"/auth/api/v1/login/recovery", map[string]string{"code": codes[3]}); st != 401 {
		t.Fatalf("reused recovery code: %d", st)
	}
}

// TestPendingSessionGrantsNothing: with only the password done, the upstream, the
// portal's own pages and API all refuse.
func TestPendingSessionGrantsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.addUser(t, "half@example.com", "a perfectly fine passphrase")
	enrolTOTP(t, f, clk, "half@example.com", "a perfectly fine passphrase")

	c := noRedirect(t)
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "half@example.com", "password": "a perfectly fine passphrase"}); out["status"] != "second_factor" {
		t.Fatalf("password step: %d %v", st, out)
	}
	u, _ := url.Parse(f.srv.URL)
	var token string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == session.CookieNamePlain {
			token = ck.Value
		}
	}
	// Portal: me, settings, TOTP enrolment.
	req, _ := http.NewRequest("GET", f.srv.URL+"/auth/api/v1/me", nil)
	if resp, _ := c.Do(req); resp.StatusCode != 401 {
		t.Errorf("me with a pending session: %d", resp.StatusCode)
	}
	if resp, _ := c.Get(f.srv.URL + "/auth/settings/security"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
		t.Errorf("settings with a pending session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", map[string]string{}); st != 401 {
		t.Errorf("TOTP enrolment with a pending session: %d", st)
	}
	// Upstream: the gateway's check (Validate) treats the pending token as no session.
	if _, err := f.sessions.Validate(t.Context(), f.handle, "acme", token); err == nil {
		t.Fatal("pending session validates as a full session")
	}
	if _, err := f.sessions.ValidatePending(t.Context(), f.handle, "acme", token); err != nil {
		t.Fatalf("pending session not found: %v", err)
	}
}

// TestStartOverAbandonsPendingSignIn: "Start over" on the second step (a logout POST)
// revokes the half-done sign-in.
func TestStartOverAbandonsPendingSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.addUser(t, "back@example.com", "a perfectly fine passphrase")
	enrolTOTP(t, f, clk, "back@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	if _, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "back@example.com", "password": "a perfectly fine passphrase"}); out["status"] != "second_factor" {
		t.Fatalf("password step: %v", out)
	}
	u, _ := url.Parse(f.srv.URL)
	var token string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == session.CookieNamePlain {
			token = ck.Value
		}
	}
	resp, err := c.Get(f.srv.URL + "/auth/login/2fa")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_, _ = io_Copy(&b, resp)
	m := csrfRE.FindStringSubmatch(b.String())
	if m == nil || !strings.Contains(b.String(), `action="/auth/logout"`) {
		t.Fatalf("2FA page has no start-over form:\n%s", b.String())
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/logout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start over: %v", err)
	}
	if _, err := f.sessions.ValidatePending(t.Context(), f.handle, "acme", token); err == nil {
		t.Fatal("the half-done sign-in survived starting over")
	}
}
