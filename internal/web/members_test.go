package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// membersByEmail lists the members through the API, by address.
func membersByEmail(t *testing.T, f *fixture, c *http.Client) map[string]map[string]any {
	t.Helper()
	st, out := getJSON(t, c, f.srv.URL+"/auth/api/v1/admin/members")
	raw, ok := out["members"].([]any)
	if st != http.StatusOK || !ok {
		t.Fatalf("GET members: %d %v", st, out)
	}
	m := map[string]map[string]any{}
	for _, r := range raw {
		x := r.(map[string]any)
		m[x["email"].(string)] = x
	}
	return m
}

// TestMembersListing: owners and admins see every member with role, 2FA state,
// passkeys, last sign-in and lock state, on the API and the page; members are refused.
func TestMembersListing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	f.withLockout()
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	f.addUser(t, "app@example.com", pw)
	keys := f.addUserRole(t, "keys@example.com", pw, "manager")
	f.addUser(t, "locked@example.com", pw)
	f.addUser(t, "never@example.com", pw)
	plain := f.addUser(t, "plain@example.com", pw)
	enrolTOTP(t, f, clk, "app@example.com", pw)
	for i, name := range []string{"Laptop", "Phone"} {
		if err := f.handle.Passkeys().AddPasskey(t.Context(), store.Passkey{ID: name, UserID: keys.ID, CredentialID: []byte("cred-" + name),
			PublicKey: []byte{byte(i)}, Name: name, CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		apiLogin(t, noRedirect(t), f.srv.URL, "locked@example.com", "wrong guess "+string(rune('a'+i)))
	}
	oc, ac, pc := noRedirect(t), noRedirect(t), browser(t, firefoxUA, "198.51.100.7")
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, pc, "plain@example.com", pw)

	for _, c := range []*http.Client{oc, ac} {
		ms := membersByEmail(t, f, c)
		if len(ms) != 7 {
			t.Fatalf("members: %v", ms)
		}
		roles := func(e string) string {
			var out []string
			for _, r := range ms[e]["roles"].([]any) {
				out = append(out, r.(string))
			}
			return strings.Join(out, ",")
		}
		if roles("owner@example.com") != "owner" || roles("admin@example.com") != "admin" || roles("keys@example.com") != "manager" || roles("plain@example.com") != "member" {
			t.Fatalf("roles: %v", ms)
		}
		sf := func(e string) map[string]any { return ms[e]["second_factor"].(map[string]any) }
		if a := sf("app@example.com"); a["enrolled"] != true || a["totp"] != true || a["passkeys"] != float64(0) {
			t.Fatalf("app user's factors: %v", a)
		}
		if k := sf("keys@example.com"); k["enrolled"] != true || k["totp"] != false || k["passkeys"] != float64(2) {
			t.Fatalf("passkey user's factors: %v", k)
		}
		if n := sf("never@example.com"); n["enrolled"] != false || n["totp"] != false || n["passkeys"] != float64(0) {
			t.Fatalf("factors of a member without any: %v", n)
		}
		if l := ms["locked@example.com"]; l["locked"] != true || l["locked_for_seconds"].(float64) <= 0 || ms["plain@example.com"]["locked"] != false {
			t.Fatalf("lock state: %v / %v", l, ms["plain@example.com"])
		}
		if ms["never@example.com"]["last_sign_in"] != nil {
			t.Fatalf("last sign-in of a member who never signed in: %v", ms["never@example.com"])
		}
		if ls, err := time.Parse(time.RFC3339, ms["plain@example.com"]["last_sign_in"].(string)); err != nil || ls.Sub(clk.Now()).Abs() > time.Second {
			t.Fatalf("last sign-in: %v %v", ms["plain@example.com"]["last_sign_in"], err)
		}
		for e, m := range ms {
			if m["status"] != "active" {
				t.Errorf("status of %s: %v", e, m["status"])
			}
		}
	}

	// The page shows the same.
	st, body := getPage(t, oc, f.srv.URL+"/auth/admin/members")
	for _, want := range []string{"app@example.com", "2 passkeys", "active, locked", "never", `href="/auth/admin/members/` + plain.ID + `"`, `action="/auth/admin/members/invite"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("members page: %d, no %q\n%s", st, want, body)
		}
	}
	// Admins are not offered to invite owners or admins; owners are.
	if _, body := getPage(t, ac, f.srv.URL+"/auth/admin/members"); strings.Contains(body, `<option value="owner"`) || strings.Contains(body, `<option value="admin"`) {
		t.Fatal("an admin is offered to invite owners or admins")
	}
	if !strings.Contains(body, `<option value="owner"`) {
		t.Fatal("an owner is not offered to invite owners")
	}

	// A member: refused on every members call, page or API.
	for _, u := range []string{"/auth/api/v1/admin/members", "/auth/api/v1/admin/members/" + plain.ID, "/auth/api/v1/admin/members/" + plain.ID + "/sessions"} {
		if st, out := getJSON(t, pc, f.srv.URL+u); st != http.StatusForbidden || out["error"] != "forbidden" {
			t.Fatalf("member GET %s: %d %v", u, st, out)
		}
	}
	for _, u := range []string{"/auth/admin/members", "/auth/admin/members/" + plain.ID} {
		if st, body := getPage(t, pc, f.srv.URL+u); st != http.StatusForbidden || strings.Contains(body, "owner@example.com") {
			t.Fatalf("member page %s: %d", u, st)
		}
	}
	if st := getStatus(t, noRedirect(t), f.srv.URL+"/auth/admin/members"); st != http.StatusSeeOther {
		t.Fatalf("members page without a session: %d", st)
	}
	if st, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members/no-such-id"); st != http.StatusNotFound || out["error"] != "no_such_user" {
		t.Fatalf("unknown member: %d %v", st, out)
	}
}

// TestMemberPageSessions: the member page lists the member's sessions with a sign-out
// button each and one for all; they work, and only on that member's sessions.
func TestMemberPageSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "member@example.com", pw)
	f.addUser(t, "bob@example.com", pw)
	oc := noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	laptop, phone, bob := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9"), browser(t, chromeUA, "192.0.2.77")
	signInAs(t, f, laptop, "member@example.com", pw)
	signInAs(t, f, phone, "member@example.com", pw)
	signInAs(t, f, bob, "bob@example.com", pw)
	laptopID, phoneID, bobID := currentSession(t, f, laptop), currentSession(t, f, phone), currentSession(t, f, bob)

	back := "/auth/admin/members/" + member.ID
	st, body := getPage(t, oc, f.srv.URL+back)
	for _, want := range []string{"member@example.com", "Firefox on Linux", "Safari on iOS", "198.51.100.7", "203.0.113.9",
		`name="session" value="` + laptopID + `"`, `name="session" value="` + phoneID + `"`, "Sign out everywhere", `action="` + back + `/sessions/revoke"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("member page: %d, no %q\n%s", st, want, body)
		}
	}
	if strings.Contains(body, bobID) || strings.Contains(body, "Chrome on Linux") {
		t.Fatal("the member page shows another member's session")
	}
	st, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members/"+member.ID)
	if ss, _ := out["sessions"].([]any); st != http.StatusOK || len(ss) != 2 || out["email"] != "member@example.com" {
		t.Fatalf("member API: %d %v", st, out)
	}

	// The page's per-session button: bob's session id under this member is no session.
	if st, _, body := submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/sessions/revoke", url.Values{"back": {back}, "session": {bobID}}); st != http.StatusNotFound || !strings.Contains(body, "There is no such session.") {
		t.Fatalf("revoking bob's session as the member's: %d\n%s", st, body)
	}
	if !live(t, bob, f.srv.URL) {
		t.Fatal("bob's session ended")
	}
	st, _, body = submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/sessions/revoke", url.Values{"back": {back}, "session": {phoneID}})
	if st != http.StatusOK || !strings.Contains(body, "That session is signed out.") || strings.Contains(body, `value="`+phoneID+`"`) {
		t.Fatalf("revoking one: %d\n%s", st, body)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("revoking one: wrong sessions ended")
	}
	if st, _, _ := send(t, oc, "POST", f.srv.URL+back+"/sessions/revoke", url.Values{"back": {back}}, nil); st != http.StatusForbidden || !live(t, laptop, f.srv.URL) {
		t.Fatalf("without CSRF: %d", st)
	}
	st, _, body = submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/sessions/revoke", url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "Signed out everywhere.") || !strings.Contains(body, "Not signed in anywhere.") {
		t.Fatalf("revoking all: %d\n%s", st, body)
	}
	if live(t, laptop, f.srv.URL) || !live(t, bob, f.srv.URL) || !live(t, oc, f.srv.URL) {
		t.Fatal("revoking all: wrong sessions ended")
	}
	recs := f.audits(t, admin.ActionSessionsRevoked)
	if len(recs) != 2 || recs[0].ActorID != owner.ID || recs[0].Target != "user:"+member.ID || recs[0].Details["session"] != phoneID || recs[1].Details["count"] != "1" {
		t.Fatalf("audit: %+v", recs)
	}
}

