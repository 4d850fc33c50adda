package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// mustJSON decodes an API answer into v.
func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("not the JSON expected: %v\n%s", err, body)
	}
}

// TestDataSubjectErasureJourney walks a data-subject request against the built
// gateway: a member downloads their data (their e-mail in it, no password hash) and,
// in Chromium, asks on the security page to be erased; the owner sees the request on
// the Requests page with its 30-day deadline and erases the member there; the member
// can no longer sign in, and `gatehouse audit verify` still passes, with the member's
// records erased. With GATEHOUSE_SCREENSHOTS=<dir> it saves a screenshot of each page.
func TestDataSubjectErasureJourney(t *testing.T) {
	c := newChrome(t) // first: skips (outside CI) before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const ownerPW, memberPW = "amber lantern over the quiet harbour", "seven herons on a winter lake"
	addUser(t, g, "olive@dsr.test", "owner", ownerPW)
	addUser(t, g, "erin@dsr.test", "member", memberPW)

	// Access and portability: the JSON of everything about the member.
	api := browser(t)
	signInAs(t, api, g.url, "erin@dsr.test", memberPW)
	st, data := apiCall(t, api, "GET", g.url+"/auth/api/v1/me/data", nil)
	if st != http.StatusOK || !strings.Contains(data, `"email":"erin@dsr.test"`) || !strings.Contains(data, `"action":"login.success"`) {
		t.Fatalf("my data: %d\n%s", st, data)
	}
	if regexp.MustCompile(`\$argon2|\$2[aby]\$|(?i)password_hash|"secret"`).MatchString(data) {
		t.Fatalf("my data holds a hash or secret:\n%s", data)
	}

	// Erasure asked for on the security page.
	c.passwordSignIn(g, "erin@dsr.test", memberPW, "/auth/settings/security")
	c.waitFor("the security page", `location.pathname === "/auth/settings/security" && document.querySelector('form[action="/auth/settings/privacy/erase"]')`)
	c.shot("dsr-01-security-page")
	c.do("asking for erasure", chromedp.Click(chromedp.CSS(`form[action="/auth/settings/privacy/erase"] button`)))
	c.waitFor("the recorded request", `document.body.innerText.includes("request to be erased is recorded")`)
	c.shot("dsr-02-erasure-requested")
	if txt := c.text(); !strings.Contains(txt, "erasure") || !strings.Contains(txt, "answer due by") {
		t.Fatalf("the security page does not list the open request:\n%s", txt)
	}
	c.signOut(g)

	// The owner's Requests page: the request with its deadline; Erase now.
	c.passwordSignIn(g, "olive@dsr.test", ownerPW, "/auth/admin/requests")
	c.waitFor("the Requests page", `location.pathname === "/auth/admin/requests" && document.querySelector("table.requests")`)
	c.shot("dsr-03-requests-page")
	txt := c.text()
	for _, want := range []string{"erin@dsr.test", "erasure", "open", "30 days left", "access", "fulfilled"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the Requests page does not show %q:\n%s", want, txt)
		}
	}
	if nav := eval[string](c, `[...document.querySelectorAll("nav a")].map(a => a.textContent.trim()).join("|")`); !strings.Contains(nav, "Audit|Requests|Permission review") {
		t.Errorf("navigation: %s", nav)
	}
	c.do("erasing the member", chromedp.Click(chromedp.CSS(`form[action$="/fulfil"] button`)))
	c.waitFor("the fulfilled request", `document.body.innerText.includes("erasure request is fulfilled")`)
	c.shot("dsr-04-erased")
	if txt := c.text(); strings.Contains(txt, "erin@dsr.test") || !strings.Contains(txt, "erased member") {
		t.Errorf("the Requests page after the erasure:\n%s", txt)
	}

	if st := loginStatus(t, g.url, "erin@dsr.test", memberPW); st == http.StatusOK {
		t.Fatal("the erased member signed in")
	}
	if st, _ := apiCall(t, api, "GET", g.url+"/auth/api/v1/me", nil); st == http.StatusOK {
		t.Fatal("the erased member's session still works")
	}
	g.stop()
	out, err := verifyWith(g, g.config)
	if m := intactRE.FindStringSubmatch(out); err != nil || m == nil || !strings.Contains(out, "erased") {
		t.Fatalf("audit verify after the erasure: %v\n%s", err, out)
	}
	t.Logf("audit verify:\n%s", out)
}

