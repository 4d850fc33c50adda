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