// TestMemberSessionsAPI: the API lists a member's sessions and ends one or all of
// them; an id of someone else's session is 404; members and admins-on-owners are
// refused.
func TestMemberSessionsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	f.addUser(t, "bob@example.com", pw)
	ownerU, _ := f.handle.Users().UserByEmail(t.Context(), "owner@example.com")
	oc, ac := noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	m1, m2, bob := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9"), noRedirect(t)
	signInAs(t, f, m1, "member@example.com", pw)
	signInAs(t, f, m2, "member@example.com", pw)
	signInAs(t, f, bob, "bob@example.com", pw)
	m1ID, bobID := currentSession(t, f, m1), currentSession(t, f, bob)
	base := f.srv.URL + "/auth/api/v1/admin/members/"

	st, out := getJSON(t, ac, base+member.ID+"/sessions")
	ss, _ := out["sessions"].([]any)
	if st != http.StatusOK || len(ss) != 2 {
		t.Fatalf("member sessions: %d %v", st, out)
	}
	for _, s := range ss {
		if s := s.(map[string]any); s["current"] != false || s["device"] == "" || s["ip"] == "" {
			t.Fatalf("session view: %v", s)
		}
	}

	if st, out := sendJSON(t, bob, "DELETE", base+member.ID+"/sessions", nil); st != http.StatusForbidden {
		t.Fatalf("a member revoking: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", base+ownerU.ID+"/sessions", nil); st != http.StatusForbidden || !live(t, oc, f.srv.URL) {
		t.Fatalf("an admin revoking an owner: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", base+member.ID+"/sessions/"+bobID, nil); st != http.StatusNotFound || out["error"] != "no_such_session" {
		t.Fatalf("bob's session under the member: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", base+"no-such-user/sessions", nil); st != http.StatusNotFound {
		t.Fatalf("unknown member: %d %v", st, out)
	}
	if !live(t, bob, f.srv.URL) || !live(t, m1, f.srv.URL) || !live(t, m2, f.srv.URL) {
		t.Fatal("refused revocations ended sessions")
	}

	if st, out := sendJSON(t, ac, "DELETE", base+member.ID+"/sessions/"+m1ID, nil); st != http.StatusOK || out["revoked"] != float64(1) {
		t.Fatalf("revoke one: %d %v", st, out)
	}
	if live(t, m1, f.srv.URL) || !live(t, m2, f.srv.URL) {
		t.Fatal("revoke one: wrong sessions ended")
	}
	if st, out := sendJSON(t, ac, "DELETE", base+member.ID+"/sessions/"+m1ID, nil); st != http.StatusNotFound {
		t.Fatalf("revoking an ended session: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", base+member.ID+"/sessions", nil); st != http.StatusOK || out["revoked"] != float64(1) {
		t.Fatalf("revoke all: %d %v", st, out)
	}
	if live(t, m2, f.srv.URL) || !live(t, bob, f.srv.URL) || !live(t, ac, f.srv.URL) {
		t.Fatal("revoke all: wrong sessions ended")
	}
	if st, out := getJSON(t, ac, base+member.ID+"/sessions"); st != http.StatusOK || len(out["sessions"].([]any)) != 0 {
		t.Fatalf("after: %d %v", st, out)
	}
}

// TestMemberRoles: admins cannot make owners or admins, nor touch owners; the last
// owner cannot step down (409 last_owner) until there is another; a new role reaches
// the member's live session at once.
func TestMemberRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	adm := f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	role := func(c *http.Client, id, r string) (int, map[string]any) {
		return sendJSON(t, c, "PUT", f.srv.URL+"/auth/api/v1/admin/members/"+id+"/role", map[string]string{"role": r})
	}
	rolesOf := func(id string) string {
		u, err := f.handle.Users().UserByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(u.Roles, ",")
	}

	for _, r := range []string{"owner", "admin"} {
		if st, out := role(ac, member.ID, r); st != http.StatusForbidden || out["error"] != "forbidden" {
			t.Fatalf("an admin making %s: %d %v", r, st, out)
		}
	}
	if st, out := role(ac, owner.ID, "member"); st != http.StatusForbidden {
		t.Fatalf("an admin demoting the owner: %d %v", st, out)
	}
	if st, out := role(mc, member.ID, "owner"); st != http.StatusForbidden {
		t.Fatalf("a member promoting themselves: %d %v", st, out)
	}
	if st, out := role(oc, member.ID, "emperor"); st != http.StatusBadRequest || out["error"] != "invalid_role" {
		t.Fatalf("an unknown role: %d %v", st, out)
	}
	if rolesOf(member.ID) != "member" || rolesOf(owner.ID) != "owner" {
		t.Fatal("refused role changes had effect")
	}
	if st, out := role(ac, member.ID, "manager"); st != http.StatusOK || out["roles"].([]any)[0] != "manager" || rolesOf(member.ID) != "manager" {
		t.Fatalf("an admin making a manager: %d %v", st, out)
	}

	// The only owner stays owner.
	if st, out := role(oc, owner.ID, "admin"); st != http.StatusConflict || out["error"] != "last_owner" {
		t.Fatalf("last owner stepping down: %d %v", st, out)
	}
	if rolesOf(owner.ID) != "owner" {
		t.Fatal("the last owner lost the role")
	}

	// A member made admin can administer on their next request.
	if st, _ := getJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/members"); st != http.StatusForbidden {
		t.Fatalf("member before: %d", st)
	}
	if st, out := role(oc, member.ID, "admin"); st != http.StatusOK {
		t.Fatalf("owner making an admin: %d %v", st, out)
	}
	if st, _ := getJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/members"); st != http.StatusOK {
		t.Fatalf("new admin listing members: %d", st)
	}
	// The page's form; then with a second owner the first may step down.
	st, _, body := submit(t, oc, f.srv.URL+"/auth/admin/members/"+adm.ID, f.srv.URL+"/auth/admin/members/"+adm.ID+"/role", url.Values{"role": {"owner"}, "back": {"/auth/admin/members/" + adm.ID}})
	if st != http.StatusOK || !strings.Contains(body, "Role changed to owner.") || rolesOf(adm.ID) != "owner" {
		t.Fatalf("role form: %d\n%s", st, body)
	}
	if st, out := role(oc, owner.ID, "member"); st != http.StatusOK || rolesOf(owner.ID) != "member" {
		t.Fatalf("stepping down with another owner: %d %v", st, out)
	}
	if st, _ := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members"); st != http.StatusForbidden {
		t.Fatalf("former owner listing members: %d", st)
	}
	st, _, body = submit(t, ac, f.srv.URL+"/auth/admin/members/"+member.ID, f.srv.URL+"/auth/admin/members/"+adm.ID+"/role", url.Values{"role": {"member"}})
	if st != http.StatusConflict || !strings.Contains(body, "The workspace needs an active owner") || rolesOf(adm.ID) != "owner" {
		t.Fatalf("the new (now only) owner stepping down by the form: %d %s\n%s", st, rolesOf(adm.ID), body)
	}
	recs := f.audits(t, admin.ActionRoleChanged)
	if len(recs) != 4 || recs[0].ActorID != adm.ID || recs[0].Details["role"] != "manager" || recs[0].Details["was"] != "member" {
		t.Fatalf("audit: %+v", recs)
	}
}

