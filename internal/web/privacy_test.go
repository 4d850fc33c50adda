package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// TestDataSubjectRequestsThroughThePortal: a member downloads their data from the
// security page (their e-mail in it, no hash), asks for erasure (twice is a
// conflict), and the admin's Requests page lists it with its deadline; a member
// cannot open that page; the admin's refusal needs a reason, and erasing by the API
// ends the member's sign-in for good.
func TestDataSubjectRequestsThroughThePortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "member@example.com", pw)
	oc, mc := noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	sec := f.srv.URL + "/auth/settings/security"

	// Download my data: a JSON attachment.
	st, hdr, b := send(t, mc, "POST", f.srv.URL+"/auth/settings/privacy/download", url.Values{"csrf": {csrfOf(t, mc, sec)}}, nil)
	if st != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %v\n%s", st, hdr, b)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("download is not JSON: %v\n%s", err, b)
	}
	if prof, _ := doc["profile"].(map[string]any); prof["email"] != "member@example.com" {
		t.Errorf("download profile: %v", doc["profile"])
	}
	u, _ := f.ws.Users().UserByID(t.Context(), member.ID)
	if strings.Contains(string(b), u.PasswordHash) || strings.Contains(string(b), "argon2") || strings.Contains(string(b), "$2a$") {
		t.Errorf("download holds the password hash:\n%s", b)
	}
	if recs := f.audits(t, audit.ActionDataDownloaded); len(recs) != 1 || recs[0].ActorID != member.ID {
		t.Errorf("download audit: %+v", recs)
	}

	// Erase my account: an open request, shown on the security page.
	st, _, body := submit(t, mc, sec, f.srv.URL+"/auth/settings/privacy/erase", url.Values{})
	if st != http.StatusOK || !strings.Contains(body, "request to be erased is recorded") || !strings.Contains(body, "answer due by") {
		t.Fatalf("erase form: %d\n%s", st, body)
	}
	if st, out := postJSON(t, mc, f.srv.URL+"/auth/api/v1/me/erasure", map[string]any{}); st != http.StatusConflict || out["error"] != "request_pending" {
		t.Fatalf("a second erasure request: %d %v", st, out)
	}

	// The Requests page: admins only, with the deadline.
	if st, _ := getPage(t, mc, f.srv.URL+"/auth/admin/requests"); st != http.StatusForbidden {
		t.Fatalf("a member opens the Requests page: %d", st)
	}
	st, page := getPage(t, oc, f.srv.URL+"/auth/admin/requests")
	if st != http.StatusOK || !strings.Contains(page, "member@example.com") || !strings.Contains(page, "30 days left") ||
		!strings.Contains(page, `href="/auth/admin/requests"`) {
		t.Fatalf("Requests page: %d\n%s", st, page)
	}
	st, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/requests")
	list, _ := out["requests"].([]any)
	var erasure map[string]any
	for _, r := range list {
		if m := r.(map[string]any); m["kind"] == "erasure" {
			erasure = m
		}
	}
	if st != http.StatusOK || len(list) != 2 || erasure == nil || erasure["days_left"] != float64(30) || erasure["email"] != "member@example.com" {
		t.Fatalf("API requests: %d %v", st, out)
	}
	id := erasure["id"].(string)
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/requests/"+id+"/refuse", map[string]any{}); st != http.StatusBadRequest || out["error"] != "invalid_reason" {
		t.Fatalf("refusal without a reason: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/requests/"+id+"/fulfil", map[string]any{}); st != http.StatusOK || out["status"] != "fulfilled" {
		t.Fatalf("fulfil: %d %v", st, out)
	}
	if live(t, mc, f.srv.URL) {
		t.Error("the erased member's session still works")
	}
	if st, s := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st != http.StatusUnauthorized || s != "invalid_credentials" {
		t.Errorf("the erased member signs in: %d %s", st, s)
	}
	if _, page := getPage(t, oc, f.srv.URL+"/auth/admin/requests"); strings.Contains(page, "member@example.com") || !strings.Contains(page, "erased member") {
		t.Errorf("Requests page after the erasure still names the member:\n%s", page)
	}
}

