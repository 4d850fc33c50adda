package e2e

import (
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// apiMember is a member as GET /auth/api/v1/admin/members shows them.
type apiMember struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	Status string   `json:"status"`
}

// member finds a member by e-mail in the members list an administrator's c sees.
func member(t *testing.T, c *http.Client, base, email string) apiMember {
	t.Helper()
	st, body := apiCall(t, c, "GET", base+"/auth/api/v1/admin/members", nil)
	if st != http.StatusOK {
		t.Fatalf("members list: %d %s", st, body)
	}
	ms := decodeJSON[struct {
		Members []apiMember `json:"members"`
	}](t, "members list", body).Members
	i := slices.IndexFunc(ms, func(m apiMember) bool { return m.Email == email })
	if i < 0 {
		t.Fatalf("%s is not in the members list:\n%s", email, body)
	}
	return ms[i]
}

// rolesAtUpstream is the X-Gatehouse-Roles the upstream gets for c, which must reach it.
func rolesAtUpstream(t *testing.T, c *http.Client, g *gateway, up *recorder, email string) string {
	t.Helper()
	mustReach(t, c, g, up, email, "reading the roles")
	return up.last(t).Get("X-Gatehouse-Roles")
}

// waitRoles polls until the upstream gets roles for c's requests, within limit.
func waitRoles(t *testing.T, c *http.Client, g *gateway, up *recorder, email, roles string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		got := rolesAtUpstream(t, c, g, up, email)
		if got == roles {
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("the upstream still gets roles %q for %s %v later, want %q", got, email, limit, roles)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliOK runs a CLI command that must succeed and print want.
func cliOK(t *testing.T, g *gateway, want string, args ...string) string {
	t.Helper()
	out, err := g.cli("", args...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("gatehouse %s: %v, want output with %q:\n%s", strings.Join(args, " "), err, want, out)
	}
	return out
}

// cliFails runs a CLI command that must fail and say want.
func cliFails(t *testing.T, g *gateway, want string, args ...string) {
	t.Helper()
	out, err := g.cli("", args...)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("gatehouse %s: %v, want a failure saying %q:\n%s", strings.Join(args, " "), err, want, out)
	}
}

// ownerAndMember starts a gateway (SQLite) with an owner and a member, each signed in
// through the API in a browser of their own (o, m).
func ownerAndMember(t *testing.T, owner, ownerPW, email, pw string) (*gateway, *recorder, *http.Client, *http.Client) {
	t.Helper()
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	addUser(t, g, owner, "owner", ownerPW)
	addUser(t, g, email, "member", pw)
	o := browser(t)
	signInAs(t, o, g.url, owner, ownerPW)
	m := browser(t)
	signInAs(t, m, g.url, email, pw)
	return g, up, o, m
}

// revokeLimit bounds how late the running gateway refuses a session the CLI (another
// process) ended: session_cache_ttl (1 s by default) plus slack for a loaded machine.
const revokeLimit = 4 * time.Second

// TestDisabledMember: disabling a member ends their live session at once and refuses
// their password; enabling lets them sign in again (the old session stays ended).
// The same through the CLI, against the running gateway.
func TestDisabledMember(t *testing.T) {
	const email, pw = "dan@example.com", "walnut prairie echo sixteen"
	g, up, o, m := ownerAndMember(t, "odile@example.com", "pepper lagoon trumpet five", email, pw)
	mustReach(t, m, g, up, email, "the member before being disabled")
	id := member(t, o, g.url, email).ID

	// A reset link made before the member is disabled.
	link := regexp.MustCompile(`http://\S+/auth/password/reset\?token=[A-Za-z0-9_-]+`).FindString(
		cliOK(t, g, "reset link for "+email, "user", "reset-password", "--email", email))

	// Disabled through the API: the live session is refused on its next request, the
	// password no longer signs in, and the list says so.
	st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/disable", nil)
	if st != http.StatusOK || !strings.Contains(body, `"status":"disabled"`) {
		t.Fatalf("disable: %d %s", st, body)
	}
	mustBeRefused(t, m, g, up, email, "the disabled member's session")
	if st := loginStatus(t, g.url, email, pw); st != http.StatusUnauthorized {
		t.Fatalf("the disabled member signing in: %d, want 401", st)
	}
	if s := member(t, o, g.url, email).Status; s != "disabled" {
		t.Errorf("members list shows the disabled member as %q", s)
	}
	// Nor does a reset link let them in: the one made before is dead, and no new one is
	// made (the administrator is told to enable them first).
	if st, _, _ := get(t, browser(t), link); link == "" || st != http.StatusNotFound {
		t.Errorf("a reset link %q for a disabled member: %d, want 404", link, st)
	}
	if st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, link), "password": "disabled but not defeated"}); st != http.StatusNotFound {
		t.Errorf("resetting a disabled member's password: %d %s", st, body)
	}
	cliFails(t, g, "this member is disabled: enable them first", "user", "reset-password", "--email", email)
	if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/reset-password", nil); st != http.StatusConflict || !strings.Contains(body, "member_disabled") {
		t.Errorf("an administrator's reset link for a disabled member: %d %s", st, body)
	}

	// Enabled again: the password signs in; the session that was ended stays ended.
	st, body = apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+id+"/enable", nil)
	if st != http.StatusOK || !strings.Contains(body, `"status":"active"`) {
		t.Fatalf("enable: %d %s", st, body)
	}
	mustBeRefused(t, m, g, up, email, "the session ended by disabling, after enabling")
	m2 := browser(t)
	signInAs(t, m2, g.url, email, pw)
	mustReach(t, m2, g, up, email, "the member after being enabled")

	// The CLI, a separate process: the running gateway refuses the live session within
	// session_cache_ttl, and the password at once.
	cliOK(t, g, email+": disabled", "user", "disable", "--email", email)
	took := refusedWithin(t, m2, g, up, email, revokeLimit, "the session of a member the CLI disabled")
	t.Logf("the gateway refused the session %v after the CLI disabled the member", took.Round(time.Millisecond))
	if st := loginStatus(t, g.url, email, pw); st != http.StatusUnauthorized {
		t.Fatalf("signing in after the CLI disabled the member: %d, want 401", st)
	}
	if out := cliOK(t, g, email, "user", "list"); !regexp.MustCompile(regexp.QuoteMeta(email) + `.*\bdisabled\b`).MatchString(out) {
		t.Errorf("user list does not show %s disabled:\n%s", email, out)
	}
	cliOK(t, g, email+": active", "user", "enable", "--email", email)
	m3 := browser(t)
	signInAs(t, m3, g.url, email, pw)
	mustReach(t, m3, g, up, email, "the member after the CLI enabled them")
	cliFails(t, g, "no member of tenant default", "user", "disable", "--email", "nobody@example.com")
}

