package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	otptotp "github.com/pquerna/otp/totp"
)

// shot saves a full-page screenshot as name.png in $GATEHOUSE_SCREENSHOTS, for people
// to look at (it does nothing without the variable).
func (c *chrome) shot(name string) {
	c.t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := c.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// text is the visible text of the page.
func (c *chrome) text() string {
	c.t.Helper()
	return eval[string](c, `document.body.innerText`)
}

// submit fills fields (id → value) and clicks the form's submit button (a CSS selector).
func (c *chrome) submit(what string, fields map[string]string, button string) {
	c.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		actions = append(actions, chromedp.SetValue(chromedp.ID(id), v))
	}
	actions = append(actions, chromedp.Click(chromedp.CSS(button)))
	c.do(what, actions...)
}

func totpNow(t *testing.T, secret string) string {
	t.Helper()
	code, err := otptotp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestJourneysInChromium walks the portal as people do, in a real browser, and checks
// where each step lands: the first owner from the setup link naming the workspace, the
// navigation, the workspace page and an unlock that finds nothing, enrolling an
// authenticator app through a mistyped code, recovery codes that lead on, a member whom
// the policy forces to enrol and who comes back to the app URL they opened, the grace
// period's reminder with its Continue, sign-out, error pages, and the pages at 390 px.
// With GATEHOUSE_SCREENSHOTS=<dir> it saves a screenshot of every page.
func TestJourneysInChromium(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	c := newChrome(t)
	const ownerPW, memberPW = "copper kettle on a windy pier", "seven quiet lanterns by the lake"

	// The setup link: the form asks for the workspace's name first.
	c.do("opening the setup link", chromedp.Navigate(g.setupURL()), chromedp.WaitVisible(chromedp.ID("workspace")))
	c.shot("01-setup")
	c.submit("creating the workspace", map[string]string{"workspace": "Salon Ruby", "email": "olive@salon.test",
		"name": "Olive Owner", "password": ownerPW, "confirm": ownerPW}, `form[action="/auth/setup"] button[type=submit]`)
	c.waitPath("/")
	if h := up.last(t); h.Get("X-Gatehouse-User-Email") != "olive@salon.test" || h.Get("X-Gatehouse-Roles") != "owner" {
		t.Fatalf("after setup the app saw %q %q", h.Get("X-Gatehouse-User-Email"), h.Get("X-Gatehouse-Roles"))
	}
	// A used setup link says so; it shows no form.
	c.do("opening the setup link again", chromedp.Navigate(g.setupURL()))
	c.waitFor("the closed setup page", `document.readyState === "complete"`)
	if txt := c.text(); !strings.Contains(txt, "no longer valid") || eval[bool](c, `!!document.getElementById("workspace")`) {
		t.Fatalf("used setup link shows:\n%s", txt)
	}

	// The security page: the workspace's name, the navigation, a way back, sign-out.
	c.do("opening security", chromedp.Navigate(g.url+"/auth/settings/security"))
	c.waitFor("the security page", `document.querySelector('nav a[aria-current="page"]')`)
	nav := eval[string](c, `[...document.querySelectorAll("header nav a")].map(a => a.textContent + " " + a.getAttribute("href")).join("|")`)
	if nav != "Security /auth/settings/security|Sessions /auth/settings/sessions|Members /auth/admin/members|Roles /auth/admin/roles|Workspace security /auth/admin/security|Audit /auth/admin/audit|Requests /auth/admin/requests|Permission review /auth/admin/team/audit|Exports /auth/admin/exports" {
		t.Fatalf("owner's navigation: %q", nav)
	}
	if b := eval[string](c, `document.querySelector("header .brand").textContent`); b != "Salon Ruby" {
		t.Fatalf("brand %q", b)
	}
	if !eval[bool](c, `!!document.querySelector('header a[href="/"]') && !!document.querySelector('header form[action="/auth/logout"] button')`) {
		t.Fatal("no way back to the app or no sign-out in the header")
	}
	// A user's own page stays narrow (the admin pages below are wide).
	if eval[bool](c, `document.querySelector("main").classList.contains("wide")`) {
		t.Fatal("the security page is wide")
	}
	// Recovery codes back up a second factor: without one they are not offered.
	if eval[bool](c, `!!document.querySelector('form[action="/auth/settings/recovery/regenerate"]')`) {
		t.Fatal("recovery codes offered without a second factor")
	}
	c.shot("02-security")

	// The workspace page is wide; an unlock of an address nobody has says so.
	c.do("following the navigation", chromedp.Click(chromedp.CSS(`header nav a[href="/auth/admin/security"]`)))
	c.waitPath("/auth/admin/security")
	if !eval[bool](c, `document.querySelector("main").classList.contains("wide")`) {
		t.Fatal("the workspace page is not wide")
	}
	c.submit("unlocking an unknown address", map[string]string{"unlock-email": "nobody@salon.test"}, `form[action="/auth/admin/unlock"] button`)
	c.waitFor("the unlock answer", `document.querySelector(".notice")`)
	if n := eval[string](c, `document.querySelector(".notice").textContent`); n != "No member has the address nobody@salon.test, and it was not locked." {
		t.Fatalf("unlock said %q", n)
	}
	c.shot("03-workspace-security")

	// Enrolling an app: a mistyped code shows the same key again; the right one leads to
	// the recovery codes, and from there back to the security page.
	c.do("starting the app", chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/settings/totp/enroll"] button`)))
	c.waitFor("the enrol page", `document.getElementById("totp-secret")`)
	secret := eval[string](c, `document.getElementById("totp-secret").textContent`)
	c.submit("a mistyped code", map[string]string{"code": "000000"}, `form[action="/auth/settings/totp/confirm"] button`)
	c.waitFor("the error", `document.querySelector(".error") && document.getElementById("totp-secret")`)
	if again := eval[string](c, `document.getElementById("totp-secret").textContent`); again != secret {
		t.Fatalf("after a mistyped code the key changed: %q, was %q", again, secret)
	}
	c.shot("04-totp-mistyped")
	c.submit("the right code", map[string]string{"code": totpNow(t, secret)}, `form[action="/auth/settings/totp/confirm"] button`)
	c.waitFor("the recovery codes", `document.querySelectorAll("#recovery-codes li").length === 10`)
	c.shot("05-recovery-codes")
	c.do("leaving the codes", chromedp.Click(chromedp.ID("codes-done")))
	c.waitPath("/auth/settings/security")
	if !eval[bool](c, `!!document.querySelector('form[action="/auth/settings/recovery/regenerate"]')`) {
		t.Fatal("no recovery codes section once a factor exists")
	}

	// Require 2FA with no grace: a new member who opens an app URL is led to enrol and
	// then to that URL.
	if out, err := g.cli(memberPW+"\n", "user", "add", "--email", "mia@salon.test", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := g.cli("", "tenant", "security", "--require-2fa", "on", "--grace", "0d"); err != nil {
		t.Fatalf("policy: %v %s", err, out)
	}
	c.do("signing out from the header", chromedp.Click(chromedp.CSS(`header form[action="/auth/logout"] button`)))
	c.waitFor("the signed-out page", `location.pathname === "/auth/login" && document.querySelector(".notice")`)
	c.shot("06-signed-out")
	c.do("opening an app page", chromedp.Navigate(g.url+"/reports"))
	c.waitPath("/auth/login")
	c.submit("the member's password", map[string]string{"email": "mia@salon.test", "password": memberPW}, `form[action="/auth/login"] button`)
	c.waitPath("/auth/login/2fa")
	c.do("opening the app page again", chromedp.Navigate(g.url+"/reports"))
	c.waitFor("the enrol step, not the password form", `location.pathname === "/auth/login/2fa" && document.querySelector('form[action="/auth/settings/totp/enroll"]')`)
	c.shot("07-enrol-step")
	c.do("enrolling an app", chromedp.Click(chromedp.CSS(`form[action="/auth/settings/totp/enroll"] button`)))
	c.waitFor("the enrol page", `document.getElementById("totp-secret")`)
	secret = eval[string](c, `document.getElementById("totp-secret").textContent`)
	c.submit("the code", map[string]string{"code": totpNow(t, secret)}, `form[action="/auth/settings/totp/confirm"] button`)
	c.waitFor("the recovery codes", `document.querySelectorAll("#recovery-codes li").length === 10`)
	c.do("continuing", chromedp.Click(chromedp.ID("codes-done")))
	c.waitPath("/reports")
	if h := up.last(t); h.Get("X-Gatehouse-User-Email") != "mia@salon.test" || h.Get("X-Gatehouse-Auth-Methods") != "pwd,otp" {
		t.Fatalf("after enrolling the app saw %q %q", h.Get("X-Gatehouse-User-Email"), h.Get("X-Gatehouse-Auth-Methods"))
	}

	// A 7-day grace period: the reminder's Continue goes on to where the member was going.
	if out, err := g.cli("", "tenant", "security", "--grace", "7d"); err != nil {
		t.Fatalf("policy: %v %s", err, out)
	}
	if out, err := g.cli(memberPW+"\n", "user", "add", "--email", "gus@salon.test", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c.do("signing out", chromedp.Navigate(g.url+"/auth/logout"), chromedp.Click(chromedp.CSS(`main form[action="/auth/logout"] button`)))
	c.waitPath("/auth/login")
	c.do("opening an app page", chromedp.Navigate(g.url+"/reports?week=49"))
	c.waitPath("/auth/login")
	c.submit("the member's password", map[string]string{"email": "gus@salon.test", "password": memberPW}, `form[action="/auth/login"] button`)
	c.waitFor("the reminder", `document.body.innerText.includes("Continue for now")`)
	c.shot("08-grace-reminder")
	c.do("continuing for now", chromedp.Click(chromedp.CSS(`a[href="/reports?week=49"]`)))
	c.waitPath("/reports")

	// Error pages keep the layout and a way on.
	c.do("a page that does not exist", chromedp.Navigate(g.url+"/auth/nope"))
	c.waitFor("the 404 page", `document.querySelector("main h1") && document.querySelector("main a.button")`)
	c.shot("09-not-found")

	// At 390 px nothing runs off the side.
	c.do("a phone-sized window", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/auth/settings/security", "/auth/login/2fa", "/auth/logout"} {
		c.do("opening "+p, chromedp.Navigate(g.url+p))
		c.waitFor(p, `document.readyState === "complete"`)
		if w := eval[float64](c, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s is %v px wide at 390 px", p, w)
		}
		c.shot("10-phone" + strings.ReplaceAll(p, "/", "-"))
	}
}
