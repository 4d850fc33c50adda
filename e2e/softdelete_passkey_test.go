package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRemovedPasskeyRestoredInChromium: a member removes their passkey on the
// security page; the authenticator still holds the credential, but its assertion is
// refused (401, no session). The owner finds it under "Removed second factors" on the
// member's page and restores it with one click; the same passkey signs in again.
func TestRemovedPasskeyRestoredInChromium(t *testing.T) {
	c := newChrome(t) // first: skips before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const owner, ownerPW = "orla@example.com", "granite harbour violet four"
	const email, pw = "mia@example.com", "linen thistle compass ten"
	addUser(t, g, owner, "owner", ownerPW)
	addUser(t, g, email, "member", pw)
	o := browser(t)
	signInAs(t, o, g.url, owner, ownerPW)
	id := member(t, o, g.url, email).ID
	c.addVirtualAuthenticator()

	c.passwordSignIn(g, email, pw, protectedPath)
	c.waitPath(protectedPath)
	c.do("registering a passkey",
		chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Mia's laptop"),
		chromedp.Click(chromedp.ID("passkey-register")),
	)
	c.waitFor("the new passkey in the list",
		`location.pathname === "/auth/settings/security" && [...document.querySelectorAll("ul.list li strong")].some(e => e.textContent === "Mia's laptop")`)
	c.do("removing it", chromedp.Click(chromedp.CSS(`form[action="/auth/settings/passkeys/delete"] button`)))
	c.waitFor("the passkey gone", `location.pathname === "/auth/settings/security" && document.readyState === "complete" && document.querySelectorAll('form[action="/auth/settings/passkeys/delete"]').length === 0`)
	c.signOut(g)

	// The removed passkey's assertion is refused.
	before := up.count()
	mark := c.apiMark()
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	for deadline := time.Now().Add(stepTimeout); len(c.apiResponses(mark)) < 2 && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
	}
	if c.expectAPI(t, "a removed passkey", mark, "401"); t.Failed() {
		t.FailNow()
	}
	c.waitFor("an error after the passkey", `(document.getElementById("passkey-error") || {}).textContent !== "" && !document.getElementById("passkey-login").hasAttribute("aria-busy")`)
	c.expectSignedOut(t, g, up, "a removed passkey")
	if up.count() != before {
		t.Fatal("a removed passkey reached the upstream")
	}

	// The owner restores it from the member's page.
	c.passwordSignIn(g, owner, ownerPW, "/auth/admin/members/"+id)
	c.waitFor("the member's page with the removed passkey", `location.pathname === "/auth/admin/members/`+id+`" && document.readyState === "complete" && document.getElementById("removed-factors")`)
	if text := c.text(); !strings.Contains(text, "Removed second factors") || !strings.Contains(text, "Passkey “Mia's laptop”") || !strings.Contains(text, "restorable until") {
		t.Fatalf("the member's page:\n%s", text)
	}
	c.shot("factors-1-member-page-removed")
	c.do("restoring it", chromedp.Click(chromedp.CSS(`#removed-factors form[action="/auth/admin/members/`+id+`/factors/restore"] button`)))
	c.waitFor("the notice", `document.readyState === "complete" && document.body.innerText.includes("is restored") && !document.getElementById("removed-factors")`)
	c.shot("factors-2-restored")
	if st, body := apiCall(t, o, "GET", g.url+"/auth/api/v1/admin/members/"+id, nil); st != http.StatusOK || !strings.Contains(body, `"passkeys":1`) {
		t.Fatalf("the member after the restore: %d %s", st, body)
	}
	c.signOut(g)

	// The same passkey signs in again.
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, email, "hwk")
}
