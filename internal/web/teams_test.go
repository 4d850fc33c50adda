package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

// TestTeamsAPI: owners and admins create teams (names unique in any case), list them
// with member counts, put members in and take them out, and delete them; members are
// refused; admins do not change owners' teams.
func TestTeamsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	ann := f.addUser(t, "ann@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "ann@example.com", pw)
	teams := f.srv.URL + "/auth/api/v1/admin/teams"

	st, out := postJSON(t, ac, teams, map[string]string{"name": "Sales"})
	if st != http.StatusCreated || out["name"] != "Sales" || out["id"] == "" || out["members"] != float64(0) {
		t.Fatalf("create: %d %v", st, out)
	}
	sales := out["id"].(string)
	if st, out := postJSON(t, oc, teams, map[string]string{"name": "SALES"}); st != http.StatusConflict || out["error"] != "team_exists" {
		t.Fatalf("the same name in capitals: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, teams, map[string]string{"name": strings.Repeat("x", 65)}); st != http.StatusBadRequest || out["error"] != "invalid_name" {
		t.Fatalf("a long name: %d %v", st, out)
	}
	if st, out := postJSON(t, mc, teams, map[string]string{"name": "Mine"}); st != http.StatusForbidden {
		t.Fatalf("a member creating a team: %d %v", st, out)
	}
	if st, _, b := send(t, oc, "POST", teams, url.Values{"name": {"Form"}}, nil); st != http.StatusUnsupportedMediaType {
		t.Fatalf("a form body: %d %s", st, b)
	}

	member := teams + "/" + sales + "/members/"
	if st, out := sendJSON(t, ac, "PUT", member+ann.ID, nil); st != http.StatusOK || strs(out["teams"]) != sales || out["email"] != "ann@example.com" {
		t.Fatalf("add: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "PUT", member+owner.ID, nil); st != http.StatusForbidden {
		t.Fatalf("an admin adding an owner: %d %v", st, out)
	}
	if st, out := sendJSON(t, mc, "PUT", member+ann.ID, nil); st != http.StatusForbidden {
		t.Fatalf("a member adding themselves: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "PUT", teams+"/no-such-team/members/"+ann.ID, nil); st != http.StatusNotFound || out["error"] != "no_such_team" {
		t.Fatalf("an unknown team: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "PUT", member+"no-such-user", nil); st != http.StatusNotFound || out["error"] != "no_such_user" {
		t.Fatalf("an unknown member: %d %v", st, out)
	}
	st, out = getJSON(t, ac, teams)
	if list, _ := out["teams"].([]any); st != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["members"] != float64(1) {
		t.Fatalf("list: %d %v", st, out)
	}
	if ms := membersByEmail(t, f, ac); strs(ms["ann@example.com"]["teams"]) != sales {
		t.Fatalf("members listing: %v", ms["ann@example.com"])
	}
	if st, out := sendJSON(t, ac, "DELETE", member+ann.ID, nil); st != http.StatusOK || len(out["teams"].([]any)) != 0 {
		t.Fatalf("remove: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "PUT", member+ann.ID, nil); st != http.StatusOK {
		t.Fatalf("add again: %d %v", st, out)
	}
	if st, out := sendJSON(t, mc, "DELETE", teams+"/"+sales, nil); st != http.StatusForbidden {
		t.Fatalf("a member deleting: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", teams+"/"+sales, nil); st != http.StatusOK || out["status"] != "deleted" {
		t.Fatalf("delete: %d %v", st, out)
	}
	if u, _ := f.handle.Users().UserByID(t.Context(), ann.ID); len(u.Teams) != 0 {
		t.Fatalf("ann is still in the deleted team: %v", u.Teams)
	}
	if st, out := sendJSON(t, ac, "DELETE", teams+"/"+sales, nil); st != http.StatusNotFound {
		t.Fatalf("delete again: %d %v", st, out)
	}
	// Deleted: listed under "deleted", its name taken; restored, ann is back in it.
	st, out = getJSON(t, ac, teams)
	if del, _ := out["deleted"].([]any); st != http.StatusOK || len(out["teams"].([]any)) != 0 || len(del) != 1 ||
		del[0].(map[string]any)["id"] != sales || del[0].(map[string]any)["members"] != float64(1) || del[0].(map[string]any)["days_left"] != float64(30) {
		t.Fatalf("list after the delete: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, teams, map[string]string{"name": "sales"}); st != http.StatusConflict || out["error"] != "team_deleted" {
		t.Fatalf("a team under the deleted one's name: %d %v", st, out)
	}
	if st, out := sendJSON(t, mc, "POST", teams+"/"+sales+"/restore", nil); st != http.StatusForbidden {
		t.Fatalf("a member restoring: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "POST", teams+"/"+sales+"/restore", nil); st != http.StatusOK || out["id"] != sales || out["members"] != float64(1) {
		t.Fatalf("restore: %d %v", st, out)
	}
	if u, _ := f.handle.Users().UserByID(t.Context(), ann.ID); strings.Join(u.Teams, ",") != sales {
		t.Fatalf("ann after the restore: %v", u.Teams)
	}
	if st, out := sendJSON(t, ac, "POST", teams+"/"+sales+"/restore", nil); st != http.StatusNotFound || out["error"] != "no_such_team" {
		t.Fatalf("restoring a live team: %d %v", st, out)
	}
	if len(f.audits(t, admin.ActionTeamRestore)) != 1 {
		t.Error("no team.restore record")
	}
	for action, n := range map[string]int{admin.ActionTeamCreate: 1, admin.ActionTeamMemberAdd: 2, admin.ActionTeamMemberRemove: 1, admin.ActionTeamDelete: 1} {
		if got := len(f.audits(t, action)); got != n {
			t.Errorf("%d %s records, want %d", got, action, n)
		}
	}
}

// TestTeamsOnMemberPages: the members page lists the teams and creates and deletes
// them; a member's page puts them in a team and takes them out; mistakes are told on
// the page; the forms need their CSRF token.
func TestTeamsOnMemberPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	ann := f.addUser(t, "ann@example.com", pw)
	oc, ac := noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	members := f.srv.URL + "/auth/admin/members"

	st, body := getPage(t, ac, members)
	if st != http.StatusOK || !strings.Contains(body, "No teams yet.") || !strings.Contains(body, `action="/auth/admin/teams"`) {
		t.Fatalf("members page: %d\n%s", st, body)
	}
	back := url.Values{"back": {"/auth/admin/members"}}
	v := url.Values{"name": {"Sales EMEA"}, "back": back["back"]}
	st, _, body = submit(t, ac, members, f.srv.URL+"/auth/admin/teams", v)
	if st != http.StatusOK || !strings.Contains(body, "Team Sales EMEA created") || !strings.Contains(body, "<td>Sales EMEA</td>") {
		t.Fatalf("create: %d\n%s", st, body)
	}
	if st, _, body := submit(t, ac, members, f.srv.URL+"/auth/admin/teams", url.Values{"name": {"sales emea"}}); st != http.StatusConflict || !strings.Contains(body, "The team was not created. There is a team by that name already") ||
		!strings.Contains(body, `value="sales emea" autofocus`) || !strings.Contains(body, `id="team-problem"`) {
		t.Fatalf("create again: %d\n%s", st, body)
	}
	if st, _, _ := send(t, ac, "POST", f.srv.URL+"/auth/admin/teams", url.Values{"name": {"No CSRF"}}, nil); st != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", st)
	}
	list, _ := f.handle.Teams().ListTeams(t.Context())
	if len(list) != 1 {
		t.Fatalf("teams: %+v", list)
	}
	sales := list[0]

	// A member's page.
	mp := "/auth/admin/members/" + ann.ID
	st, body = getPage(t, ac, f.srv.URL+mp)
	if st != http.StatusOK || !strings.Contains(body, "In no team.") || !strings.Contains(body, `action="`+mp+`/teams/add"`) || !strings.Contains(body, `<option value="`+sales.ID+`">Sales EMEA</option>`) {
		t.Fatalf("member page: %d\n%s", st, body)
	}
	st, _, body = submit(t, ac, f.srv.URL+mp, f.srv.URL+mp+"/teams/add", url.Values{"team": {sales.ID}, "back": {mp}})
	if st != http.StatusOK || !strings.Contains(body, "Added to Sales EMEA.") || !strings.Contains(body, `action="`+mp+`/teams/remove"`) {
		t.Fatalf("add: %d\n%s", st, body)
	}
	if _, body := getPage(t, ac, members); !strings.Contains(body, `<td data-label="Teams">Sales EMEA</td>`) {
		t.Fatalf("members page after the add:\n%s", body)
	}
	if st, _, body := submit(t, ac, f.srv.URL+mp, f.srv.URL+mp+"/teams/add", url.Values{"team": {"gone"}}); st != http.StatusNotFound || !strings.Contains(body, "There is no such team") {
		t.Fatalf("an unknown team: %d\n%s", st, body)
	}
	st, _, body = submit(t, ac, f.srv.URL+mp, f.srv.URL+mp+"/teams/remove", url.Values{"team": {sales.ID}})
	if st != http.StatusOK || !strings.Contains(body, "Removed from Sales EMEA.") || !strings.Contains(body, "In no team.") {
		t.Fatalf("remove: %d\n%s", st, body)
	}
	// The owner's page: an admin sees their teams but gets no buttons.
	if _, body := getPage(t, ac, f.srv.URL+"/auth/admin/members/"+owner.ID); strings.Contains(body, "/teams/add") || strings.Contains(body, "/teams/remove") {
		t.Fatalf("an admin is offered to change an owner's teams:\n%s", body)
	}
	if st, _, _ := submit(t, ac, f.srv.URL+mp, f.srv.URL+"/auth/admin/members/"+owner.ID+"/teams/add", url.Values{"team": {sales.ID}}); st != http.StatusForbidden {
		t.Fatalf("an admin adding an owner by the form: %d", st)
	}

	// Delete.
	st, _, body = submit(t, oc, members, f.srv.URL+"/auth/admin/teams/"+sales.ID+"/delete", back)
	if st != http.StatusOK || !strings.Contains(body, "Team Sales EMEA deleted") || !strings.Contains(body, "No teams yet.") {
		t.Fatalf("delete: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, members, f.srv.URL+"/auth/admin/teams/"+sales.ID+"/delete", back); st != http.StatusNotFound || !strings.Contains(body, "There is no such team") {
		t.Fatalf("delete again: %d\n%s", st, body)
	}
	// Restore from the Deleted teams list.
	restore := "/auth/admin/teams/" + sales.ID + "/restore"
	if _, body := getPage(t, ac, members); !strings.Contains(body, "Deleted teams") || !strings.Contains(body, `action="`+restore+`"`) {
		t.Fatalf("members page after the delete:\n%s", body)
	}
	if st, _, _ := send(t, ac, "POST", f.srv.URL+restore, back, nil); st != http.StatusForbidden {
		t.Fatalf("restore without CSRF: %d", st)
	}
	st, _, body = submit(t, ac, members, f.srv.URL+restore, back)
	if st != http.StatusOK || !strings.Contains(body, "Team Sales EMEA is restored") || !strings.Contains(body, "<td>Sales EMEA</td>") || strings.Contains(body, "Deleted teams") {
		t.Fatalf("restore: %d\n%s", st, body)
	}
}
