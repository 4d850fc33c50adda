package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// reviewCrew is a workspace with one of each role, a team, a passkey and a member
// whose name and address a spreadsheet would take for formulas.
type reviewCrew struct {
	owner, adm, mgr, mem, hostile store.User
	oc, ac, mc                    *http.Client // owner, admin, member signed in
}

func newReviewCrew(t *testing.T, f *fixture) *reviewCrew {
	t.Helper()
	r := &reviewCrew{
		owner: f.addUserRole(t, "owner@example.com", pw, "owner"),
		adm:   f.addUserRole(t, "admin@example.com", pw, "admin"),
		mgr:   f.addUserRole(t, "mgr@example.com", pw, "manager"),
		mem:   f.addUser(t, "mem@example.com", pw),
	}
	var err error
	if r.hostile, err = f.admin.AddUser(t.Context(), f.ws, admin.CLI(), authn.NewUser{Email: "-2+3@example.com",
		DisplayName: `=HYPERLINK("https://evil.example","x")`, Password: pw, Roles: []string{"member"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.handle.Teams().CreateTeam(t.Context(), store.Team{ID: "t1", Name: "@Front desk", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.handle.Teams().AddTeamMember(t.Context(), "t1", r.mgr.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.handle.Passkeys().AddPasskey(t.Context(), store.Passkey{ID: "pk", UserID: r.mgr.ID, CredentialID: []byte("cred"),
		PublicKey: []byte{1}, Name: "Laptop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.oc, r.ac, r.mc = noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, r.oc, "owner@example.com", pw)
	signInAs(t, f, r.ac, "admin@example.com", pw)
	signInAs(t, f, r.mc, "mem@example.com", pw)
	return r
}

func (f *fixture) roles(t *testing.T, id string) string {
	t.Helper()
	u, err := f.handle.Users().UserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(u.Roles, ",")
}

// TestReviewPage: owners and admins see every member with roles, teams, last sign-in
// and second factors, the CSV and JSON links, and revoke buttons only where they may
// act; members and strangers do not get in.
func TestReviewPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	r := newReviewCrew(t, f)
	page := f.srv.URL + "/auth/admin/team/audit"
	revoke := func(u store.User) string { return `action="/auth/admin/team/audit/` + u.ID + `/revoke"` }

	st, body := getPage(t, r.oc, page)
	for _, want := range []string{"<h1>Permission review</h1>", `href="/auth/admin/team/audit" aria-current="page"`,
		`href="/auth/admin/team/audit.csv"`, `href="/auth/api/v1/admin/team/audit"`,
		"admin@example.com", "mgr@example.com", "@Front desk", "1 passkey", "never", "Members: 5 · owners: 1 · admins: 1 · without a second factor: 4",
		revoke(r.adm), revoke(r.mgr), revoke(r.mem), `name="role" value="admin"`, `name="role" value="manager"`, `name="disable" value="1"`,
		`name="back" value="/auth/admin/team/audit"`, "Remove admin", ">Disable</button>", "&#34;https://evil.example&#34;"} {
		if !strings.Contains(body, want) {
			t.Fatalf("owner's review page: %d, no %q\n%s", st, want, body)
		}
	}
	if strings.Contains(body, revoke(r.owner)) {
		t.Fatal("the owner is offered to revoke their own access")
	}
	if strings.Contains(body, `value="member"`) {
		t.Fatal("the page offers to remove the member role, which is not a revocation")
	}
	// An admin: no buttons on owners and admins (themselves included).
	st, body = getPage(t, r.ac, page)
	if st != http.StatusOK || strings.Contains(body, revoke(r.owner)) || strings.Contains(body, revoke(r.adm)) || !strings.Contains(body, revoke(r.mgr)) ||
		!strings.Contains(body, "only owners change owners and admins") {
		t.Fatalf("admin's review page: %d\n%s", st, body)
	}
	// Others: nothing.
	for _, u := range []string{page, page + ".csv"} {
		if st, body := getPage(t, r.mc, u); st != http.StatusForbidden || strings.Contains(body, "owner@example.com") {
			t.Fatalf("member GET %s: %d", u, st)
		}
		if st := getStatus(t, noRedirect(t), u); st != http.StatusSeeOther {
			t.Fatalf("GET %s without a session: %d", u, st)
		}
	}
	// The navigation leads there for administrators only.
	if _, body := getPage(t, r.mc, f.srv.URL+"/auth/settings/security"); strings.Contains(body, "Permission review") {
		t.Fatal("a member's navigation offers the permission review")
	}
	if _, body := getPage(t, r.ac, f.srv.URL+"/auth/settings/security"); !strings.Contains(body, `href="/auth/admin/team/audit"`) {
		t.Fatal("an admin's navigation lacks the permission review")
	}
}

// TestReviewRevokeForms: the buttons take one role away or disable the member (their
// sessions end at once), behind CSRF and the re-authentication of member
// administration; a refusal is shown on the page.
func TestReviewRevokeForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	r := newReviewCrew(t, f)
	back := "/auth/admin/team/audit"
	page := f.srv.URL + back
	action := func(u store.User) string { return page + "/" + u.ID + "/revoke" }

	// Without the CSRF token, or from another site: refused, nothing changes.
	if st, _, _ := send(t, r.oc, "POST", action(r.adm), url.Values{"role": {"admin"}, "back": {back}}, nil); st != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", st)
	}
	v := url.Values{"role": {"admin"}, "back": {back}, "csrf": {csrfOf(t, r.oc, page)}}
	if st, _, _ := send(t, r.oc, "POST", action(r.adm), v, map[string]string{"Sec-Fetch-Site": "cross-site"}); st != http.StatusForbidden {
		t.Fatalf("cross-site: %d", st)
	}
	if f.roles(t, r.adm.ID) != "admin" {
		t.Fatal("a refused form changed the role")
	}

	st, _, body := submit(t, r.oc, page, action(r.adm), url.Values{"role": {"admin"}, "back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "Removed the admin role from admin@example.com; their roles now: member.") || f.roles(t, r.adm.ID) != "member" {
		t.Fatalf("remove admin: %d %s\n%s", st, f.roles(t, r.adm.ID), body)
	}
	if st, _ := getJSON(t, r.ac, f.srv.URL+"/auth/api/v1/admin/team/audit"); st != http.StatusForbidden {
		t.Fatalf("the former admin reading the review: %d", st)
	}
	// An admin cannot take roles from owners, nor a role someone does not have.
	_, asAdmin := f.addUserRole(t, "admin2@example.com", pw, "admin"), noRedirect(t)
	signInAs(t, f, asAdmin, "admin2@example.com", pw)
	if st, _, _ := submit(t, asAdmin, page, action(r.owner), url.Values{"role": {"owner"}, "back": {back}}); st != http.StatusForbidden || f.roles(t, r.owner.ID) != "owner" {
		t.Fatalf("an admin removing the owner role: %d", st)
	}
	if st, _, body := submit(t, asAdmin, page, action(r.mgr), url.Values{"role": {"admin"}, "back": {back}}); st != http.StatusBadRequest || !strings.Contains(body, "does not have the role") {
		t.Fatalf("a role the member lacks: %d\n%s", st, body)
	}

	hostileBrowser := noRedirect(t)
	signInAs(t, f, hostileBrowser, r.hostile.Email, pw)
	st, _, body = submit(t, asAdmin, page, action(r.hostile), url.Values{"disable": {"1"}, "back": {back}})
	if st != http.StatusOK || !strings.Contains(body, "-2&#43;3@example.com is disabled: they cannot sign in") || f.status(t, r.hostile.ID) != store.UserDisabled {
		t.Fatalf("disable: %d\n%s", st, body)
	}
	if live(t, hostileBrowser, f.srv.URL) {
		t.Fatal("the disabled member's session still works")
	}
	if recs := f.audits(t, admin.ActionUserDisabled); len(recs) != 1 || recs[0].Details["sessions_ended"] != "1" {
		t.Fatalf("audit: %+v", recs)
	}
	if recs := f.audits(t, admin.ActionRoleChanged); len(recs) != 1 || recs[0].ActorID != r.owner.ID || recs[0].Details["was"] != "admin" {
		t.Fatalf("audit: %+v", recs)
	}

	// A stale session confirms the password first, then comes back to the review.
	clk.Advance(authn.DefaultReauthAge + time.Minute)
	st, loc, _ := submit(t, r.oc, page, action(r.mem), url.Values{"disable": {"1"}, "back": {back}})
	if st != http.StatusSeeOther || loc != "/auth/reauth?rd="+url.QueryEscape(back) || f.status(t, r.mem.ID) != store.UserActive {
		t.Fatalf("stale revoke: %d %q", st, loc)
	}
}

// TestReviewCSV: a download with a header row, one row per member, no cell that a
// spreadsheet would run as a formula; the export is audited; another site's link does
// not export.
func TestReviewCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	r := newReviewCrew(t, f)
	u := f.srv.URL + "/auth/admin/team/audit.csv"
	st, h, b := send(t, r.ac, "GET", u, nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if st != http.StatusForbidden || len(f.audits(t, admin.ActionReviewExported)) != 0 {
		t.Fatalf("cross-site CSV: %d %s", st, b)
	}
	st, h, b = send(t, r.ac, "GET", u, nil, nil)
	if st != http.StatusOK || h.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="permission-review-acme-`) || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("CSV: %d %v", st, h)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !slices.Equal(rows[0], []string{"name", "email", "roles", "teams", "status", "last_sign_in", "second_factor", "passkeys", "locked"}) || len(rows) != 6 {
		t.Fatalf("CSV rows: %q", rows)
	}
	byEmail := map[string][]string{}
	for _, row := range rows[1:] {
		byEmail[strings.TrimPrefix(row[1], "'")] = row
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}
	if h := byEmail["-2+3@example.com"]; h == nil || h[0] != `'=HYPERLINK("https://evil.example","x")` || h[1] != "'-2+3@example.com" {
		t.Fatalf("hostile row: %q", h)
	}
	if m := byEmail["mgr@example.com"]; !slices.Equal(m, []string{"", "mgr@example.com", "manager", "'@Front desk", "active", "", "passkeys", "1", "false"}) {
		t.Fatalf("manager's row: %q", m)
	}
	if o := byEmail["owner@example.com"]; o == nil || o[2] != "owner" || o[6] != "none" {
		t.Fatalf("owner's row: %q", o)
	} else if _, err := time.Parse(time.RFC3339, o[5]); err != nil {
		t.Fatalf("owner's last sign-in %q: %v", o[5], err)
	}
	if recs := f.audits(t, admin.ActionReviewExported); len(recs) != 1 || recs[0].ActorID != r.adm.ID || recs[0].Details["members"] != "5" {
		t.Fatalf("export audit: %+v", recs)
	}
}

// TestReviewAPI: the JSON twin of the page and of its buttons.
func TestReviewAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	r := newReviewCrew(t, f)
	api := f.srv.URL + "/auth/api/v1/admin/team/audit"
	st, out := getJSON(t, r.ac, api)
	raw, _ := out["members"].([]any)
	if st != http.StatusOK || len(raw) != 5 || out["owners"] != float64(1) || out["admins"] != float64(1) || out["without_second_factor"] != float64(4) {
		t.Fatalf("review API: %d %v", st, out)
	}
	if _, err := time.Parse(time.RFC3339, out["generated_at"].(string)); err != nil {
		t.Fatal(err)
	}
	ms := map[string]map[string]any{}
	for _, x := range raw {
		m := x.(map[string]any)
		ms[m["email"].(string)] = m
	}
	mg := ms["mgr@example.com"]
	sf := mg["second_factor"].(map[string]any)
	if mg["teams"].([]any)[0] != "@Front desk" || sf["state"] != "passkeys" || sf["passkeys"] != float64(1) || mg["manageable"] != true ||
		mg["removable_roles"].([]any)[0] != "manager" || mg["may_disable"] != true || mg["status"] != "active" || mg["last_sign_in"] != nil {
		t.Fatalf("manager: %v", mg)
	}
	if o := ms["owner@example.com"]; o["manageable"] != false || len(o["removable_roles"].([]any)) != 0 || o["may_disable"] != false || o["last_sign_in"] == nil {
		t.Fatalf("owner as an admin sees them: %v", o)
	}
	if st, out := getJSON(t, r.mc, api); st != http.StatusForbidden || out["error"] != "forbidden" {
		t.Fatalf("member: %d %v", st, out)
	}

	rv := func(c *http.Client, u store.User, body any) (int, map[string]any) {
		return postJSON(t, c, api+"/"+u.ID+"/revoke", body)
	}
	if st, _, _ := send(t, r.oc, "POST", api+"/"+r.mgr.ID+"/revoke", url.Values{"role": {"manager"}}, nil); st != http.StatusUnsupportedMediaType {
		t.Fatalf("a form body: %d", st)
	}
	if st, out := rv(r.mc, r.mgr, map[string]any{"role": "manager"}); st != http.StatusForbidden {
		t.Fatalf("a member revoking: %d %v", st, out)
	}
	if st, out := rv(r.oc, r.mgr, map[string]any{}); st != http.StatusBadRequest || out["error"] != "invalid_revoke" {
		t.Fatalf("nothing to revoke: %d %v", st, out)
	}
	if st, out := rv(r.oc, r.owner, map[string]any{"role": "owner"}); st != http.StatusConflict || out["error"] != "last_owner" {
		t.Fatalf("the last owner: %d %v", st, out)
	}
	if st, out := rv(r.ac, r.owner, map[string]any{"disable": true}); st != http.StatusForbidden {
		t.Fatalf("an admin disabling the owner: %d %v", st, out)
	}
	st, out = rv(r.ac, r.mgr, map[string]any{"role": "manager"})
	if st != http.StatusOK || out["roles"].([]any)[0] != "member" || f.roles(t, r.mgr.ID) != "member" {
		t.Fatalf("removing manager: %d %v", st, out)
	}
	st, out = rv(r.oc, r.adm, map[string]any{"disable": true})
	if st != http.StatusOK || out["status"] != "disabled" || live(t, r.ac, f.srv.URL) {
		t.Fatalf("disabling the admin: %d %v", st, out)
	}
}
