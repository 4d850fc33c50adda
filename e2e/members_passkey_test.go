package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDisabledMemberPasskeyInChromium: a member with a passkey who is disabled loses
// the session they signed in with it (within session_cache_ttl: the CLI is another
// process), and the passkey no longer signs them in; once enabled, it does again.
func TestDisabledMemberPasskeyInChromium(t *testing.T) {
	c := newChrome(t) // first: skips before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "dora@example.com", "silver orchard beacon fifteen"
	addUser(t, g, email, "member", pw)
	c.addVirtualAuthenticator()

	// Register a passkey through the settings page.
	c.passwordSignIn(g, email, pw, protectedPath)
	c.waitPath(protectedPath)
	c.do("registering a passkey",
		chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Dora's laptop"),
		chromedp.Click(chromedp.ID("passkey-register")),
	)
	c.waitFor("the new passkey in the list",
		`location.pathname === "/auth/settings/security" && [...document.querySelectorAll("ul.list li strong")].some(e => e.textContent === "Dora's laptop")`)
	c.signOut(g)

	// It signs in passwordless.
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "hwk")

	// Disabled: the passkey session ends (the browser's cookies get nowhere) ...
	cliOK(t, g, email+": disabled", "user", "disable", "--email", email)
	start := time.Now()
	for !c.refusedNow(t, g, up) {
		if time.Since(start) > revokeLimit {
			t.Fatalf("the disabled member's passkey session still reaches the upstream %v later", revokeLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.do("opening the app", chromedp.Navigate(g.url+protectedPath))
	c.waitPath(signInPath)

	// ... and the passkey is refused: the server answers the assertion with 401, the
	// page says so, and no cookie gets through.
	before := up.count()
	mark := c.apiMark()
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	for deadline := time.Now().Add(stepTimeout); len(c.apiResponses(mark)) < 2 && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond) // the assertion's answer
	}
	if c.expectAPI(t, "a disabled member's passkey", mark, "401"); t.Failed() {
		t.FailNow()
	}
	c.waitFor("an error after the passkey", `(document.getElementById("passkey-error") || {}).textContent !== "" && !document.getElementById("passkey-login").hasAttribute("aria-busy")`)
	t.Logf("the page says: %q", eval[string](c, `document.getElementById("passkey-error").textContent`))
	if loc := c.location(); !strings.Contains(loc, signInPath) {
		t.Errorf("a disabled member's passkey: the page moved on to %s", loc)
	}
	c.expectSignedOut(t, g, up, "a disabled member's passkey")
	if up.count() != before {
		t.Fatal("a disabled member's passkey reached the upstream")
	}

	// Enabled again: the same passkey signs in.
	cliOK(t, g, email+": active", "user", "enable", "--email", email)
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "hwk")
}

// refusedNow replays the browser's cookies for the gateway from Go: true when the
// gateway sends them to sign in without reaching the upstream, false when they reach
// it; anything else fails the test.
func (c *chrome) refusedNow(t *testing.T, g *gateway, up *recorder) bool {
	t.Helper()
	before := up.count()
	req, _ := http.NewRequest("GET", g.url+protectedPath, nil)
	for _, ck := range c.cookies(g.url) {
		req.AddCookie(ck)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && up.count() == before+1:
		return false
	case resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), signInPath) && up.count() == before:
		return true
	}
	t.Fatalf("replaying the browser's cookies: %d Location %q, upstream reached %d times", resp.StatusCode, resp.Header.Get("Location"), up.count()-before)
	return false
}

// TestPasskeyReauthInChromium: past reauth_age, removing a passkey asks "Confirm it
// is you", where a passkey does instead of the password; back on the security page the
// removal then goes through.
func TestPasskeyReauthInChromium(t *testing.T) {
	c := newChrome(t)
	up := newRecorder(t)
	const age = 4 * time.Second
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig, "reauth_age 4s")
	const email, pw = "rita@example.com", "amber meadow lantern twelve"
	addUser(t, g, email, "member", pw)
	c.addVirtualAuthenticator()
	c.passwordSignIn(g, email, pw, protectedPath)
	c.waitPath(protectedPath)
	signedIn := time.Now()
	c.do("registering a passkey",
		chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Laptop"),
		chromedp.Click(chromedp.ID("passkey-register")),
	)
	c.waitFor("the passkey in the list", `[...document.querySelectorAll("ul.list li strong")].some(e => e.textContent === "Laptop")`)
	time.Sleep(time.Until(signedIn.Add(age + 500*time.Millisecond))) // the sign-in grows older than reauth_age
	deleteFirst := chromedp.Click(chromedp.CSS(`form[action="/auth/settings/passkeys/delete"] button`))
	c.do("removing a passkey", chromedp.Navigate(g.url+"/auth/settings/security"), chromedp.WaitVisible(chromedp.ID("passkey-register")), deleteFirst)
	c.waitFor("the confirm page with a passkey button", `location.pathname === "/auth/reauth" && document.getElementById("passkey-login") && document.getElementById("password")`)
	c.clickPasskey()
	c.waitPath("/auth/settings/security")
	c.do("removing it again", deleteFirst)
	c.waitFor("the passkey gone", `location.pathname === "/auth/settings/security" && document.querySelectorAll('form[action="/auth/settings/passkeys/delete"]').length === 0`)
}
