package e2e

import (
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAdminPasskeyPolicyInChromium: with "require passkeys for admins", an admin who
// signs in with the password can only enrol a passkey (the second step offers nothing
// else); enrolling it in the browser completes the sign-in, and from then on the admin
// gets in with the password and that passkey.
func TestAdminPasskeyPolicyInChromium(t *testing.T) {
	c := newChrome(t)
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw = "ada@example.com", "passphrase for the admin policy test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", email, "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := g.cli("", "tenant", "security", "--passkeys-for-admins", "on"); err != nil {
		t.Fatalf("policy: %v\n%s", err, out)
	}
	c.addVirtualAuthenticator()

	before := up.count()
	c.passwordSignIn(g, email, pw, protectedPath)
	c.waitPath("/auth/login/2fa")
	c.waitFor("the passkey enrolment", `document.readyState === "complete" && document.getElementById("passkey-register") && !document.getElementById("code") && !document.getElementById("passkey-login")`)
	if up.count() != before {
		t.Fatal("the password alone reached the upstream")
	}
	c.do("enrolling a passkey",
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Admin laptop"),
		chromedp.Click(chromedp.ID("passkey-register")),
	)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "pwd,hwk")
	c.signOut(g)

	c.passwordSignIn(g, email, pw, protectedPath)
	c.waitPath("/auth/login/2fa")
	c.waitFor("a passkey-only second step", `document.readyState === "complete" && document.getElementById("passkey-login") && !document.getElementById("code")`)
	c.clickPasskey()
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "pwd,hwk")
	c.signOut(g)

	// A password lockout does not block the passkey, a separate authenticator.
	for i := range 5 {
		if st, _, _ := apiLoginStatus(t, g.url, email, "wrong password "+strconv.Itoa(i)); st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, st)
		}
	}
	if st, _, _ := apiLoginStatus(t, g.url, email, pw); st != http.StatusTooManyRequests {
		t.Fatalf("password after five failures: %d, want 429", st)
	}
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "hwk")
}