// TestEmailRectificationJourney walks the e-mail change in Chromium against the built
// gateway: a member asks, on the security page, for an address another member has —
// and gets the same answer as for a free one; the link mailed there opens a page that
// says the address is taken and changes nothing. Asked again for a free address, the
// old address gets a notice, the mailed link opens a page that asks to confirm (the
// GET changes nothing), and confirming changes the address: sign-in works with the new
// one only, the member stays signed in, the link is spent, and the owner sees a
// fulfilled rectification. With GATEHOUSE_SCREENSHOTS=<dir> it saves each page.
func TestEmailRectificationJourney(t *testing.T) {
	c := newChrome(t) // first: skips (outside CI) before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const ownerPW, memberPW = "amber lantern over the quiet harbour", "seven herons on a winter lake"
	addUser(t, g, "olive@dsr.test", "owner", ownerPW)
	addUser(t, g, "erin@dsr.test", "member", memberPW)
	addUser(t, g, "bob@dsr.test", "member", memberPW)

	ask := func(email string) string {
		t.Helper()
		c.do("opening the security page", chromedp.Navigate(g.url+"/auth/settings/security"))
		c.waitFor("the address form", `document.readyState === "complete" && document.getElementById("my-email")`)
		c.submit("asking for "+email, map[string]string{"my-email": email}, `form[action="/auth/settings/privacy/email"] button`)
		c.waitFor("the answer", `document.readyState === "complete" && document.body.innerText.includes("We sent a link to")`)
		return c.text()
	}
	c.passwordSignIn(g, "erin@dsr.test", memberPW, "/auth/settings/security")
	c.waitPath("/auth/settings/security")
	c.shot("email-01-security-page")

	// An address another member has: the same answer as a free one.
	taken := ask("bob@dsr.test")
	c.shot("email-02-asked-taken")
	takenLink := g.newMailedLink(emailLinkRE, "")
	c.do("opening the link to the taken address", chromedp.Navigate(takenLink))
	c.waitFor("the taken page", `document.readyState === "complete" && document.body.innerText.includes("already uses")`)
	c.shot("email-03-taken")
	if eval[bool](c, `!!document.querySelector('form[action="/auth/settings/email/confirm"]')`) ||
		!eval[bool](c, `!!document.querySelector('a[href="/auth/settings/security"]')`) {
		t.Fatalf("the taken page offers a confirmation, or no way on:\n%s", c.text())
	}

	// A free address.
	free := ask("erin.new@dsr.test")
	c.shot("email-04-asked")
	if strings.ReplaceAll(taken, "bob@dsr.test", "X") != strings.ReplaceAll(free, "erin.new@dsr.test", "X") {
		t.Errorf("the answer tells a taken address from a free one:\n%s\n---\n%s", taken, free)
	}
	if !strings.Contains(free, "waits for you to open the link") {
		t.Errorf("the security page does not show the pending change:\n%s", free)
	}
	link := g.newMailedLink(emailLinkRE, takenLink)
	waitFor(t, "the notice to the old address", func() bool {
		return strings.Contains(g.logs(), `"to":"erin@dsr.test","subject":"A change of your`)
	})

	c.do("opening the mailed link", chromedp.Navigate(link))
	c.waitFor("the confirmation page", `document.readyState === "complete" && document.querySelector('form[action="/auth/settings/email/confirm"]')`)
	c.shot("email-05-confirm-page")
	if st := loginStatus(t, g.url, "erin@dsr.test", memberPW); st != http.StatusOK {
		t.Fatalf("opening the link changed the address already (old address: %d)", st)
	}
	c.do("confirming", chromedp.Click(chromedp.CSS(`form[action="/auth/settings/email/confirm"] button`)))
	c.waitFor("the changed page", `document.readyState === "complete" && document.body.innerText.includes("is now erin.new@dsr.test")`)
	c.shot("email-06-changed")

	if st := loginStatus(t, g.url, "erin.new@dsr.test", memberPW); st != http.StatusOK {
		t.Errorf("signing in with the new address: %d", st)
	}
	if st := loginStatus(t, g.url, "erin@dsr.test", memberPW); st == http.StatusOK {
		t.Error("the old address still signs in")
	}
	c.do("the security page again", chromedp.Navigate(g.url+"/auth/settings/security"))
	c.waitFor("the security page, still signed in", `document.readyState === "complete" && location.pathname === "/auth/settings/security"`)
	if txt := c.text(); !strings.Contains(txt, "now erin.new@dsr.test") || !strings.Contains(txt, "rectification") {
		t.Errorf("the security page after the change:\n%s", txt)
	}
	c.do("the link again", chromedp.Navigate(link))
	c.waitFor("the spent link", `document.readyState === "complete" && document.body.innerText.includes("no longer valid")`)
	c.shot("email-07-link-spent")

	owner := browser(t)
	signInAs(t, owner, g.url, "olive@dsr.test", ownerPW)
	st, body := apiCall(t, owner, "GET", g.url+"/auth/api/v1/admin/requests", nil)
	if st != http.StatusOK || !strings.Contains(body, `"kind":"rectification"`) || !strings.Contains(body, `"email":"erin.new@dsr.test"`) {
		t.Fatalf("the owner's requests: %d\n%s", st, body)
	}
}

