package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// mailedLink waits for a link matching re in the mail the gateway wrote to its log (no
// SMTP server is configured: the log is the mailbox) and returns the newest.
func (g *gateway) mailedLink(re *regexp.Regexp) string {
	g.t.Helper()
	var link string
	waitFor(g.t, "a mailed link "+re.String(), func() bool {
		m := re.FindAllString(g.logs(), -1)
		if len(m) == 0 {
			return false
		}
		link = m[len(m)-1]
		return true
	})
	return link
}

// newMailedLink waits for a link matching re, other than prev, to be mailed (in the
// log) and returns the latest.
func (g *gateway) newMailedLink(re *regexp.Regexp, prev string) string {
	g.t.Helper()
	var link string
	waitFor(g.t, "a new mailed link "+re.String(), func() bool {
		m := re.FindAllString(g.logs(), -1)
		if len(m) == 0 || m[len(m)-1] == prev {
			return false
		}
		link = m[len(m)-1]
		return true
	})
	return link
}

var (
	emailLinkRE  = regexp.MustCompile(`http://[^"\\ ]+/auth/settings/email/confirm\?token=[A-Za-z0-9_-]+`)
	inviteLinkRE = regexp.MustCompile(`http://[^"\\ ]+/auth/invite\?token=[A-Za-z0-9_-]+`)
	resetLinkRE  = regexp.MustCompile(`http://[^"\\ ]+/auth/password/reset\?token=[A-Za-z0-9_-]+`)
)