// TestLastOwner: the only owner can be neither demoted nor disabled — not through the
// API, not through the CLI, whose message says what to do — and keeps their rights;
// once someone else is owner, the demotion works and takes effect on the next request.
func TestLastOwner(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const owner, ownerPW = "olav@example.com", "cobalt meadow lantern two"
	const adm, admPW = "ada@example.com", "hazel river compass nine"
	addUser(t, g, owner, "owner", ownerPW)
	addUser(t, g, adm, "admin", admPW)
	o, a := browser(t), browser(t)
	signInAs(t, o, g.url, owner, ownerPW)
	signInAs(t, a, g.url, adm, admPW)
	ownerID, admID := member(t, o, g.url, owner).ID, member(t, o, g.url, adm).ID

	stillOwner := func(what string) {
		t.Helper()
		if r := rolesAtUpstream(t, o, g, up, owner); r != "owner" {
			t.Fatalf("%s: the owner's roles at the upstream are %q", what, r)
		}
		if m := member(t, o, g.url, owner); !slices.Equal(m.Roles, []string{"owner"}) || m.Status != "active" {
			t.Fatalf("%s: the owner is now %v %s", what, m.Roles, m.Status)
		}
	}

	// API: the owner cannot demote themselves, nor disable themselves.
	st, body := apiCall(t, o, "PUT", g.url+"/auth/api/v1/admin/members/"+ownerID+"/role", map[string]string{"role": "member"})
	if st != http.StatusConflict || apiErrorCode(t, body) != "last_owner" {
		t.Fatalf("demoting the last owner: %d %s, want 409 last_owner", st, body)
	}
	stillOwner("after the refused demotion")
	st, body = apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members/"+ownerID+"/disable", nil)
	if st != http.StatusConflict {
		t.Fatalf("disabling the last owner: %d %s, want 409", st, body)
	}
	stillOwner("after the refused disabling")
	// An admin may not touch an owner at all.
	if st, body := apiCall(t, a, "POST", g.url+"/auth/api/v1/admin/members/"+ownerID+"/disable", nil); st != http.StatusForbidden {
		t.Fatalf("an admin disabling the owner: %d %s, want 403", st, body)
	}
	if st, body := apiCall(t, a, "PUT", g.url+"/auth/api/v1/admin/members/"+ownerID+"/role", map[string]string{"role": "member"}); st != http.StatusForbidden {
		t.Fatalf("an admin demoting the owner: %d %s, want 403", st, body)
	}
	stillOwner("after the admin's attempts")

	// CLI: refused with a message that says what to do.
	const why = "tenant default needs an active owner: make someone else owner first"
	cliFails(t, g, why, "user", "set-role", "--email", owner, "--role", "member")
	cliFails(t, g, why, "user", "disable", "--email", owner)
	time.Sleep(1200 * time.Millisecond) // past session_cache_ttl: a change would show now
	stillOwner("after the CLI's refused attempts")

	// Another owner: now the first one can be demoted, and it takes effect at once.
	st, body = apiCall(t, o, "PUT", g.url+"/auth/api/v1/admin/members/"+admID+"/role", map[string]string{"role": "owner"})
	if st != http.StatusOK || !strings.Contains(body, `"roles":["owner"]`) {
		t.Fatalf("making the admin owner: %d %s", st, body)
	}
	if r := rolesAtUpstream(t, a, g, up, adm); r != "owner" {
		t.Fatalf("the new owner's roles at the upstream: %q", r)
	}
	st, body = apiCall(t, o, "PUT", g.url+"/auth/api/v1/admin/members/"+ownerID+"/role", map[string]string{"role": "member"})
	if st != http.StatusOK || !strings.Contains(body, `"roles":["member"]`) {
		t.Fatalf("demoting the first owner once another exists: %d %s", st, body)
	}
	if r := rolesAtUpstream(t, o, g, up, owner); r != "member" {
		t.Fatalf("the demoted owner's roles at the upstream: %q, want member", r)
	}
	if st, _ := apiCall(t, o, "GET", g.url+"/auth/api/v1/admin/members", nil); st != http.StatusForbidden {
		t.Errorf("the demoted owner reading the members list: %d, want 403", st)
	}
	// The new owner is the last one now: the CLI refuses to demote them, and can
	// make the first one owner again, which the running gateway picks up.
	cliFails(t, g, why, "user", "set-role", "--email", adm, "--role", "member")
	cliOK(t, g, owner+": role owner", "user", "set-role", "--email", owner, "--role", "owner")
	waitRoles(t, o, g, up, owner, "owner", revokeLimit)
	// With two owners, the new one may disable the first.
	st, body = apiCall(t, a, "POST", g.url+"/auth/api/v1/admin/members/"+ownerID+"/disable", nil)
	if st != http.StatusOK {
		t.Fatalf("disabling one of two owners: %d %s", st, body)
	}
	mustBeRefused(t, o, g, up, owner, "the disabled former owner")
}