// TestMemberDisableEnable: disabling ends the member's live session at once and refuses
// their password; enabling lets them in again; nobody disables themselves, admins do
// not disable owners.
func TestMemberDisableEnable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	adm := f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	base := f.srv.URL + "/auth/api/v1/admin/members/"

	if st, out := postJSON(t, mc, base+member.ID+"/disable", nil); st != http.StatusForbidden {
		t.Fatalf("a member disabling: %d %v", st, out)
	}
	if st, out := postJSON(t, ac, base+owner.ID+"/disable", nil); st != http.StatusForbidden || f.status(t, owner.ID) != store.UserActive {
		t.Fatalf("an admin disabling the owner: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, base+owner.ID+"/disable", nil); st != http.StatusConflict || out["error"] != "not_on_yourself" {
		t.Fatalf("the owner disabling themselves: %d %v", st, out)
	}
	// An admin may not disable themselves either (admins do not administer admins).
	if st, out := postJSON(t, ac, base+adm.ID+"/disable", nil); (st != http.StatusConflict && st != http.StatusForbidden) || f.status(t, adm.ID) != store.UserActive || !live(t, ac, f.srv.URL) {
		t.Fatalf("an admin disabling themselves: %d %v", st, out)
	}
	if !live(t, oc, f.srv.URL) || !live(t, mc, f.srv.URL) {
		t.Fatal("refused disables ended sessions")
	}

	st, out := postJSON(t, ac, base+member.ID+"/disable", nil)
	if st != http.StatusOK || out["status"] != "disabled" {
		t.Fatalf("disable: %d %v", st, out)
	}
	if live(t, mc, f.srv.URL) {
		t.Fatal("the disabled member's session still works")
	}
	if st, s := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", pw); st != http.StatusUnauthorized || s != "invalid_credentials" {
		t.Fatalf("disabled member signing in: %d %s", st, s)
	}
	if ms := membersByEmail(t, f, ac); ms["member@example.com"]["status"] != "disabled" {
		t.Fatalf("listing: %v", ms["member@example.com"])
	}
	if recs := f.audits(t, admin.ActionUserDisabled); len(recs) != 1 || recs[0].ActorID != adm.ID || recs[0].Details["sessions_ended"] != "1" {
		t.Fatalf("audit: %+v", recs)
	}

	st, out = postJSON(t, ac, base+member.ID+"/enable", nil)
	if st != http.StatusOK || out["status"] != "active" {
		t.Fatalf("enable: %d %v", st, out)
	}
	signInAs(t, f, mc, "member@example.com", pw)

	// The page's forms do the same.
	back := "/auth/admin/members/" + member.ID
	st, _, body := submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/disable", url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "Disabled: they cannot sign in") || !strings.Contains(body, `action="`+back+`/enable"`) {
		t.Fatalf("disable form: %d\n%s", st, body)
	}
	if live(t, mc, f.srv.URL) || f.status(t, member.ID) != store.UserDisabled {
		t.Fatal("disable form had no effect")
	}
	st, _, body = submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/enable", url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "Enabled: they can sign in again.") {
		t.Fatalf("enable form: %d\n%s", st, body)
	}
	signInAs(t, f, mc, "member@example.com", pw)
	// The owner's own page offers no disable button.
	if _, body := getPage(t, oc, f.srv.URL+"/auth/admin/members/"+owner.ID); strings.Contains(body, "/disable") {
		t.Fatal("the owner's own page offers to disable them")
	}
	if st, _, body := submit(t, oc, f.srv.URL+"/auth/admin/members/"+owner.ID, f.srv.URL+"/auth/admin/members/"+owner.ID+"/disable", url.Values{}); st != http.StatusConflict || !strings.Contains(body, "You cannot do that to your own account.") {
		t.Fatalf("disable form on oneself: %d\n%s", st, body)
	}
}

