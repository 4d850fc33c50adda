package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

// TestMemberDeleteRestore: the Delete button on a member's page and the API twin end
// the member's session at once and list them under Deleted members with the days
// left; Restore (button or API) lets them sign in again. Members cannot delete,
// admins cannot delete owners, nobody deletes themselves, and a form without the
// CSRF token is refused.
func TestMemberDeleteRestore(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	base := f.srv.URL + "/auth/api/v1/admin/members/"

	if st, out := sendJSON(t, mc, "DELETE", base+owner.ID, nil); st != http.StatusForbidden {
		t.Fatalf("a member deleting: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", base+owner.ID, nil); st != http.StatusForbidden {
		t.Fatalf("an admin deleting the owner: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "DELETE", base+owner.ID, nil); st != http.StatusConflict || out["error"] != "not_on_yourself" {
		t.Fatalf("the owner deleting themselves: %d %v", st, out)
	}
	// The form needs its CSRF token: a cross-site post deletes nothing.
	back := "/auth/admin/members/" + member.ID
	if resp, err := oc.PostForm(f.srv.URL+back+"/delete", url.Values{"back": {back}}); err != nil || resp.StatusCode < 400 {
		t.Fatalf("a delete form without a CSRF token: %v %v", resp, err)
	}
	if !live(t, mc, f.srv.URL) {
		t.Fatal("a refused delete ended the member's session")
	}

	// The page's button.
	if _, body := getPage(t, oc, f.srv.URL+back); !strings.Contains(body, `action="`+back+`/delete"`) {
		t.Fatalf("the member's page has no Delete button:\n%s", body)
	}
	if _, body := getPage(t, oc, f.srv.URL+"/auth/admin/members/"+owner.ID); strings.Contains(body, "/delete") {
		t.Fatal("the owner's own page offers to delete them")
	}
	st, _, body := submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/delete", url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "member@example.com is deleted") || !strings.Contains(body, "Deleted members") ||
		!strings.Contains(body, `action="/auth/admin/members/`+member.ID+`/restore"`) {
		t.Fatalf("delete form: %d\n%s", st, body)
	}
	if live(t, mc, f.srv.URL) {
		t.Fatal("the deleted member's session still works")
	}
	if st, s := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st != http.StatusUnauthorized || s != "invalid_credentials" {
		t.Fatalf("a deleted member signing in: %d %s", st, s)
	}
	if _, ok := membersByEmail(t, f, oc)["member@example.com"]; ok {
		t.Fatal("the deleted member is in the members list")
	}
	st, out := getJSON(t, ac, base+"deleted")
	list, _ := out["deleted"].([]any)
	if st != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["id"] != member.ID || list[0].(map[string]any)["days_left"] != float64(30) {
		t.Fatalf("the Deleted list: %d %v", st, out)
	}
	if recs := f.audits(t, admin.ActionUserDeleted); len(recs) != 1 || recs[0].ActorID != owner.ID || recs[0].Target != "user:"+member.ID {
		t.Fatalf("audit: %+v", recs)
	}

	// Restored by the page's button: they sign in again.
	st, _, body = submit(t, oc, f.srv.URL+"/auth/admin/members", f.srv.URL+"/auth/admin/members/"+member.ID+"/restore", url.Values{"back": {"/auth/admin/members"}})
	if st != http.StatusOK || !strings.Contains(body, "member@example.com is restored") {
		t.Fatalf("restore form: %d\n%s", st, body)
	}
	signInAs(t, f, mc, "member@example.com", pw)

	// The API twins: delete, then restore.
	if st, out := sendJSON(t, ac, "DELETE", base+member.ID, nil); st != http.StatusOK || out["restorable_until"] == nil {
		t.Fatalf("DELETE member: %d %v", st, out)
	}
	if live(t, mc, f.srv.URL) {
		t.Fatal("the session survived the API delete")
	}
	if st, out := postJSON(t, ac, base+member.ID+"/restore", nil); st != http.StatusOK || out["status"] != "active" {
		t.Fatalf("restore: %d %v", st, out)
	}
	if st, out := postJSON(t, ac, base+member.ID+"/restore", nil); st != http.StatusNotFound || out["error"] != "no_such_user" {
		t.Fatalf("restoring a live member: %d %v", st, out)
	}
	if recs := f.audits(t, admin.ActionUserRestored); len(recs) != 2 {
		t.Fatalf("audit of restores: %+v", recs)
	}
}
