package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apiDeleted is a deleted member as GET /auth/api/v1/admin/members/deleted shows them.
type apiDeleted struct {
	ID              string `json:"id"`
	Email           string `json:"email"`
	DaysLeft        int    `json:"days_left"`
	RestorableUntil string `json:"restorable_until"`
}

// deletedMembers returns the Deleted list an administrator's c sees.
func deletedMembers(t *testing.T, c *http.Client, base string) []apiDeleted {
	t.Helper()
	st, body := apiCall(t, c, "GET", base+"/auth/api/v1/admin/members/deleted", nil)
	if st != http.StatusOK {
		t.Fatalf("deleted members: %d %s", st, body)
	}
	return decodeJSON[struct {
		Deleted []apiDeleted `json:"deleted"`
	}](t, "deleted members", body).Deleted
}

// TestDeletedMember: deleting a member (API) refuses their live session on its next
// request and their password, hides them from the member list and keeps their
// address reserved; restored, they sign in again (the old session stays ended). The
// same through the CLI, against the running gateway. The 30-day purge is
// admin.TestPurgeAfterTheWindow (a fake clock; the built gateway has none).
func TestDeletedMember(t *testing.T) {
	const owner, ownerPW = "octavia@example.com", "saffron glacier violin three"
	const email, pw = "dora@example.com", "pebble orchard lantern eight"
	g, up, o, m := ownerAndMember(t, owner, ownerPW, email, pw)
	mustReach(t, m, g, up, email, "the member before being deleted")
	id := member(t, o, g.url, email).ID
	ownerID := member(t, o, g.url, owner).ID

	// The owner cannot delete themselves (nor the last owner).
	if st, body := apiCall(t, o, "DELETE", g.url+"/auth/api/v1/admin/members/"+ownerID, nil); st != http.StatusConflict {
		t.Fatalf("the owner deleting themselves: %d %s, want 409", st, body)
	}
	// A member may not delete anyone.
	if st, body := apiCall(t, m, "DELETE", g.url+"/auth/api/v1/admin/members/"+ownerID, nil); st != http.StatusForbidden {
		t.Fatalf("a member deleting the owner: %d %s, want 403", st, body)
	}

	st, body := apiCall(t, o, "DELETE", g.url+"/auth/api/v1/admin/members/"+id, nil)
	if st != http.StatusOK || !strings.Contains(body, `"days_left":30`) {
		t.Fatalf("delete: %d %s", st, body)
	}
	mustBeRefused(t, m, g, up, email, "the deleted member's session")
	if st := loginStatus(t, g.url, email, pw); st != http.StatusUnauthorized {
		t.Fatalf("the deleted member signing in: %d, want 401", st)
	}
	st, body = apiCall(t, o, "GET", g.url+"/auth/api/v1/admin/members", nil)
	if st != http.StatusOK || strings.Contains(body, email) {
		t.Fatalf("the members list after the delete: %d %s", st, body)
	}
	if d := deletedMembers(t, o, g.url); len(d) != 1 || d[0].ID != id || d[0].DaysLeft != 30 {
		t.Fatalf("the Deleted list: %+v", d)
	}
	// The address stays reserved: no new account can take it over.
	st, body = apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members", map[string]string{"email": email, "role": "member"})
	if st != http.StatusConflict || apiErrorCode(t, body) != "deleted_member" {
		t.Fatalf("inviting a deleted member's address: %d %s, want 409 deleted_member", st, body)
	}
	// The Members page lists them with a Restore button.
	if st, page, _ := get(t, o, g.url+"/auth/admin/members"); st != http.StatusOK || !strings.Contains(page, "Deleted members") ||
		!strings.Contains(page, "/auth/admin/members/"+id+"/restore") {
		t.Fatalf("the Members page after the delete: %d\n%s", st, page)
	}

	// Restored: the password signs in; the session the delete ended stays ended.
	st, body = apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/restore", nil)
	if st != http.StatusOK || !strings.Contains(body, `"status":"active"`) {
		t.Fatalf("restore: %d %s", st, body)
	}
	mustBeRefused(t, m, g, up, email, "the session ended by the delete, after the restore")
	m2 := browser(t)
	signInAs(t, m2, g.url, email, pw)
	mustReach(t, m2, g, up, email, "the member after the restore")
	if d := deletedMembers(t, o, g.url); len(d) != 0 {
		t.Fatalf("the Deleted list after the restore: %+v", d)
	}

	// The CLI, a separate process: the running gateway refuses the live session within
	// session_cache_ttl, and the password at once.
	cliOK(t, g, email+": deleted; restorable until", "user", "delete", "--email", email)
	took := refusedWithin(t, m2, g, up, email, revokeLimit, "the session of a member the CLI deleted")
	t.Logf("the gateway refused the session %v after the CLI deleted the member", took.Round(time.Millisecond))
	if st := loginStatus(t, g.url, email, pw); st != http.StatusUnauthorized {
		t.Fatalf("signing in after the CLI deleted the member: %d, want 401", st)
	}
	if out := cliOK(t, g, email, "user", "deleted"); !strings.Contains(out, "DAYS LEFT") {
		t.Errorf("user deleted:\n%s", out)
	}
	if out := cliOK(t, g, "EMAIL", "user", "list"); strings.Contains(out, email) {
		t.Errorf("user list shows the deleted member:\n%s", out)
	}
	cliFails(t, g, "no deleted member of tenant default", "user", "restore", "--email", "nobody@example.com")
	cliFails(t, g, "needs an active owner", "user", "delete", "--email", owner)
	cliOK(t, g, email+": restored (active)", "user", "restore", "--email", email)
	m3 := browser(t)
	signInAs(t, m3, g.url, email, pw)
	mustReach(t, m3, g, up, email, "the member after the CLI restored them")

	// The audit trail names both steps, through both ways, and still verifies.
	file := filepath.Join(t.TempDir(), "audit.csv")
	cliOK(t, g, "", "audit", "export", "--format", "csv", "-o", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"user.deleted", "user.restored"} {
		if n := strings.Count(string(raw), ","+a+","); n != 2 {
			t.Errorf("%d %s records in the trail, want 2", n, a)
		}
	}
	cliOK(t, g, "chain intact", "audit", "verify")
}