// TestAdminSendsResetLink: an administrator mails a member a reset link built on
// BaseURL (not the Host header); it works; a newer one replaces it; members cannot.
func TestAdminSendsResetLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.portal.BaseURL = "https://gw.example"
	mail := f.withMail()
	f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	ownerU := f.addUserRole(t, "owner@example.com", pw, "owner")
	ac, mc := noRedirect(t), noRedirect(t)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	base := f.srv.URL + "/auth/api/v1/admin/members/"

	if st, _, b := send(t, mc, "POST", base+member.ID+"/reset-password", nil, nil); st != http.StatusForbidden {
		t.Fatalf("a member sending a reset: %d %s", st, b)
	}
	if st, _, b := send(t, ac, "POST", base+ownerU.ID+"/reset-password", nil, nil); st != http.StatusForbidden {
		t.Fatalf("an admin resetting the owner: %d %s", st, b)
	}
	if m := mail.of(notify.KindPasswordReset, ""); len(m) != 0 {
		t.Fatalf("refused resets mailed: %+v", m)
	}
	st, _, b := send(t, ac, "POST", base+member.ID+"/reset-password", nil, map[string]string{"Host": "evil.example"})
	if st != http.StatusAccepted || !strings.Contains(string(b), `"sent"`) {
		t.Fatalf("reset by admin: %d %s", st, b)
	}
	m := mail.wait(t, notify.KindPasswordReset, "member@example.com", 1)
	if !m.Data.(notify.PasswordReset).ByAdmin {
		t.Fatalf("mail: %+v", m)
	}
	tok1 := resetToken(t, m)
	c := noRedirect(t)
	if st, _ := getPage(t, c, f.srv.URL+"/auth/password/reset?token="+url.QueryEscape(tok1)); st != http.StatusOK {
		t.Fatalf("admin's reset link: %d", st)
	}

	back := "/auth/admin/members/" + member.ID
	st, _, body := submit(t, ac, f.srv.URL+back, f.srv.URL+back+"/reset-password", url.Values{"back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "A password reset link is on its way") {
		t.Fatalf("reset form: %d\n%s", st, body)
	}
	tok2 := resetToken(t, mail.wait(t, notify.KindPasswordReset, "member@example.com", 2))
	if st, _ := getPage(t, c, f.srv.URL+"/auth/password/reset?token="+url.QueryEscape(tok1)); st != http.StatusNotFound {
		t.Fatalf("the replaced link: %d", st)
	}
	if st, loc, _ := submit(t, c, f.srv.URL+"/auth/password/reset?token="+url.QueryEscape(tok2), f.srv.URL+"/auth/password/reset",
		url.Values{"token": {tok2}, "password": {newPW}, "confirm": {newPW}}); st != http.StatusSeeOther || loc != "/auth/login?password_reset=1" {
		t.Fatalf("reset with the admin's link: %d %q", st, loc)
	}
	if live(t, mc, f.srv.URL) {
		t.Fatal("the reset left the member signed in")
	}
	signInAs(t, f, mc, "member@example.com", newPW)
}