// TestRestrictProcessingThroughThePortal: the button signs the member out and keeps
// them out; the admin lifts the restriction from the Requests page.
func TestRestrictProcessingThroughThePortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUser(t, "member@example.com", pw)
	oc, mc := noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	st, _, body := submit(t, mc, f.srv.URL+"/auth/settings/security", f.srv.URL+"/auth/settings/privacy/restrict", url.Values{})
	if st != http.StatusOK || !strings.Contains(body, "Your account is restricted") {
		t.Fatalf("restrict form: %d\n%s", st, body)
	}
	if live(t, mc, f.srv.URL) {
		t.Fatal("the restricted member's session still works")
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st == http.StatusOK {
		t.Fatal("a restricted member signs in")
	}
	_, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/requests")
	list, _ := out["requests"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["kind"] != "restriction" {
		t.Fatalf("requests: %v", out)
	}
	id := list[0].(map[string]any)["id"].(string)
	st, _, body = submit(t, oc, f.srv.URL+"/auth/admin/requests", f.srv.URL+"/auth/admin/requests/"+id+"/fulfil", url.Values{})
	if st != http.StatusOK || !strings.Contains(body, "restriction request is fulfilled") {
		t.Fatalf("lift: %d\n%s", st, body)
	}
	if st, s := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st != http.StatusOK {
		t.Fatalf("sign-in after lifting: %d %s", st, s)
	}
	if recs := f.audits(t, audit.ActionRestrictionLifted); len(recs) != 1 {
		t.Errorf("lift audit: %+v", recs)
	}
}

// TestRectifyNameThroughThePortal: a member corrects their name on the security page
// and through the API; a bad name is refused and changes nothing; each correction is
// kept as a fulfilled rectification request and audited.
func TestRectifyNameThroughThePortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "member@example.com", pw)
	mc := noRedirect(t)
	signInAs(t, f, mc, "member@example.com", pw)
	st, _, body := submit(t, mc, f.srv.URL+"/auth/settings/security", f.srv.URL+"/auth/settings/privacy/name", url.Values{"name": {"  Zoë Müller  "}})
	if st != http.StatusOK || !strings.Contains(body, "Your name is corrected") || !strings.Contains(body, `value="Zoë Müller"`) {
		t.Fatalf("name form: %d\n%s", st, body)
	}
	for _, bad := range []string{"", "   ", "tab\there", strings.Repeat("x", 201)} {
		if st, out := sendJSON(t, mc, "PUT", f.srv.URL+"/auth/api/v1/me/name", map[string]string{"name": bad}); st != http.StatusBadRequest || out["error"] != "invalid_name" {
			t.Errorf("name %q: %d %v", bad, st, out)
		}
	}
	st, out := sendJSON(t, mc, "PUT", f.srv.URL+"/auth/api/v1/me/name", map[string]string{"name": "Zoë Müller-Ruiz"})
	if st != http.StatusOK || out["kind"] != "rectification" || out["status"] != "fulfilled" {
		t.Fatalf("API: %d %v", st, out)
	}
	if _, body := getPage(t, mc, f.srv.URL+"/auth/settings/security"); !strings.Contains(body, `value="Zoë Müller-Ruiz"`) {
		t.Errorf("the security page does not show the corrected name:\n%s", body)
	}
	recs := f.audits(t, audit.ActionPrivacyFulfilled)
	if len(recs) != 2 || recs[1].Details["kind"] != "rectification" || recs[1].Details["from"] != "Zoë Müller" || recs[1].Details["to"] != "Zoë Müller-Ruiz" {
		t.Errorf("rectification records: %+v", recs)
	}
}
