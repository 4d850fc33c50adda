package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRBACRoleChangeReachesSecondInstance: two gateways with the CRM policy on one
// PostgreSQL database. A member signed in on instance 2 is refused a team route
// there (so instance 2 caches the session with the old role); the owner changes the
// member role on instance 1; instance 2 lets the same session through, with scope
// team, within session_cache_ttl — no restart, no new sign-in. Resetting the role with
// the CLI (a third process) takes the right away on both, again within the TTL.
func TestRBACRoleChangeReachesSecondInstance(t *testing.T) {
	dsn := postgresDSN(t)
	up := newRecorder(t)
	g1 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: crmSite, app: crmApp})
	g2 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: crmSite, app: crmApp})
	pid2 := g2.cmd.Process.Pid

	o := &person{label: "owner", email: "oskar@example.com", pw: "owner passphrase two instances", role: "owner"}
	ma := &person{label: "member(A)", email: "mara@example.com", pw: "member passphrase two instances", role: "member"}
	addUser(t, g1, o.email, o.role, o.pw)
	addUser(t, g1, ma.email, ma.role, ma.pw)
	// The team through the CLI, against instance 1's config.
	created := cliOK(t, g1, `team "Team A" created`, "team", "create", "Team A")
	m := regexp.MustCompile(`\(id (\S+)\)`).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("team create printed no id:\n%s", created)
	}
	teamA := m[1]
	cliOK(t, g1, ma.email+` added to "Team A"`, "team", "add", "Team A", "--email", ma.email)
	if out := cliOK(t, g1, "Team A", "team", "list"); !strings.Contains(out, teamA) {
		t.Errorf("team list does not show the team's id %s:\n%s", teamA, out)
	}
	ma.teams = teamA

	o.c, ma.c = browser(t), browser(t)
	signInAs(t, o.c, g1.url, o.email, o.pw)
	signInAs(t, ma.c, g2.url, ma.email, ma.pw)
	o.id = member(t, o.c, g1.url, o.email).ID
	ma.id = member(t, o.c, g1.url, ma.email).ID
	k1, k2 := &crm{g: g1, up: up}, &crm{g: g2, up: up}
	teamDeal := "/api/teams/" + teamA + "/deals/1"

	// On instance 2: the member's own deals pass with scope own, the team route is
	// refused; both load the session with the member role as it is now.
	k2.expectAPI(t, "member on instance 2, own deals", ma, k2.send(t, ma, false, "GET", "/api/users/"+ma.id+"/deals"), "deals:read", xOwn)
	k2.expectAPI(t, "member on instance 2, team route before", ma, k2.send(t, ma, false, "PUT", teamDeal), "deals:edit", xNo)
	sid := k2.send(t, ma, false, "GET", "/api/me").reached.Get("X-Gatehouse-Session-Id")

	// The owner changes the role on instance 1.
	setMemberRole(t, o.c, g1.url, "deals:*:team")
	changed := time.Now()

	// Instance 2 applies it within session_cache_ttl (slack for a loaded machine).
	s, _ := waitPass(t, k2, ma, "PUT", teamDeal, "deals:edit", xTeam, crmTTL+3*time.Second)
	t.Logf("instance 2 let the member edit the team's deal %v after the change on instance 1 (session_cache_ttl %v)",
		time.Since(changed).Round(time.Millisecond), crmTTL)
	if got := s.reached.Get("X-Gatehouse-Session-Id"); got != sid {
		t.Errorf("the member's session at the upstream is %q, was %q", got, sid)
	}
	if g2.cmd.ProcessState != nil || g2.cmd.Process.Pid != pid2 {
		t.Fatal("instance 2 restarted")
	}
	// The same session on instance 1 (the cookie is for 127.0.0.1 and both share the
	// store) has it at once.
	k1.expectAPI(t, "member on instance 1 after the change", ma, k1.send(t, ma, false, "PUT", teamDeal), "deals:edit", xTeam)
	// Still only their team, and still not the tenant-wide list.
	k2.expectAPI(t, "member on instance 2, another team", ma, k2.send(t, ma, false, "PUT", "/api/teams/not-"+teamA+"/deals/1"), "deals:edit", xNo)
	k2.expectAPI(t, "member on instance 2, all deals", ma, k2.send(t, ma, false, "GET", "/api/deals"), "deals:read", xNo)

	// The CLI resets the role: both instances refuse again within the TTL.
	cliOK(t, g1, "role member: back to its default permissions", "role", "delete", "member")
	for i, k := range []*crm{k1, k2} {
		start := time.Now()
		for {
			s := k.send(t, ma, false, "PUT", teamDeal)
			if s.reached == nil {
				k.expectAPI(t, "member after the CLI reset the role", ma, s, "deals:edit", xNo)
				break
			}
			if time.Since(start) > crmTTL+3*time.Second {
				t.Fatalf("instance %d still lets the member edit the team's deal %v after the CLI reset the role", i+1, time.Since(start).Round(time.Millisecond))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	k2.expectAPI(t, "member on instance 2, own deals after the reset", ma, k2.send(t, ma, false, "GET", "/api/users/"+ma.id+"/deals"), "deals:read", xOwn)
	if st, body := apiCall(t, o.c, "GET", g2.url+"/auth/api/v1/admin/roles/member", nil); st != http.StatusOK || !strings.Contains(body, `"permissions":["*:*:own"]`) {
		t.Errorf("instance 2 shows the reset member role as %d %s", st, body)
	}
}