// TestMemberChangeAnswers: the answer to a role change, a disable and an enable
// describes the member as the listing does (their second factor, lock state), not a
// member stripped of them.
func TestMemberChangeAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	f.withLockout()
	f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "app@example.com", pw)
	enrolTOTP(t, f, clk, "app@example.com", pw)
	for i := range 5 {
		apiLogin(t, noRedirect(t), f.srv.URL, "app@example.com", "wrong guess "+string(rune('a'+i)))
	}
	oc := noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	base := f.srv.URL + "/auth/api/v1/admin/members/" + member.ID
	check := func(name string, st int, out map[string]any, status string) {
		t.Helper()
		sf, _ := out["second_factor"].(map[string]any)
		if st != http.StatusOK || out["status"] != status || sf["totp"] != true || sf["enrolled"] != true || out["locked"] != true || out["last_sign_in"] == nil {
			t.Fatalf("%s: %d %v", name, st, out)
		}
	}
	st, out := getJSON(t, oc, base)
	check("GET", st, out, "active")
	st, out = sendJSON(t, oc, "PUT", base+"/role", map[string]string{"role": "manager"})
	check("role", st, out, "active")
	st, out = postJSON(t, oc, base+"/disable", nil)
	check("disable", st, out, "disabled")
	st, out = postJSON(t, oc, base+"/enable", nil)
	check("enable", st, out, "active")
}