// TestAccountJourneysInChromium walks what the sessions, members and password pages
// promise, in two real browsers: the owner signed in on both sees both sessions and
// signs the other out with one click (that browser is sent to sign-in on its next
// page); changes the password (a mistyped current one says so); invites a member, who
// joins from the mailed link in the other browser; disables the member (their open
// page is refused, sign-in is refused) and enables them again; the member resets a
// forgotten password from the mailed link and signs in with it.
func TestAccountJourneysInChromium(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	a, b := newChrome(t), newChrome(t)
	const ownerPW, newOwnerPW, memberPW, resetPW = "copper kettle on a windy pier", "a brand new kettle on the pier",
		"seven quiet lanterns by the lake", "nine loud drums across the bay"

	a.do("opening the setup link", chromedp.Navigate(g.setupURL()), chromedp.WaitVisible(chromedp.ID("workspace")))
	a.submit("creating the workspace", map[string]string{"workspace": "Salon Ruby", "email": "olive@salon.test",
		"name": "Olive Owner", "password": ownerPW, "confirm": ownerPW}, `form[action="/auth/setup"] button[type=submit]`)
	a.waitPath("/")
	signIn := func(c *chrome, email, pw, to string) {
		t.Helper()
		c.do("opening "+to, chromedp.Navigate(g.url+to))
		c.waitPath("/auth/login")
		c.submit("signing in as "+email, map[string]string{"email": email, "password": pw}, `form[action="/auth/login"] button`)
		c.waitPath(to)
	}
	signIn(b, "olive@salon.test", ownerPW, "/reports")

	// The sessions page, from the navigation: both browsers, this one marked.
	a.do("opening security", chromedp.Navigate(g.url+"/auth/settings/security"))
	nav := eval[string](a, `[...document.querySelectorAll("header nav a")].map(a => a.textContent).join("|")`)
	if nav != "Security|Sessions|Members|Roles|Workspace security|Audit|Requests|Permission review|Exports" {
		t.Fatalf("owner's navigation: %q", nav)
	}
	a.do("following the navigation", chromedp.Click(chromedp.CSS(`header nav a[href="/auth/settings/sessions"]`)))
	a.waitFor("the sessions page", `location.pathname === "/auth/settings/sessions" && document.querySelectorAll("ul.sessions li").length === 2`)
	if n := eval[int](a, `document.querySelectorAll("ul.sessions li.current .badge").length`); n != 1 {
		t.Fatalf("%d sessions marked as this device", n)
	}
	if txt := eval[string](a, `document.querySelector("ul.sessions li:not(.current)").innerText`); !strings.Contains(txt, "Chrome on Linux") || !strings.Contains(txt, "::1") && !strings.Contains(txt, "127.0.0.1") || !strings.Contains(txt, "last active") {
		t.Fatalf("the other session shows %q", txt)
	}
	a.shot("21-sessions")
	a.do("signing out everywhere else", chromedp.Click(chromedp.ID("revoke-others")))
	a.waitFor("the answer", `document.querySelector(".notice") && document.querySelectorAll("ul.sessions li").length === 1`)
	a.shot("22-sessions-others-ended")
	b.do("the other browser's next page", chromedp.Navigate(g.url+"/reports"))
	b.waitPath("/auth/login")

	// Changing the password: from the security page; a mistyped current one says so.
	a.do("opening security", chromedp.Navigate(g.url+"/auth/settings/security"))
	a.do("following Change password", chromedp.Click(chromedp.CSS(`a[href="/auth/settings/password"]`)))
	a.waitPath("/auth/settings/password")
	a.submit("a wrong current password", map[string]string{"current_password": "not it at all, sorry",
		"new_password": newOwnerPW, "confirm": newOwnerPW}, `form[action="/auth/settings/password"] button`)
	a.waitFor("the error", `document.querySelector(".error") && document.getElementById("current_password")`)
	a.shot("23-password-wrong")
	a.submit("the right one", map[string]string{"current_password": ownerPW, "new_password": newOwnerPW, "confirm": newOwnerPW},
		`form[action="/auth/settings/password"] button`)
	a.waitFor("back on security with a notice", `location.pathname === "/auth/settings/password" || location.pathname === "/auth/settings/security"`)
	a.waitFor("the notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("password is changed")`)

	// Members: invite; the invitee joins from the mailed link in the other browser.
	a.do("opening members", chromedp.Navigate(g.url+"/auth/settings/security"), chromedp.Click(chromedp.CSS(`header nav a[href="/auth/admin/members"]`)))
	a.waitPath("/auth/admin/members")
	a.submit("inviting", map[string]string{"invite-email": "mia@salon.test", "invite-name": "Mia"}, `form[action="/auth/admin/members/invite"] button`)
	a.waitFor("the invitation notice", `document.querySelector(".notice") && document.body.innerText.includes("mia@salon.test")`)
	a.shot("24-members-invited")
	link := g.mailedLink(inviteLinkRE)
	b.do("opening the invitation", chromedp.Navigate(link))
	b.waitFor("the invitation page", `document.body.innerText.includes("You are invited to Salon Ruby")`)
	b.shot("25-invite")
	b.submit("joining", map[string]string{"password": memberPW, "confirm": memberPW}, `form[action="/auth/invite"] button`)
	b.waitFor("signed in", `!location.pathname.startsWith("/auth/invite")`)
	b.do("the app", chromedp.Navigate(g.url+"/reports"))
	b.waitPath("/reports")
	if h := up.last(t); h.Get("X-Gatehouse-User-Email") != "mia@salon.test" {
		t.Fatalf("after joining the app saw %q", h.Get("X-Gatehouse-User-Email"))
	}
	b.do("the used link again", chromedp.Navigate(link))
	b.waitFor("the closed link", `document.body.innerText.includes("no longer valid") && !document.getElementById("password")`)

	// The member's page: their session; disable → their next page is refused and so is
	// signing in; enable → they sign in again.
	a.do("opening members", chromedp.Navigate(g.url+"/auth/admin/members"))
	a.do("opening Mia", chromedp.Navigate(eval[string](a, memberLinkJS("mia@salon.test"))))
	a.waitFor("a member page", `location.pathname.startsWith("/auth/admin/members/") && document.body.innerText.includes("mia@salon.test")`)
	if !eval[bool](a, `document.querySelectorAll("ul.sessions li").length === 1`) {
		t.Fatalf("member page sessions: %s", a.text())
	}
	a.shot("26-member")
	a.do("disabling", chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)))
	a.waitFor("the member disabled", `document.querySelector('form[action$="/enable"]') && document.body.innerText.includes("Not signed in anywhere")`)
	a.shot("27-member-disabled")
	b.do("the member's next page", chromedp.Navigate(g.url+"/reports"))
	b.waitPath("/auth/login")
	b.submit("signing in while disabled", map[string]string{"email": "mia@salon.test", "password": memberPW}, `form[action="/auth/login"] button`)
	b.waitFor("refused", `location.pathname === "/auth/login" && document.querySelector(".error")`)
	a.do("enabling", chromedp.Click(chromedp.CSS(`form[action$="/enable"] button`)))
	a.waitFor("the member enabled", `document.querySelector('form[action$="/disable"]')`)
	signIn(b, "mia@salon.test", memberPW, "/reports")

	// A forgotten password: from the sign-in page, the mailed link, a new password,
	// signed in with it.
	b.do("signing out", chromedp.Navigate(g.url+"/auth/logout"), chromedp.Click(chromedp.CSS(`main form[action="/auth/logout"] button`)))
	b.waitPath("/auth/login")
	b.do("following Forgot your password", chromedp.Click(chromedp.CSS(`a[href^="/auth/password/forgot"]`)))
	b.waitPath("/auth/password/forgot")
	b.submit("asking for a link", map[string]string{"email": "mia@salon.test"}, `form[action="/auth/password/forgot"] button`)
	b.waitFor("the answer", `document.body.innerText.includes("If an account uses that address")`)
	b.shot("28-forgot-sent")
	link = g.mailedLink(resetLinkRE)
	b.do("opening the reset link", chromedp.Navigate(link))
	b.waitFor("the form", `document.getElementById("password") && document.body.innerText.includes("mia@salon.test")`)
	b.shot("29-reset")
	b.submit("a new password", map[string]string{"password": resetPW, "confirm": resetPW}, `form[action="/auth/password/reset"] button`)
	b.waitFor("the sign-in page with a notice", `location.pathname === "/auth/login" && document.querySelector(".notice")`)
	b.shot("30-reset-done")
	b.submit("signing in with it", map[string]string{"email": "mia@salon.test", "password": resetPW}, `form[action="/auth/login"] button`)
	b.waitFor("signed in", `location.pathname !== "/auth/login"`)
	b.do("the app", chromedp.Navigate(g.url+"/reports"))
	b.waitPath("/reports")

	// At 390 px nothing runs off the side.
	a.do("a phone-sized window", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/auth/settings/sessions", "/auth/settings/password", "/auth/admin/members", "/auth/password/forgot"} {
		a.do("opening "+p, chromedp.Navigate(g.url+p))
		a.waitFor(p, `document.readyState === "complete"`)
		if w := eval[float64](a, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s is %v px wide at 390 px", p, w)
		}
		a.shot("31-phone" + strings.ReplaceAll(p, "/", "-"))
	}
}

