package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// rolesByName lists the roles through the API, by name.
func rolesByName(t *testing.T, f *fixture, c *http.Client) map[string]map[string]any {
	t.Helper()
	st, out := getJSON(t, c, f.srv.URL+"/auth/api/v1/admin/roles")
	raw, ok := out["roles"].([]any)
	if st != http.StatusOK || !ok {
		t.Fatalf("GET roles: %d %v", st, out)
	}
	m := map[string]map[string]any{}
	for _, r := range raw {
		x := r.(map[string]any)
		m[x["name"].(string)] = x
	}
	return m
}

func strs(v any) string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return strings.Join(out, ",")
}

// TestRolesAPI: owners add roles and change built-in ones, which members can then be
// given; admins read them and get 403 on changes; members not even that; owner is
// fixed; bad permissions are named; a role held is not deleted; a built-in one is
// reset; all of it audited.
func TestRolesAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	ann := f.addUser(t, "ann@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "ann@example.com", pw)
	roles := f.srv.URL + "/auth/api/v1/admin/roles/"
	put := func(c *http.Client, name string, body any) (int, map[string]any) {
		return sendJSON(t, c, "PUT", roles+name, body)
	}
	giveRole := func(c *http.Client, id, r string) (int, map[string]any) {
		return sendJSON(t, c, "PUT", f.srv.URL+"/auth/api/v1/admin/members/"+id+"/role", map[string]string{"role": r})
	}

	// Everyone who administers reads them.
	for _, c := range []*http.Client{oc, ac} {
		rs := rolesByName(t, f, c)
		if len(rs) != 4 || rs["owner"]["editable"] != false || rs["member"]["builtin"] != true || strs(rs["member"]["permissions"]) != "*:*:own" ||
			rs["owner"]["members"] != float64(1) || rs["member"]["members"] != float64(1) || strs(rs["admin"]["permissions_in_words"]) != "Anything on every resource: across the workspace" {
			t.Fatalf("roles: %v", rs)
		}
	}
	if st, out := getJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/roles"); st != http.StatusForbidden || out["error"] != "forbidden" {
		t.Fatalf("a member reading roles: %d %v", st, out)
	}

	// Only owners change them.
	if st, out := put(ac, "sales", map[string]any{"permissions": []string{"deals:read:own"}}); st != http.StatusForbidden || out["error"] != "only_owners_change_roles" {
		t.Fatalf("an admin adding a role: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "DELETE", roles+"member", nil); st != http.StatusForbidden {
		t.Fatalf("an admin resetting a role: %d %v", st, out)
	}
	if st, out := put(mc, "sales", map[string]any{"permissions": []string{"*:*:tenant"}}); st != http.StatusForbidden {
		t.Fatalf("a member adding a role: %d %v", st, out)
	}
	if st, out := put(oc, "owner", map[string]any{"permissions": []string{"deals:read:own"}}); st != http.StatusConflict || out["error"] != "owner_role_fixed" {
		t.Fatalf("changing owner: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "DELETE", roles+"owner", nil); st != http.StatusConflict || out["error"] != "owner_role_fixed" {
		t.Fatalf("deleting owner: %d %v", st, out)
	}
	st, out := put(oc, "sales", map[string]any{"permissions": []string{"deals:read:own", "deals:read", "deals:edit:everywhere"}})
	if msg, _ := out["message"].(string); st != http.StatusBadRequest || out["error"] != "invalid_permissions" ||
		!strings.Contains(msg, `"deals:read"`) || !strings.Contains(msg, `"deals:edit:everywhere"`) || strings.Contains(msg, `"deals:read:own"`) {
		t.Fatalf("bad permissions: %d %v", st, out)
	}
	if st, out := put(oc, "Sales!", map[string]any{"permissions": []string{}}); st != http.StatusBadRequest || out["error"] != "invalid_name" {
		t.Fatalf("bad name: %d %v", st, out)
	}
	if st, _, b := send(t, oc, "PUT", roles+"sales", url.Values{"permissions": {"*:*:tenant"}}, nil); st != http.StatusUnsupportedMediaType {
		t.Fatalf("a form body: %d %s", st, b)
	}
	if st, out := put(oc, "sales", map[string]any{"permissions": []string{"deals:read:own"}, "color": "red"}); st != http.StatusBadRequest || out["error"] != "invalid_json" {
		t.Fatalf("unknown field: %d %v", st, out)
	}
	if _, ok := rolesByName(t, f, oc)["sales"]; ok {
		t.Fatal("a refused role exists")
	}

	// A custom role: not assignable before it exists; then it is.
	if st, out := giveRole(oc, ann.ID, "sales"); st != http.StatusBadRequest || out["error"] != "invalid_role" {
		t.Fatalf("an undefined role: %d %v", st, out)
	}
	st, out = put(oc, "sales", map[string]any{"description": "Sells", "permissions": []string{"deals:read:tenant", "deals:edit:own"}})
	if st != http.StatusCreated || out["builtin"] != false || strs(out["permissions"]) != "deals:read:tenant,deals:edit:own" ||
		strs(out["permissions_in_words"]) != "Read deals: across the workspace,Edit deals: their own records" {
		t.Fatalf("adding sales: %d %v", st, out)
	}
	if st, out := put(oc, "sales", map[string]any{"description": "Sells", "permissions": []string{"deals:*:team"}}); st != http.StatusOK || strs(out["permissions"]) != "deals:*:team" {
		t.Fatalf("changing sales: %d %v", st, out)
	}
	if st, out := giveRole(ac, ann.ID, "sales"); st != http.StatusOK || strs(out["roles"]) != "sales" {
		t.Fatalf("an admin giving the new role: %d %v", st, out)
	}
	if st, out := getJSON(t, ac, roles+"sales"); st != http.StatusOK || out["members"] != float64(1) || out["description"] != "Sells" {
		t.Fatalf("GET sales: %d %v", st, out)
	}
	if st, out := getJSON(t, ac, roles+"nope"); st != http.StatusNotFound || out["error"] != "no_such_role" {
		t.Fatalf("GET an unknown role: %d %v", st, out)
	}
	// Admins still make no owners (custom roles change nothing there).
	if st, out := giveRole(ac, ann.ID, "owner"); st != http.StatusForbidden {
		t.Fatalf("an admin making an owner: %d %v", st, out)
	}
	if st, out := giveRole(oc, owner.ID, "sales"); st != http.StatusConflict || out["error"] != "last_owner" {
		t.Fatalf("the last owner taking a custom role: %d %v", st, out)
	}

	// Held, deleted: it grants nothing, is listed under "deleted", keeps its name;
	// restored, it is back. Only owners restore.
	if st, out := sendJSON(t, oc, "DELETE", roles+"sales", nil); st != http.StatusOK || out["status"] != "deleted" {
		t.Fatalf("deleting a held role: %d %v", st, out)
	}
	if _, ok := rolesByName(t, f, ac)["sales"]; ok {
		t.Fatal("the deleted role is listed among the roles")
	}
	if st, out := getJSON(t, ac, f.srv.URL+"/auth/api/v1/admin/roles"); st != http.StatusOK || fmt.Sprint(out["deleted"]) == "[]" ||
		out["deleted"].([]any)[0].(map[string]any)["name"] != "sales" || out["deleted"].([]any)[0].(map[string]any)["days_left"] != float64(30) {
		t.Fatalf("deleted roles: %d %v", st, out["deleted"])
	}
	if st, out := put(oc, "sales", map[string]any{"permissions": []string{"*:*:tenant"}}); st != http.StatusConflict || out["error"] != "role_deleted" {
		t.Fatalf("setting a deleted role: %d %v", st, out)
	}
	if st, out := sendJSON(t, ac, "POST", roles+"sales/restore", nil); st != http.StatusForbidden {
		t.Fatalf("an admin restoring: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "POST", roles+"sales/restore", nil); st != http.StatusOK || out["members"] != float64(1) {
		t.Fatalf("restoring the role: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "POST", roles+"sales/restore", nil); st != http.StatusNotFound {
		t.Fatalf("restoring a live role: %d %v", st, out)
	}
	// A built-in role changed, then reset.
	if st, out := put(oc, "manager", map[string]any{"permissions": []string{"deals:read:team"}}); st != http.StatusOK || out["changed"] != true {
		t.Fatalf("changing manager: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "DELETE", roles+"manager", nil); st != http.StatusOK || out["status"] != "reset" {
		t.Fatalf("resetting manager: %d %v", st, out)
	}
	if m := rolesByName(t, f, ac)["manager"]; m["changed"] != false || strs(m["permissions"]) != "*:*:team" {
		t.Fatalf("manager after the reset: %v", m)
	}
	if st, _ := giveRole(oc, ann.ID, "member"); st != http.StatusOK {
		t.Fatal(st)
	}
	if st, out := sendJSON(t, oc, "DELETE", roles+"sales", nil); st != http.StatusOK || out["status"] != "deleted" {
		t.Fatalf("deleting the unused role: %d %v", st, out)
	}
	if st, out := sendJSON(t, oc, "DELETE", roles+"sales", nil); st != http.StatusNotFound {
		t.Fatalf("deleting it again: %d %v", st, out)
	}
	if sets, dels := f.audits(t, admin.ActionRoleSet), f.audits(t, admin.ActionRoleDelete); len(sets) != 3 || len(dels) != 3 ||
		sets[0].ActorID != owner.ID || sets[0].Details["name"] != "sales" || sets[0].Details["permissions"] != "deals:read:tenant,deals:edit:own" ||
		dels[2].Details["name"] != "sales" || len(f.audits(t, admin.ActionRoleRestore)) != 1 {
		t.Fatalf("audit: %+v %+v", sets, dels)
	}
}

// TestRolesPages: the Roles page lists each role with its permissions in words and
// spelled and who holds it; owners add and change roles with forms (a mistake shows
// the form again with what was typed and the bad permission named), reset and delete
// them; admins see the page without controls and are refused the forms; forms need
// their CSRF token and a recent password.
func TestRolesPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	f.addUser(t, "ann@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "ann@example.com", pw)
	page := f.srv.URL + "/auth/admin/roles"

	st, body := getPage(t, oc, page)
	for _, want := range []string{`href="/auth/admin/roles" aria-current="page"`, "Anything on every resource: across the workspace", "<code>*:*:team</code>",
		"Their own records", `href="/auth/admin/roles/member"`, `action="/auth/admin/roles"`, `name="permissions"`, "cannot be changed"} {
		if !strings.Contains(body, want) && !strings.Contains(strings.ToLower(body), strings.ToLower(want)) {
			t.Fatalf("roles page: %d, no %q\n%s", st, want, body)
		}
	}
	if strings.Contains(body, `href="/auth/admin/roles/owner"`) {
		t.Fatal("the owner role is offered for editing")
	}
	st, body = getPage(t, ac, page)
	if st != http.StatusOK || !strings.Contains(body, "Only owners change roles") || strings.Contains(body, `action="/auth/admin/roles"`) || strings.Contains(body, `href="/auth/admin/roles/member"`) {
		t.Fatalf("the admin's roles page: %d\n%s", st, body)
	}
	if st, body := getPage(t, mc, page); st != http.StatusForbidden || strings.Contains(body, "*:*:team") {
		t.Fatalf("a member's roles page: %d", st)
	}
	if _, body := getPage(t, mc, f.srv.URL+"/auth/settings/security"); strings.Contains(body, "/auth/admin/roles") {
		t.Fatal("a member's navigation offers Roles")
	}

	// Adding: a mistake comes back with what was typed and the bad permission named.
	typed := "deals:read:own\ndeals:read\n"
	st, _, body = submit(t, oc, page, page, url.Values{"name": {"sales"}, "description": {"Sells"}, "permissions": {typed}, "back": {"/auth/admin/roles"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `<p class="error" id="role-problem">Permission &#34;deals:read&#34;: want resource:action:scope`) ||
		!strings.Contains(body, `The role was not added. Permission &#34;deals:read&#34;`) || !strings.Contains(body, `role="alert"`) ||
		!strings.Contains(body, `autofocus aria-invalid="true" aria-describedby="role-problem">`+typed+"</textarea>") || !strings.Contains(body, `value="sales"`) {
		t.Fatalf("bad permission: %d\n%s", st, body)
	}
	st, _, body = submit(t, oc, page, page, url.Values{"name": {"sales"}, "description": {"Sells"}, "permissions": {"deals:read:own\r\n deals:edit:team \r\n"}})
	if st != http.StatusOK || !strings.Contains(body, "Role sales added") || !strings.Contains(body, "Edit deals: their teams&#39; records") || !strings.Contains(body, `href="/auth/admin/roles/sales"`) {
		t.Fatalf("adding sales: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, page, page, url.Values{"name": {"sales"}, "permissions": {"x:y:own"}}); st != http.StatusConflict || !strings.Contains(body, "exists already") {
		t.Fatalf("adding sales again: %d\n%s", st, body)
	}

	// Changing it on its page.
	rp := page + "/sales"
	st, body = getPage(t, oc, rp)
	if st != http.StatusOK || !strings.Contains(body, `action="/auth/admin/roles/sales"`) || !strings.Contains(body, ">deals:read:own\ndeals:edit:team</textarea>") ||
		!strings.Contains(body, "Delete the role sales") {
		t.Fatalf("sales page: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, rp, rp, url.Values{"permissions": {"deals:read:nowhere"}}); st != http.StatusBadRequest || !strings.Contains(body, "deals:read:nowhere") || !strings.Contains(body, ">deals:read:nowhere</textarea>") {
		t.Fatalf("bad change: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, rp, rp, url.Values{"permissions": {"deals:*:tenant"}, "description": {"Sells more"}}); st != http.StatusOK || !strings.Contains(body, "Saved.") || !strings.Contains(body, "Anything on deals: across the workspace") {
		t.Fatalf("change: %d\n%s", st, body)
	}
	if st, _, _ := send(t, oc, "POST", rp, url.Values{"permissions": {"*:*:tenant"}}, nil); st != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", st)
	}
	if st, _, body := submit(t, ac, page, rp, url.Values{"permissions": {"*:*:tenant"}}); st != http.StatusForbidden || !strings.Contains(body, "Only owners change roles.") || !strings.Contains(body, `href="/auth/admin/roles"`) {
		t.Fatalf("an admin's form: %d\n%s", st, body)
	}
	if r := rolesByName(t, f, oc)["sales"]; strs(r["permissions"]) != "deals:*:tenant" {
		t.Fatalf("sales after refused changes: %v", r)
	}
	if st, body := getPage(t, oc, page+"/nope"); st != http.StatusNotFound || !strings.Contains(body, `href="/auth/admin/roles"`) {
		t.Fatalf("an unknown role's page: %d\n%s", st, body)
	}
	if st, body := getPage(t, oc, page+"/owner"); st != http.StatusOK || strings.Contains(body, "<form method=\"post\" action=\"/auth/admin/roles/owner") || !strings.Contains(body, "nobody can change it") {
		t.Fatalf("the owner role's page: %d\n%s", st, body)
	}

	// Held: the page says the holders lose it; deleted, it is listed under Deleted
	// roles with a Restore button, which brings it back.
	ann, _ := f.handle.Users().UserByEmail(t.Context(), "ann@example.com")
	if st, _ := sendJSON(t, oc, "PUT", f.srv.URL+"/auth/api/v1/admin/members/"+ann.ID+"/role", map[string]string{"role": "sales"}); st != http.StatusOK {
		t.Fatal(st)
	}
	if _, body := getPage(t, oc, rp); !strings.Contains(body, "1 member holds this role: they lose its permissions at once") || !strings.Contains(body, "Delete the role sales") ||
		!strings.Contains(body, `<a href="/auth/admin/members/`+ann.ID+`">ann@example.com</a>`) {
		t.Fatalf("held role's page:\n%s", body)
	}
	restore := page + "/sales/restore"
	if st, _, body := submit(t, oc, rp, rp+"/delete", url.Values{}); st != http.StatusOK || !strings.Contains(body, "Role sales deleted: it grants nothing now.") ||
		strings.Contains(body, `href="/auth/admin/roles/sales"`) || !strings.Contains(body, "Deleted roles") || !strings.Contains(body, `action="/auth/admin/roles/sales/restore"`) {
		t.Fatalf("deleting a held role: %d\n%s", st, body)
	}
	if st, _, body := submit(t, ac, page, restore, url.Values{}); st != http.StatusForbidden {
		t.Fatalf("an admin restoring: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, page, restore, url.Values{}); st != http.StatusOK || !strings.Contains(body, "Role sales is restored") ||
		!strings.Contains(body, `href="/auth/admin/roles/sales"`) || strings.Contains(body, "Deleted roles") {
		t.Fatalf("restoring: %d\n%s", st, body)
	}
	if st, _ := sendJSON(t, oc, "PUT", f.srv.URL+"/auth/api/v1/admin/members/"+ann.ID+"/role", map[string]string{"role": "member"}); st != http.StatusOK {
		t.Fatal(st)
	}
	if st, _, body := submit(t, oc, rp, rp+"/delete", url.Values{}); st != http.StatusOK || !strings.Contains(body, "Role sales deleted") || strings.Contains(body, `href="/auth/admin/roles/sales"`) {
		t.Fatalf("delete: %d\n%s", st, body)
	}

	// A built-in role: changed, then reset.
	mp := page + "/member"
	if st, _, body := submit(t, oc, mp, mp, url.Values{"permissions": {"deals:read:own"}}); st != http.StatusOK || !strings.Contains(body, "Reset to the default permissions") {
		t.Fatalf("changing member: %d\n%s", st, body)
	}
	if st, _, body := submit(t, oc, mp, mp+"/delete", url.Values{}); st != http.StatusOK || !strings.Contains(body, "Role member is back to its default permissions.") {
		t.Fatalf("resetting member: %d\n%s", st, body)
	}

	// A stale session confirms the password first, and comes back to the page.
	clk.Advance(authn.DefaultReauthAge + time.Minute)
	st, loc, _ := submit(t, oc, mp, mp, url.Values{"permissions": {"deals:read:own"}, "back": {"/auth/admin/roles/member"}})
	if st != http.StatusSeeOther || loc != "/auth/reauth?rd="+url.QueryEscape("/auth/admin/roles/member") {
		t.Fatalf("stale form: %d %q", st, loc)
	}
	if st, out := sendJSON(t, oc, "PUT", f.srv.URL+"/auth/api/v1/admin/roles/member", map[string]any{"permissions": []string{"deals:read:own"}}); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
		t.Fatalf("stale API call: %d %v", st, out)
	}
	if r := rolesByName(t, f, oc)["member"]; r["changed"] != false {
		t.Fatalf("the stale change had effect: %v", r)
	}
}
