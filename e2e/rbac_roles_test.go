package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func getRole(t *testing.T, c *http.Client, base, name string) roleAPI {
	t.Helper()
	st, body := apiCall(t, c, "GET", base+"/auth/api/v1/admin/roles/"+name, nil)
	if st != http.StatusOK {
		t.Fatalf("GET role %s: %d %s", name, st, body)
	}
	return decodeJSON[roleAPI](t, "role", body)
}

// setMemberRole is the owner's PUT of the member role's permissions, which must work.
func setMemberRole(t *testing.T, c *http.Client, base string, perms ...string) {
	t.Helper()
	st, body := apiCall(t, c, "PUT", base+"/auth/api/v1/admin/roles/member", map[string]any{"description": "Deals of their teams", "permissions": perms})
	r := decodeJSON[roleAPI](t, "role set", body)
	if st != http.StatusOK || !slices.Equal(r.Permissions, perms) {
		t.Fatalf("the owner setting member to %v: %d %s", perms, st, body)
	}
}

// waitPass polls a request until it passes as want (a scope), at most limit; it
// returns the last answer and how long it took.
func waitPass(t *testing.T, k *crm, p *person, method, path, perm, want string, limit time.Duration) (sent, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		s := k.send(t, p, false, method, path)
		if s.reached != nil {
			k.expectAPI(t, fmt.Sprintf("%s %s %s after the role change", p.label, method, path), p, s, perm, want)
			return s, time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s %s %s: still %d %s %v after the role change (limit %v)", p.label, method, path, s.status, s.body, time.Since(start).Round(time.Millisecond), limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRBACRoleChangeWithoutRestart: an owner gives the member role deals:*:team
// through the API; a member's live session then edits its team's deals (scope team)
// without signing in again and without a restart, and only its own team's. Admins
// and members cannot change roles, admins cannot make owners, the owner role is
// fixed and the last owner cannot be demoted. Resetting the role takes the right
// away again.
func TestRBACRoleChangeWithoutRestart(t *testing.T) {
	k := startCRM(t)
	g, o, a, ma, mb := k.g, k.owner, k.admin, k.memberA, k.memberB
	pid := g.cmd.Process.Pid
	teamDeal := "/api/teams/" + k.teamA + "/deals/1"

	// Before: the member edits only their own records.
	k.expectAPI(t, "member(A) PUT team A's deal before", ma, k.send(t, ma, false, "PUT", teamDeal), "deals:edit", xNo)
	sid := k.send(t, ma, false, "GET", "/api/me").reached.Get("X-Gatehouse-Session-Id")
	if sid == "" {
		t.Fatal("no session id at the upstream")
	}

	// Who may not change roles, and what nobody may do.
	for _, c := range []struct {
		who    *person
		status int
		code   string
	}{{a, http.StatusForbidden, "only_owners_change_roles"}, {ma, http.StatusForbidden, ""}} {
		st, body := apiCall(t, c.who.c, "PUT", g.url+"/auth/api/v1/admin/roles/member", map[string]any{"permissions": []string{"*:*:tenant"}})
		if st != c.status || c.code != "" && apiErrorCode(t, body) != c.code {
			t.Errorf("%s PUT role member: %d %s, want %d %s", c.who.label, st, body, c.status, c.code)
		}
	}
	if st, body := apiCall(t, a.c, "PUT", g.url+"/auth/api/v1/admin/members/"+ma.id+"/role", map[string]string{"role": "owner"}); st != http.StatusForbidden {
		t.Errorf("an admin making a member owner: %d %s, want 403", st, body)
	}
	if st, body := apiCall(t, a.c, "PUT", g.url+"/auth/api/v1/admin/members/"+a.id+"/role", map[string]string{"role": "owner"}); st != http.StatusForbidden {
		t.Errorf("an admin making themselves owner: %d %s, want 403", st, body)
	}
	if st, body := apiCall(t, a.c, "PUT", g.url+"/auth/api/v1/admin/roles/owner", map[string]any{"permissions": []string{"*:*:own"}}); st != http.StatusForbidden {
		t.Errorf("an admin changing the owner role: %d %s, want 403", st, body)
	}
	if st, body := apiCall(t, o.c, "PUT", g.url+"/auth/api/v1/admin/roles/owner", map[string]any{"permissions": []string{"*:*:own"}}); st != http.StatusConflict || apiErrorCode(t, body) != "owner_role_fixed" {
		t.Errorf("the owner changing the owner role: %d %s, want 409 owner_role_fixed", st, body)
	}
	if st, body := apiCall(t, o.c, "PUT", g.url+"/auth/api/v1/admin/members/"+o.id+"/role", map[string]string{"role": "admin"}); st != http.StatusConflict || apiErrorCode(t, body) != "last_owner" {
		t.Errorf("demoting the last owner: %d %s, want 409 last_owner", st, body)
	}
	if st, body := apiCall(t, o.c, "PUT", g.url+"/auth/api/v1/admin/roles/member", map[string]any{"permissions": []string{"deals:edit:galaxy"}}); st != http.StatusBadRequest || !strings.Contains(body, "deals:edit:galaxy") {
		t.Errorf("a bad permission: %d %s, want 400 naming it", st, body)
	}
	// Nothing of that changed anything, even past session_cache_ttl.
	time.Sleep(crmTTL + 500*time.Millisecond)
	if r := getRole(t, o.c, g.url, "member"); !slices.Equal(r.Permissions, []string{"*:*:own"}) {
		t.Fatalf("after the refused changes the member role is %v", r.Permissions)
	}
	if got := member(t, o.c, g.url, ma.email).Roles; !slices.Equal(got, []string{"member"}) {
		t.Fatalf("after the admin's attempt member(A) has roles %v", got)
	}
	if got := member(t, o.c, g.url, o.email).Roles; !slices.Equal(got, []string{"owner"}) {
		t.Fatalf("after the refused demotion the owner has roles %v", got)
	}
	k.expectAPI(t, "member(A) PUT team A's deal after the refused changes", ma, k.send(t, ma, false, "PUT", teamDeal), "deals:edit", xNo)
	k.expectAPI(t, "member(A) GET all deals after the refused changes", ma, k.send(t, ma, false, "GET", "/api/deals"), "deals:read", xNo)
	k.expectAPI(t, "admin GET all deals", a, k.send(t, a, false, "GET", "/api/deals"), "deals:read", xTenant)

	// The owner changes the member role: the member's live session gets it.
	setMemberRole(t, o.c, g.url, "deals:*:team")
	s, took := waitPass(t, k, ma, "PUT", teamDeal, "deals:edit", xTeam, crmTTL+3*time.Second)
	t.Logf("the member's session edited the team's deal %v after the role change", took.Round(time.Millisecond))
	if got := s.reached.Get("X-Gatehouse-Session-Id"); got != sid {
		t.Errorf("the member's session at the upstream is %q, was %q: signed out and in again?", got, sid)
	}
	if g.cmd.ProcessState != nil || g.cmd.Process.Pid != pid {
		t.Fatal("the gateway restarted")
	}
	// What the new role allows, and what it does not.
	for _, c := range []struct {
		who          *person
		method, path string
		perm, want   string
	}{
		{ma, "PATCH", teamDeal, "deals:edit", xTeam},
		{ma, "GET", "/api/teams/" + k.teamA + "/deals", "deals:read", xTeam},
		{ma, "PUT", "/api/teams/" + k.teamB + "/deals/1", "deals:edit", xNo},
		{ma, "GET", "/api/teams/" + k.teamB + "/deals", "deals:read", xNo},
		{ma, "DELETE", teamDeal, "deals:delete", xMFA},
		{ma, "GET", "/api/deals", "deals:read", xNo},                       // team is below tenant
		{ma, "GET", "/api/users/" + ma.id + "/deals", "deals:read", xTeam}, // the best scope is sent
		{ma, "GET", "/api/admin/settings", "settings:manage", xNo},         // only deals now
		{ma, "GET", "/api/me", "", xOK},
		{mb, "GET", "/api/teams/" + k.teamB + "/deals", "deals:read", xTeam},
		{mb, "PUT", teamDeal, "deals:edit", xNo},
		{k.manager, "PUT", "/api/teams/" + k.teamB + "/deals/1", "deals:edit", xNo}, // managers unchanged
		{a, "PUT", "/api/teams/" + k.teamB + "/deals/1", "deals:edit", xTenant},
	} {
		k.expectAPI(t, fmt.Sprintf("%s %s %s with member = deals:*:team", c.who.label, c.method, c.path), c.who, k.send(t, c.who, false, c.method, c.path), c.perm, c.want)
	}
	if r := getRole(t, a.c, g.url, "member"); !slices.Equal(r.Permissions, []string{"deals:*:team"}) {
		t.Errorf("the admin reads the member role as %v", r.Permissions)
	}

	// Reset to the default: the right is gone again, from the same session.
	st, body := apiCall(t, o.c, "DELETE", g.url+"/auth/api/v1/admin/roles/member", nil)
	if st != http.StatusOK || !strings.Contains(body, `"reset"`) {
		t.Fatalf("resetting the member role: %d %s", st, body)
	}
	start := time.Now()
	for {
		s := k.send(t, ma, false, "PUT", teamDeal)
		if s.reached == nil {
			k.expectAPI(t, "member(A) PUT team A's deal after the reset", ma, s, "deals:edit", xNo)
			break
		}
		if time.Since(start) > crmTTL+3*time.Second {
			t.Fatalf("member(A) still edits team A's deals %v after the reset", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.expectAPI(t, "member(A) PUT own deal after the reset", ma, k.send(t, ma, false, "PUT", "/api/users/"+ma.id+"/deals/1"), "deals:edit", xOwn)
}
