package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRBACJourneyInChromium walks the RBAC pages as their users would, in Chromium,
// on the CRM policy: the owner adds a role on the Roles page (a bad permission is
// named next to the form, the typed text kept), reads the permission review; a member
// refused a page lands on a 403 page that names the missing permission and offers a
// way on; the owner, signed in with a password only, on a route that needs a second
// factor is sent to the step-up page, whose main action is setting one up. With GATEHOUSE_SCREENSHOTS=<dir>
// it saves a screenshot of each page.
func TestRBACJourneyInChromium(t *testing.T) {
	up := newRecorder(t)
	dir := t.TempDir()
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(dir, "gh.db"), up.URL, "\n\t\tpolicy_file policies/crm.yaml")
	const ownerPW, memberPW = "copper kettle on a windy pier", "seven quiet lanterns by the lake"
	addUser(t, g, "olive@crm.test", "owner", ownerPW)
	addUser(t, g, "max@crm.test", "member", memberPW)

	c := newChrome(t)
	c.passwordSignIn(g, "olive@crm.test", ownerPW, "/auth/admin/roles")
	c.waitPath("/auth/admin/roles")
	c.waitFor("the roles table", `document.getElementById("role-member") && document.getElementById("role-owner")`)
	c.shot("rbac-01-roles")
	if txt := eval[string](c, `document.getElementById("role-owner").textContent`); !strings.Contains(txt, "cannot be changed") {
		t.Fatalf("the owner role row: %q", txt)
	}
	c.submit("adding a role with a typo", map[string]string{"role-name": "receptionist",
		"role-permissions": "appointments:*:tenant\nclients:read:everyone"}, `form[action="/auth/admin/roles"] button[type=submit]`)
	c.waitFor("the problem next to the form", `document.getElementById("role-problem")`)
	c.shot("rbac-02-roles-problem")
	if p := eval[string](c, `document.getElementById("role-problem").textContent`); !strings.Contains(p, "clients:read:everyone") {
		t.Fatalf("the problem does not name the bad permission: %q", p)
	}
	if v := eval[string](c, `document.getElementById("role-permissions").value`); !strings.Contains(v, "appointments:*:tenant") {
		t.Fatalf("the typed permissions were lost: %q", v)
	}
	c.do("fixing it", chromedp.SetValue(chromedp.ID("role-permissions"), "appointments:*:tenant\nclients:read:tenant"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/admin/roles"] button[type=submit]`)))
	c.waitFor("the new role in the table", `document.getElementById("role-receptionist")`)

	// Who added that role? The audit page finds it by action; the record opens.
	c.do("searching the audit trail", chromedp.Navigate(g.url+"/auth/admin/audit?action=role."))
	c.waitFor("the role.set record", `[...document.querySelectorAll("table.audit td")].some(td => td.textContent.includes("role.set"))`)
	c.shot("rbac-03a-audit")
	c.do("opening the record", chromedp.Click(chromedp.CSS(`table.audit tbody tr a`)))
	c.waitFor("the record's page", `location.pathname.startsWith("/auth/admin/audit/") && document.body.textContent.includes("receptionist")`)
	c.shot("rbac-03b-audit-record")
	if txt := c.text(); !strings.Contains(txt, "olive@crm.test") {
		t.Fatalf("the record does not name who changed the role:\n%s", txt)
	}

	c.do("opening the permission review", chromedp.Navigate(g.url+"/auth/admin/team/audit"))
	c.waitFor("the review", `document.body.textContent.includes("max@crm.test")`)
	c.shot("rbac-03-review")
	if !eval[bool](c, `[...document.querySelectorAll("form button")].some(b => /disable/i.test(b.textContent))`) {
		t.Fatal("the review offers no one-click revoke")
	}
	// The CRM's settings need a second factor; the owner signed in with a password
	// only and has none yet: the step-up page leads to setting one up.
	c.do("opening a route that needs a second factor", chromedp.Navigate(g.url+"/api/admin/settings"))
	c.waitPath("/auth/step-up")
	c.waitFor("the step-up page", `document.querySelector("h1")`)
	c.shot("rbac-05-step-up")
	if !strings.Contains(c.text(), "two-step verification") {
		t.Fatalf("the step-up page:\n%s", c.text())
	}
	if !eval[bool](c, `[...document.querySelectorAll("a, button")].some(e => /set up|authenticator|passkey/i.test(e.textContent))`) {
		t.Fatal("the step-up page offers no way to set up a second factor")
	}
	if !strings.Contains(eval[string](c, `location.search`), "rd=") {
		t.Fatal("the step-up page lost where the owner was going")
	}
	c.signOut(g)

	// A member on the workspace-wide list: refused, told why, offered a way on.
	c.passwordSignIn(g, "max@crm.test", memberPW, "/api/deals")
	c.waitFor("the 403 page", `document.querySelector("h1") && document.querySelector("h1").textContent.includes("do not have access")`)
	c.shot("rbac-04-forbidden")
	txt := c.text()
	if !strings.Contains(txt, "deals:read") || !strings.Contains(txt, "max@crm.test") {
		t.Fatalf("the 403 page does not say what was missing:\n%s", txt)
	}
	for _, href := range []string{`a[href="/"]`, `a[href="/auth/settings"]`} {
		if !eval[bool](c, `!!document.querySelector('`+href+`')`) {
			t.Fatalf("the 403 page has no %s", href)
		}
	}

}
