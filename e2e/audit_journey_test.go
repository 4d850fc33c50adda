package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAuditWritesJourneyInChromium: an owner who wants to know who changed a record
// in the app finds the proxied write on the Audit page — filtered by action, opened to
// its details (method, path, rule, the upstream's status) — and the denied requests
// of a signed-in user as one record with their count and the user's name. With GATEHOUSE_SCREENSHOTS=<dir> it saves a
// screenshot of each page.
func TestAuditWritesJourneyInChromium(t *testing.T) {
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const ownerPW = "amber lantern over the quiet harbour"
	addUser(t, g, "olive@clinic.test", "owner", ownerPW)

	c := newChrome(t)
	c.passwordSignIn(g, "olive@clinic.test", ownerPW, "/patients/7")
	c.waitPath("/patients/7")
	// The app's page changes a record: a write through the gateway.
	if st := eval[float64](c, `fetch("/api/patients/7/notes", {method: "POST", body: "{}"}).then(r => r.status)`); st != 200 {
		t.Fatalf("the write answered %v", st)
	}
	for range 3 {
		if st := eval[float64](c, `fetch("/admin/users").then(r => r.status)`); st != 403 {
			t.Fatalf("the denied route answered %v", st)
		}
	}

	found := false
	for range 50 { // the write is group-committed a moment after the answer
		c.do("searching the audit trail", chromedp.Navigate(g.url+"/auth/admin/audit?action=proxy."))
		if eval[bool](c, `[...document.querySelectorAll("table.audit td")].some(td => td.textContent.includes("/api/patients/7/notes"))`) {
			found = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !found {
		t.Fatalf("the write is not on the Audit page:\n%s", c.text())
	}
	c.shot("audit-01-proxied-writes")
	c.do("opening the record", chromedp.Click(chromedp.CSS(`table.audit tbody tr a`)))
	c.waitFor("the record's page", `location.pathname.startsWith("/auth/admin/audit/") && document.readyState === "complete" && document.querySelector("h1")`)
	c.shot("audit-02-proxied-write-record")
	txt := c.text()
	for _, want := range []string{"proxy.request", "olive@clinic.test", "POST", "/api/patients/7/notes", "200", "default"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the record's page does not show %q:\n%s", want, txt)
		}
	}
	if !eval[bool](c, `[...document.querySelectorAll("a")].some(a => /audit/i.test(a.textContent) && a.getAttribute("href").startsWith("/auth/admin/audit"))`) {
		t.Error("the record's page has no way back to the search")
	}

	// The scanner's denials are counted when the minute ends or the gateway stops.
	g.stop()
	g.start()
	c.do("searching for denials", chromedp.Navigate(g.url+"/auth/admin/audit?action=policy.denied")) // still signed in
	c.waitFor("the denial record", `[...document.querySelectorAll("table.audit td")].some(td => td.textContent.includes("policy.denied"))`)
	c.shot("audit-03-denials")
	c.do("opening the denial", chromedp.Click(chromedp.CSS(`table.audit tbody tr a`)))
	c.waitFor("the record's page", `location.pathname.startsWith("/auth/admin/audit/") && document.readyState === "complete" && document.querySelector("h1")`)
	if txt := c.text(); !strings.Contains(txt, "count: 3") || !strings.Contains(txt, "/admin/users") || !strings.Contains(txt, "olive@clinic.test") {
		t.Errorf("the denial record does not show who was refused, how often and where:\n%s", txt)
	}
	c.shot("audit-04-denial-record")
}
