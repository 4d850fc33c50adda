package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// TestPermissionReviewSwitch: the Workspace security page has the review mail on by
// default, with a link to the review page; unticking the box and saving turns it off
// (stored and audited), and the API shows and changes it as "permission_review".
func TestPermissionReviewSwitch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	const pw = "a perfectly fine passphrase"
	owner := f.addUserRole(t, "owner@example.com", pw, identity.RoleOwner)
	f.addUserRole(t, "admin@example.com", pw, identity.RoleAdmin)
	f.addUser(t, "member@example.com", pw)
	oc := noRedirect(t)
	apiLogin(t, oc, f.srv.URL, "owner@example.com", pw)
	page, api := f.srv.URL+"/auth/admin/security", f.srv.URL+"/auth/api/v1/admin/security"
	const ticked = `name="permission_review" value="on" checked`

	st, body := getPage(t, oc, page)
	for _, want := range []string{ticked, "Mail owners a permission review every quarter", `href="/auth/admin/team/audit"`} {
		if st != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("security page (%d) lacks %q:\n%s", st, want, body)
		}
	}
	if st, out := getJSON(t, oc, api); st != http.StatusOK || out["permission_review"] != true {
		t.Fatalf("API default: %d %v", st, out)
	}

	// The page's form without the box ticked.
	st, _, body = submit(t, oc, page, page, url.Values{"grace_days": {"7"}, "anomaly_action": {"alert"}})
	if st != http.StatusOK || !strings.Contains(body, "Saved.") || strings.Contains(body, ticked) ||
		!strings.Contains(body, `name="permission_review" value="on" >`) {
		t.Fatalf("saving with the box unticked: %d\n%s", st, body)
	}
	if set, err := f.handle.Settings().SecuritySettings(t.Context()); err != nil || !set.PermissionReviewOff {
		t.Fatalf("stored: %+v %v", set, err)
	}
	recs := f.audits(t, audit.ActionSecuritySettings)
	if len(recs) != 1 || recs[0].ActorID != owner.ID || recs[0].Details["permission_review"] != "false" || recs[0].Details["was_permission_review"] != "true" {
		t.Fatalf("audit: %+v", recs)
	}
	if st, out := getJSON(t, oc, api); st != http.StatusOK || out["permission_review"] != false {
		t.Fatalf("API after the page turned it off: %d %v", st, out)
	}

	// Only an owner turns it back on: not a member, not an admin.
	mc := noRedirect(t)
	apiLogin(t, mc, f.srv.URL, "member@example.com", pw)
	if st, _ := sendJSON(t, mc, "PUT", api, map[string]any{"permission_review": false}); st != http.StatusForbidden {
		t.Fatalf("member: %d", st)
	}
	ac := noRedirect(t)
	apiLogin(t, ac, f.srv.URL, "admin@example.com", pw)
	if st, out := sendJSON(t, ac, "PUT", api, map[string]any{"permission_review": true}); st != http.StatusBadRequest {
		t.Fatalf("admin turning it on: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "PUT", api, map[string]any{"permission_review": true}); st != http.StatusOK || out["permission_review"] != true {
		t.Fatalf("owner turning it on: %d %v", st, out)
	}
	if _, body := getPage(t, oc, page); !strings.Contains(body, ticked) {
		t.Fatal("the box is not ticked after the API turned the mail on")
	}
	if set, _ := f.handle.Settings().SecuritySettings(t.Context()); set.PermissionReviewOff {
		t.Fatal("still off in the store")
	}
}