// TestRequestsCLI: `gatehouse requests list|fulfil|refuse` on the built binary, next
// to the running gateway: the operator sees a member's open requests with their
// deadline, refuses one with a reason (not without), and fulfils a restriction, after
// which the member signs in again.
func TestRequestsCLI(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const memberPW = "seven herons on a winter lake"
	addUser(t, g, "olive@dsr.test", "owner", "amber lantern over the quiet harbour")
	addUser(t, g, "erin@dsr.test", "member", memberPW)
	c := browser(t)
	signInAs(t, c, g.url, "erin@dsr.test", memberPW)
	var erasure, restriction struct{ ID string }
	st, body := apiCall(t, c, "POST", g.url+"/auth/api/v1/me/erasure", nil)
	if st != http.StatusCreated {
		t.Fatalf("asking for erasure: %d %s", st, body)
	}
	mustJSON(t, body, &erasure)
	st, body = apiCall(t, c, "POST", g.url+"/auth/api/v1/me/restrict", nil)
	if st != http.StatusOK {
		t.Fatalf("restricting: %d %s", st, body)
	}
	mustJSON(t, body, &restriction)

	out, err := g.cli("", "requests", "list", "--open")
	if err != nil {
		t.Fatalf("requests list: %v\n%s", err, out)
	}
	for _, want := range []string{"DAYS LEFT", erasure.ID, restriction.ID, "erin@dsr.test", "erasure", "restriction", "open"} {
		if !strings.Contains(out, want) {
			t.Errorf("requests list lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)` + erasure.ID + `.*\s30\s*$`).MatchString(out) {
		t.Errorf("the erasure request does not show 30 days left:\n%s", out)
	}
	if out, err := g.cli("", "requests", "refuse", "--id", erasure.ID); err == nil || !strings.Contains(out, "--reason") {
		t.Fatalf("refusing without a reason: %v\n%s", err, out)
	}
	if out, err := g.cli("", "requests", "refuse", "--id", erasure.ID, "--reason", "an open invoice"); err != nil || !strings.Contains(out, "refused") {
		t.Fatalf("refusing: %v\n%s", err, out)
	}
	if out, err := g.cli("", "requests", "refuse", "--id", erasure.ID, "--reason", "again"); err == nil || !strings.Contains(out, "no open request") {
		t.Fatalf("refusing twice: %v\n%s", err, out)
	}
	if st := loginStatus(t, g.url, "erin@dsr.test", memberPW); st == http.StatusOK {
		t.Fatal("a restricted member signed in")
	}
	if out, err := g.cli("", "requests", "fulfil", "--id", restriction.ID); err != nil || !strings.Contains(out, "fulfilled") {
		t.Fatalf("lifting the restriction: %v\n%s", err, out)
	}
	if st := loginStatus(t, g.url, "erin@dsr.test", memberPW); st != http.StatusOK {
		t.Fatalf("the member after the restriction was lifted: %d", st)
	}
	out, err = g.cli("", "requests", "list")
	if err != nil || !strings.Contains(out, "refused") || !strings.Contains(out, "fulfilled") {
		t.Fatalf("requests list after: %v\n%s", err, out)
	}
	if out, _ := g.cli("", "requests", "list", "--open"); strings.Contains(out, erasure.ID) || strings.Contains(out, restriction.ID) {
		t.Errorf("--open lists resolved requests:\n%s", out)
	}
}