// TestReauthJourneyInChromium: past reauth_age, a member action leads to "Confirm it
// is you"; the password leads back to the member's page, where the action then works.
func TestReauthJourneyInChromium(t *testing.T) {
	up := newRecorder(t)
	const age = 3 * time.Second
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL,
		site: siteConfig, app: "reauth_age 3s"})
	const ownerPW, memberPW = "copper kettle on a windy pier", "seven quiet lanterns by the lake"
	if out, err := g.cli(ownerPW+"\n", "user", "add", "--email", "olive@salon.test", "--role", "owner", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := g.cli(memberPW+"\n", "user", "add", "--email", "mia@salon.test", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c := newChrome(t)
	c.do("opening the members page", chromedp.Navigate(g.url+"/auth/admin/members"))
	c.waitPath("/auth/login")
	c.submit("signing in", map[string]string{"email": "olive@salon.test", "password": ownerPW}, `form[action="/auth/login"] button`)
	c.waitPath("/auth/admin/members")
	signedIn := time.Now()
	c.do("opening Mia", chromedp.Navigate(eval[string](c, memberLinkJS("mia@salon.test"))))
	c.waitFor("her page", `location.pathname.startsWith("/auth/admin/members/")`)
	member := c.location()
	time.Sleep(time.Until(signedIn.Add(age + 500*time.Millisecond))) // the sign-in grows older than reauth_age
	c.do("disabling", chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)))
	c.waitFor("the confirm page", `location.pathname === "/auth/reauth" && document.getElementById("password")`)
	c.shot("32-reauth")
	c.submit("the password", map[string]string{"password": ownerPW}, `form[action="/auth/reauth"] button`)
	c.waitFor("back on her page", `location.href === `+jsString(member))
	c.do("disabling again", chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)))
	c.waitFor("the member disabled", `document.querySelector('form[action$="/enable"]')`)
}

// memberLinkJS finds the members table's link to the member with this address.
func memberLinkJS(email string) string {
	return `[...document.querySelectorAll("table.members a")].find(a => a.textContent.includes(` + jsString(email) + `)).href`
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