// TestMemberPageOffersOnlyWhatTheAdminMayDo: an admin looking at an owner sees who
// they are and their sessions, but no button that would only answer 403; the API says
// so with "manageable"; an owner gets the buttons.
func TestMemberPageOffersOnlyWhatTheAdminMayDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	oc, ac := noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	page := f.srv.URL + "/auth/admin/members/" + owner.ID
	st, body := getPage(t, ac, page)
	if st != http.StatusOK || !strings.Contains(body, "Only owners manage owners and admins") || !strings.Contains(body, "Sessions") {
		t.Fatalf("admin's view of the owner: %d\n%s", st, body)
	}
	for _, action := range []string{"/role", "/disable", "/enable", "/reset-password", "/reset-2fa", "/sessions/revoke"} {
		if strings.Contains(body, `action="/auth/admin/members/`+owner.ID+action+`"`) {
			t.Errorf("the admin is offered %s on the owner", action)
		}
	}
	if st, out := getJSON(t, ac, f.srv.URL+"/auth/api/v1/admin/members/"+owner.ID); st != http.StatusOK || out["manageable"] != false {
		t.Fatalf("API for the admin: %d %v", st, out)
	}
	st, body = getPage(t, oc, page)
	if st != http.StatusOK || strings.Contains(body, "Only owners manage") || !strings.Contains(body, `action="/auth/admin/members/`+owner.ID+`/role"`) ||
		!strings.Contains(body, `action="/auth/admin/members/`+owner.ID+`/sessions/revoke"`) {
		t.Fatalf("owner's own page: %d\n%s", st, body)
	}
	if st, out := getJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/members/"+owner.ID); st != http.StatusOK || out["manageable"] != true {
		t.Fatalf("API for the owner: %d %v", st, out)
	}
}