// TestCLIMembers: the member commands of the CLI act on the running gateway: sessions
// lists what the sessions page shows, revoke-sessions ends one or all (refused within
// session_cache_ttl), set-role changes what the upstream receives, reset-password
// prints a working single-use link, and tenant rename shows in the tenant list and
// the portal.
func TestCLIMembers(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	const email, pw, newPW = "cleo@example.com", "tangerine summit willow six", "obsidian parade harvest ten"
	addUser(t, g, email, "member", pw)
	a, b := browserUA(t, uaFirefoxLinux), browserUA(t, uaSafariIOS)
	signInAs(t, a, g.url, email, pw)
	signInAs(t, b, g.url, email, pw)
	sidA := mustReach(t, a, g, up, email, "browser A")
	sidB := mustReach(t, b, g, up, email, "browser B")

	// sessions: both, with their devices.
	out := cliOK(t, g, "ID", "user", "sessions", "--email", email)
	for _, want := range []string{sidA, sidB, devFirefoxLinux, devSafariIOS, "127.0.0.1", "pwd"} {
		if !strings.Contains(out, want) {
			t.Errorf("user sessions lacks %q:\n%s", want, out)
		}
	}
	cliFails(t, g, "--email", "user", "sessions", "--email", "nobody@example.com")

	// revoke-sessions --session: that one ends, the other goes on.
	cliOK(t, g, "ended 1 session(s) of "+email, "user", "revoke-sessions", "--email", email, "--session", sidB)
	took := refusedWithin(t, b, g, up, email, revokeLimit, "the session the CLI revoked")
	t.Logf("the gateway refused the revoked session after %v", took.Round(time.Millisecond))
	mustReach(t, a, g, up, email, "the session the CLI left alone")
	if out := cliOK(t, g, sidA, "user", "sessions", "--email", email); strings.Contains(out, sidB) {
		t.Errorf("user sessions still lists the revoked session:\n%s", out)
	}
	cliFails(t, g, "--session", "user", "revoke-sessions", "--email", email, "--session", sidB)

	// set-role: the live session carries the new role within session_cache_ttl.
	cliOK(t, g, email+": role manager", "user", "set-role", "--email", email, "--role", "manager")
	waitRoles(t, a, g, up, email, "manager", revokeLimit)
	cliFails(t, g, "--role", "user", "set-role", "--email", email, "--role", "emperor")
	if r := rolesAtUpstream(t, a, g, up, email); r != "manager" {
		t.Fatalf("after a refused set-role the roles are %q", r)
	}

	// revoke-sessions without --session: everywhere.
	cliOK(t, g, "ended 1 session(s) of "+email, "user", "revoke-sessions", "--email", email)
	refusedWithin(t, a, g, up, email, revokeLimit, "the last session after revoke-sessions")
	cliOK(t, g, email+" has no live session", "user", "sessions", "--email", email)

	// reset-password: prints a link under base_url; an earlier printed link stops
	// working when a newer one is made; the link sets the password once and ends the
	// sessions.
	linkRE := regexp.MustCompile(regexp.QuoteMeta(g.url+"/auth/password/reset") + `\?token=[A-Za-z0-9_-]+`)
	first := linkRE.FindString(cliOK(t, g, "reset link for "+email, "user", "reset-password", "--email", email))
	second := linkRE.FindString(cliOK(t, g, "reset link for "+email, "user", "reset-password", "--email", email))
	if first == "" || second == "" || first == second {
		t.Fatalf("reset-password links %q and %q", first, second)
	}
	if st, _, _ := get(t, browser(t), first); st != http.StatusNotFound {
		t.Errorf("the earlier reset link: %d, want 404", st)
	}
	c := browser(t)
	signInAs(t, c, g.url, email, pw)
	mustReach(t, c, g, up, email, "a session before the reset")
	if st, page, _ := get(t, browser(t), second); st != http.StatusOK || !strings.Contains(page, email) {
		t.Fatalf("the reset page of the CLI's link: %d\n%s", st, page)
	}
	st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, second), "password": newPW})
	if st != http.StatusOK {
		t.Fatalf("using the CLI's reset link: %d %s", st, body)
	}
	mustBeRefused(t, c, g, up, email, "the session from before the reset")
	if st := loginStatus(t, g.url, email, pw); st != http.StatusUnauthorized {
		t.Errorf("the old password after the reset: %d", st)
	}
	if st := loginStatus(t, g.url, email, newPW); st != http.StatusOK {
		t.Fatalf("the new password after the reset: %d", st)
	}
	if st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, second), "password": pw}); st != http.StatusNotFound {
		t.Errorf("the CLI's reset link a second time: %d %s", st, body)
	}

	// tenant rename: the tenant list shows it at once; the portal shows it (a
	// restarted gateway reads it afresh; a running one caches tenants for a while).
	const name = "Harbour Street Clinic"
	cliOK(t, g, `tenant default is now called "`+name+`"`, "tenant", "rename", "--name", "  "+name+"  ")
	if out := cliOK(t, g, "default", "tenant", "list"); !strings.Contains(out, name) {
		t.Errorf("tenant list does not show the new name:\n%s", out)
	}
	cliFails(t, g, "--name", "tenant", "rename", "--name", "   ")
	g.stop()
	g.start()
	if st, page, _ := get(t, browser(t), g.url+"/auth/login"); st != http.StatusOK || !strings.Contains(page, name) {
		t.Errorf("the sign-in page does not show the new tenant name: %d\n%s", st, page)
	}
	d := browser(t)
	signInAs(t, d, g.url, email, newPW)
	st, body = apiCall(t, d, "GET", g.url+"/auth/api/v1/me", nil)
	if st != http.StatusOK || !strings.Contains(body, `"name":"`+name+`"`) {
		t.Errorf("me after the rename: %d %s", st, body)
	}
}
