package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The CRM example behind the built binary (policy_file policies/crm.yaml, SPEC §7–8):
// who may do what, what the upstream is told, role changes at run time, and the
// policy commands of the CLI.

// crmSite is the site block body of a gateway in front of the CRM example. The path
// is not on disk where the binary runs (e2e/): the copy built into the binary serves.
const crmSite = `
		policy_file policies/crm.yaml`

// crmTTL is session_cache_ttl in the RBAC tests: how late another instance may apply
// a role change.
const crmTTL = 2 * time.Second

// crmApp are the gatehouse global options of the RBAC tests.
var crmApp = fmt.Sprintf("session_cache_ttl %s\n\t\tmaster_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", crmTTL)

// person is a signed-in user of a CRM test.
type person struct {
	label, email, pw, role string
	id                     string
	c                      *http.Client // signed in (password only) through the JSON API
	teams                  string       // the X-Gatehouse-Teams the upstream must get ("" none)
}

// crm is a gateway with the CRM policy, its upstream and its people: an owner, an
// admin, a manager of team A, a member of team A and a member of team B.
type crm struct {
	g                                       *gateway
	up                                      *recorder
	teamA, teamB                            string // team ids
	owner, admin, manager, memberA, memberB *person
}

func (k *crm) people() []*person {
	return []*person{k.owner, k.admin, k.manager, k.memberA, k.memberB}
}

// startCRM starts a gateway with the CRM policy and signs its people in; teams are
// made and filled by the owner through the admin API.
func startCRM(t *testing.T) *crm {
	t.Helper()
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: crmSite, app: crmApp})
	k := &crm{g: g, up: up,
		owner:   &person{label: "owner", email: "olga@example.com", pw: "owner passphrase for rbac", role: "owner"},
		admin:   &person{label: "admin", email: "adam@example.com", pw: "admin passphrase for rbac", role: "admin"},
		manager: &person{label: "manager(A)", email: "mona@example.com", pw: "manager passphrase for rbac", role: "manager"},
		memberA: &person{label: "member(A)", email: "mia@example.com", pw: "member A passphrase for rbac", role: "member"},
		memberB: &person{label: "member(B)", email: "ben@example.com", pw: "member B passphrase for rbac", role: "member"},
	}
	for _, p := range k.people() {
		addUser(t, g, p.email, p.role, p.pw)
		p.c = browser(t)
		signInAs(t, p.c, g.url, p.email, p.pw)
	}
	for _, p := range k.people() {
		p.id = member(t, k.owner.c, g.url, p.email).ID
		if p.id == "" {
			t.Fatalf("no id for %s", p.email)
		}
	}
	k.teamA = createTeam(t, k.owner.c, g.url, "Team A")
	k.teamB = createTeam(t, k.owner.c, g.url, "Team B")
	for _, m := range []struct {
		p    *person
		team string
	}{{k.manager, k.teamA}, {k.memberA, k.teamA}, {k.memberB, k.teamB}} {
		st, body := apiCall(t, k.owner.c, "PUT", g.url+"/auth/api/v1/admin/teams/"+m.team+"/members/"+m.p.id, nil)
		got := decodeJSON[struct {
			Teams []string `json:"teams"`
		}](t, "team member", body).Teams
		if st != http.StatusOK || !slices.Equal(got, []string{m.team}) {
			t.Fatalf("putting %s in team %s: %d %s", m.p.email, m.team, st, body)
		}
		m.p.teams = m.team
	}
	return k
}

// createTeam creates a team through the admin API and returns its id.
func createTeam(t *testing.T, c *http.Client, base, name string) string {
	t.Helper()
	st, body := apiCall(t, c, "POST", base+"/auth/api/v1/admin/teams", map[string]string{"name": name})
	tm := decodeJSON[struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}](t, "team create", body)
	if st != http.StatusCreated || tm.ID == "" || tm.Name != name {
		t.Fatalf("creating team %s: %d %s", name, st, body)
	}
	return tm.ID
}

// forgedRBAC are identity headers a client forges to widen its rights; none may reach
// the upstream.
var forgedRBAC = [][2]string{
	{"X-Gatehouse-Scope", "tenant"},
	{"X-Gatehouse-Permission", "deals:delete"},
	{"X-Gatehouse-Teams", "forged-team"},
	{"X_Gatehouse_Scope", "tenant"},
	{"x-gatehouse-scope", "tenant"},
	{"X-Gatehouse-Roles", "owner"},
}

// headerValues collects the values of every spelling of name (any case, '_' for '-').
func headerValues(h http.Header, name string) []string {
	var vs []string
	for k, v := range h {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), name) {
			vs = append(vs, v...)
		}
	}
	return vs
}

// sent is what one request through the CRM gateway gave.
type sent struct {
	status   int
	body     string
	location string
	reached  http.Header // the upstream's copy of the request; nil when it was not reached
	uri      string      // the request URI the upstream saw
}

// send sends method path as p (nil: anonymous), as an API client (Accept:
// application/json) unless asBrowser, with every header of forgedRBAC and hdr
// (name, value pairs).
func (k *crm) send(t *testing.T, p *person, asBrowser bool, method, path string, hdr ...string) sent {
	t.Helper()
	var req *http.Request
	var err error
	if method == "POST" || method == "PUT" || method == "PATCH" {
		req, err = http.NewRequest(method, k.g.url+path, strings.NewReader(`{"amount":100}`))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequest(method, k.g.url+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !asBrowser {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	for _, f := range forgedRBAC {
		req.Header[f[0]] = append(req.Header[f[0]], f[1])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := browser(t)
	if p != nil {
		c = p.c
	}
	before := k.up.count()
	st, body, resp := do(t, c, req)
	s := sent{status: st, body: body, location: resp.Header.Get("Location")}
	switch n := k.up.count(); {
	case n == before+1:
		k.up.mu.Lock()
		s.reached, s.uri = k.up.reqs[n-1], k.up.uris[n-1]
		k.up.mu.Unlock()
	case n != before:
		t.Fatalf("%s %s reached the upstream %d times", method, path, n-before)
	}
	return s
}

// expectation of one user on one route.
const (
	xOK     = "ok"     // 200 from the upstream, no permission headers (public or signed_in)
	xOwn    = "own"    // 200 with X-Gatehouse-Scope own (and the row's permission)
	xTeam   = "team"   // … team
	xTenant = "tenant" // … tenant
	xNo     = "403"    // 403 {"error":"forbidden","permission":<the row's>}
	xMFA    = "mfa"    // 403 {"error":"mfa_required","permission":<the row's>}
	xDeny   = "deny"   // 403 forbidden: no rule (the file's default deny), no permission named
)

// expectAPI checks what an API client got against want, for p on the row's route.
func (k *crm) expectAPI(t *testing.T, what string, p *person, s sent, perm, want string) {
	t.Helper()
	switch want {
	case xOK, xOwn, xTeam, xTenant:
		if s.status != http.StatusOK || s.reached == nil {
			t.Errorf("%s: %d (upstream reached: %v), want 200 from the upstream\n%s", what, s.status, s.reached != nil, s.body)
			return
		}
		h := s.reached
		if p != nil {
			if got := h.Get("X-Gatehouse-User-Email"); got != p.email {
				t.Errorf("%s: the upstream got user %q, want %s", what, got, p.email)
			}
			if got := headerValues(h, "X-Gatehouse-Teams"); !slices.Equal(got, nonEmpty(p.teams)) {
				t.Errorf("%s: the upstream got X-Gatehouse-Teams %q, want %q", what, got, nonEmpty(p.teams))
			}
			if got := headerValues(h, "X-Gatehouse-Roles"); !slices.Equal(got, []string{p.role}) {
				t.Errorf("%s: the upstream got X-Gatehouse-Roles %q, want %s", what, got, p.role)
			}
		}
		wantScope, wantPerm := []string{want}, []string{perm}
		if want == xOK {
			wantScope, wantPerm = nil, nil
		}
		if got := headerValues(h, "X-Gatehouse-Scope"); !slices.Equal(got, wantScope) {
			t.Errorf("%s: the upstream got X-Gatehouse-Scope %q, want %q", what, got, wantScope)
		}
		if got := headerValues(h, "X-Gatehouse-Permission"); !slices.Equal(got, wantPerm) {
			t.Errorf("%s: the upstream got X-Gatehouse-Permission %q, want %q", what, got, wantPerm)
		}
	case xNo, xMFA, xDeny:
		if s.reached != nil {
			t.Errorf("%s: %d and the upstream was reached, want 403 at the gateway", what, s.status)
			return
		}
		code, wantPerm := "forbidden", perm
		switch want {
		case xMFA:
			code = "mfa_required"
		case xDeny:
			wantPerm = ""
		}
		got := decodeJSON[struct {
			Error      string `json:"error"`
			Permission string `json:"permission"`
		}](t, what, s.body)
		if s.status != http.StatusForbidden || got.Error != code || got.Permission != wantPerm {
			t.Errorf("%s: %d %s, want 403 error %q permission %q", what, s.status, s.body, code, wantPerm)
		}
	default:
		t.Fatalf("%s: unknown expectation %q", what, want)
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestRBACDecisionTable: every user of the CRM example on every route and method of
// its policy, as an API client: the status, and for what passes the permission,
// scope, teams and roles the upstream receives — never a forged one. Then the IDOR
// cases in detail, browsers (403 page, step-up), signed-out clients, and path and
// method tricks, none of which lets a member through.
func TestRBACDecisionTable(t *testing.T) {
	k := startCRM(t)
	o, a, m, ma, mb := k.owner, k.admin, k.manager, k.memberA, k.memberB

	// One row per route and method; one expectation per user, in the order owner,
	// admin, manager of A, member of A, member of B. In paths {me} is the requesting
	// user's id, {ma} and {mb} the members', {A} and {B} the teams'.
	rows := []struct {
		method, path, perm string
		want               [5]string
	}{
		{"GET", "/", "", [5]string{xOK, xOK, xOK, xOK, xOK}},
		{"GET", "/static/app.css", "", [5]string{xOK, xOK, xOK, xOK, xOK}},
		{"GET", "/api/me", "", [5]string{xOK, xOK, xOK, xOK, xOK}},
		{"POST", "/api/me", "", [5]string{xOK, xOK, xOK, xOK, xOK}},

		// The whole workspace's deals: scope tenant.
		{"GET", "/api/deals", "deals:read", [5]string{xTenant, xTenant, xNo, xNo, xNo}},
		{"POST", "/api/deals", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"DELETE", "/api/deals", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},

		// One user's deals: owner_param user.
		{"GET", "/api/users/{me}/deals", "deals:read", [5]string{xTenant, xTenant, xTeam, xOwn, xOwn}},
		{"GET", "/api/users/{ma}/deals", "deals:read", [5]string{xTenant, xTenant, xTeam, xOwn, xNo}},
		{"GET", "/api/users/{mb}/deals", "deals:read", [5]string{xTenant, xTenant, xTeam, xNo, xOwn}},
		{"POST", "/api/users/{me}/deals", "deals:create", [5]string{xTenant, xTenant, xTeam, xOwn, xOwn}},
		{"POST", "/api/users/{mb}/deals", "deals:create", [5]string{xTenant, xTenant, xTeam, xNo, xOwn}},
		{"PUT", "/api/users/{me}/deals", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"DELETE", "/api/users/{me}/deals", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"GET", "/api/users/{me}/deals/7", "deals:read", [5]string{xTenant, xTenant, xTeam, xOwn, xOwn}},
		{"GET", "/api/users/{mb}/deals/7", "deals:read", [5]string{xTenant, xTenant, xTeam, xNo, xOwn}},
		{"PUT", "/api/users/{me}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xOwn, xOwn}},
		{"PUT", "/api/users/{ma}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xOwn, xNo}},
		{"PATCH", "/api/users/{me}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xOwn, xOwn}},
		{"PATCH", "/api/users/{mb}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xNo, xOwn}},
		{"POST", "/api/users/{me}/deals/7", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		// Deleting needs a second factor; the password-only sessions are asked for one,
		// unless the owner parameter refuses first.
		{"DELETE", "/api/users/{me}/deals/7", "deals:delete", [5]string{xMFA, xMFA, xMFA, xMFA, xMFA}},
		{"DELETE", "/api/users/{mb}/deals/7", "deals:delete", [5]string{xMFA, xMFA, xMFA, xNo, xMFA}},

		// A team's deals: scope team, team_param team.
		{"GET", "/api/teams/{A}/deals", "deals:read", [5]string{xTenant, xTenant, xTeam, xNo, xNo}},
		{"GET", "/api/teams/{B}/deals", "deals:read", [5]string{xTenant, xTenant, xNo, xNo, xNo}},
		{"POST", "/api/teams/{A}/deals", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"GET", "/api/teams/{A}/deals/7", "deals:read", [5]string{xTenant, xTenant, xTeam, xNo, xNo}},
		{"GET", "/api/teams/{B}/deals/7", "deals:read", [5]string{xTenant, xTenant, xNo, xNo, xNo}},
		{"PUT", "/api/teams/{A}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xNo, xNo}},
		{"PATCH", "/api/teams/{A}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xTeam, xNo, xNo}},
		{"PUT", "/api/teams/{B}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xNo, xNo, xNo}},
		{"PATCH", "/api/teams/{B}/deals/7", "deals:edit", [5]string{xTenant, xTenant, xNo, xNo, xNo}},
		{"POST", "/api/teams/{A}/deals/7", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"DELETE", "/api/teams/{A}/deals/7", "deals:delete", [5]string{xMFA, xMFA, xMFA, xNo, xNo}},
		{"DELETE", "/api/teams/{B}/deals/7", "deals:delete", [5]string{xMFA, xMFA, xNo, xNo, xNo}},

		// The CRM's settings: scope tenant and a second factor.
		{"GET", "/api/admin/settings", "settings:manage", [5]string{xMFA, xMFA, xNo, xNo, xNo}},
		{"PUT", "/api/admin/settings", "settings:manage", [5]string{xMFA, xMFA, xNo, xNo, xNo}},

		// Anything else: the file's default, deny — for owners too.
		{"GET", "/elsewhere", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
		{"GET", "/api/users", "", [5]string{xDeny, xDeny, xDeny, xDeny, xDeny}},
	}
	for _, row := range rows {
		for i, p := range []*person{o, a, m, ma, mb} {
			path := strings.NewReplacer("{me}", p.id, "{ma}", ma.id, "{mb}", mb.id, "{A}", k.teamA, "{B}", k.teamB).Replace(row.path)
			what := fmt.Sprintf("%s %s %s", p.label, row.method, row.path)
			s := k.send(t, p, false, row.method, path)
			k.expectAPI(t, what, p, s, row.perm, row.want[i])
			if s.reached != nil && s.uri != path {
				t.Errorf("%s: the upstream got %s, want %s", what, s.uri, path)
			}
		}
	}

	// The IDOR cases once more, with the exact answers the brief promises.
	idor := []struct {
		who          *person
		method, path string
		code, perm   string
	}{
		{ma, "GET", "/api/users/" + mb.id + "/deals", "forbidden", "deals:read"},
		{mb, "GET", "/api/users/" + ma.id + "/deals/1", "forbidden", "deals:read"},
		{ma, "PUT", "/api/users/" + o.id + "/deals/1", "forbidden", "deals:edit"},
		{m, "PUT", "/api/teams/" + k.teamB + "/deals/1", "forbidden", "deals:edit"},
		{m, "GET", "/api/teams/" + k.teamB + "/deals", "forbidden", "deals:read"},
		{ma, "GET", "/api/deals", "forbidden", "deals:read"},
		{m, "GET", "/api/deals", "forbidden", "deals:read"},
		{ma, "DELETE", "/api/users/" + ma.id + "/deals/1", "mfa_required", "deals:delete"},
		{m, "DELETE", "/api/teams/" + k.teamA + "/deals/1", "mfa_required", "deals:delete"},
		{o, "DELETE", "/api/teams/" + k.teamB + "/deals/1", "mfa_required", "deals:delete"},
	}
	for _, c := range idor {
		s := k.send(t, c.who, false, c.method, c.path)
		if s.reached != nil || s.status != http.StatusForbidden ||
			!strings.Contains(s.body, `"error":"`+c.code+`"`) || !strings.Contains(s.body, `"permission":"`+c.perm+`"`) {
			t.Errorf("%s %s %s: %d (reached %v) %s, want 403 {\"error\":%q,\"permission\":%q}", c.who.label, c.method, c.path, s.status, s.reached != nil, s.body, c.code, c.perm)
		}
	}

	// Browsers: the 403 page names the permission and the user; a route that needs a
	// second factor sends them to step up, and back here after.
	for _, c := range []struct {
		who          *person
		method, path string
		perm         string
	}{
		{ma, "GET", "/api/users/" + mb.id + "/deals", "deals:read"},
		{m, "GET", "/api/teams/" + k.teamB + "/deals", "deals:read"},
		{mb, "GET", "/api/deals", "deals:read"},
	} {
		s := k.send(t, c.who, true, c.method, c.path)
		if s.reached != nil || s.status != http.StatusForbidden || !strings.Contains(s.body, "<code>"+c.perm+"</code>") || !strings.Contains(s.body, c.who.email) {
			t.Errorf("browser %s %s %s: %d (reached %v), want the 403 page naming %s and %s:\n%s", c.who.label, c.method, c.path, s.status, s.reached != nil, c.perm, c.who.email, s.body)
		}
	}
	for _, c := range []struct {
		who          *person
		method, path string
	}{
		{ma, "DELETE", "/api/users/" + ma.id + "/deals/7"},
		{m, "DELETE", "/api/teams/" + k.teamA + "/deals/7"},
		{o, "GET", "/api/admin/settings?tab=billing"},
	} {
		s := k.send(t, c.who, true, c.method, c.path)
		want := "/auth/step-up?rd=" + url.QueryEscape(c.path)
		if s.reached != nil || s.status != http.StatusFound || s.location != want {
			t.Errorf("browser %s %s %s: %d to %q (reached %v), want 302 to %s", c.who.label, c.method, c.path, s.status, s.location, s.reached != nil, want)
		}
	}
	// The step-up page the browser is sent to exists (the member has no second
	// factor to step up with; the page says so rather than failing).
	if st, body, _ := get(t, ma.c, k.g.url+"/auth/step-up?rd="+url.QueryEscape("/api/users/"+ma.id+"/deals/7")); st != http.StatusOK {
		t.Errorf("the step-up page: %d\n%s", st, body)
	}
	// A browser passes where its user may, like an API client.
	k.expectAPI(t, "browser member(A) GET own deals", ma, k.send(t, ma, true, "GET", "/api/users/"+ma.id+"/deals"), "deals:read", xOwn)

	// Signed out: API clients get 401, browsers are sent to sign in; denied routes
	// are denied before anyone asks who is calling.
	for _, c := range []struct {
		path      string
		asBrowser bool
		status    int
		location  string
	}{
		{"/", false, http.StatusOK, ""},
		{"/api/me", false, http.StatusUnauthorized, ""},
		{"/api/deals", false, http.StatusUnauthorized, ""},
		{"/api/users/" + ma.id + "/deals", false, http.StatusUnauthorized, ""},
		{"/api/deals", true, http.StatusFound, "/auth/login?rd=%2Fapi%2Fdeals"},
		{"/api/teams/" + k.teamA + "/deals", true, http.StatusFound, "/auth/login?rd=" + url.QueryEscape("/api/teams/"+k.teamA+"/deals")},
		{"/elsewhere", false, http.StatusForbidden, ""},
	} {
		s := k.send(t, nil, c.asBrowser, "GET", c.path)
		if s.status != c.status || s.location != c.location || (s.reached != nil) != (c.status == http.StatusOK) {
			t.Errorf("signed out (browser %v) GET %s: %d to %q (reached %v), want %d to %q", c.asBrowser, c.path, s.status, s.location, s.reached != nil, c.status, c.location)
		}
		if s.reached != nil {
			for _, n := range []string{"X-Gatehouse-Scope", "X-Gatehouse-Permission", "X-Gatehouse-Teams", "X-Gatehouse-Roles"} {
				if vs := headerValues(s.reached, n); len(vs) > 0 {
					t.Errorf("signed out GET %s: the upstream got %s %q", c.path, n, vs)
				}
			}
		}
	}

	// Path and method tricks: none lets member A past what the exact request gets.
	// Controls first: the member's own routes work, so a refusal below is the trick's.
	k.expectAPI(t, "control: member(A) PUT own deal", ma, k.send(t, ma, false, "PUT", "/api/users/"+ma.id+"/deals/7"), "deals:edit", xOwn)
	k.expectAPI(t, "control: member(A) POST own deals", ma, k.send(t, ma, false, "POST", "/api/users/"+ma.id+"/deals"), "deals:create", xOwn)
	tricks := []struct {
		method, path string
		hdr          []string
		status       int
	}{
		{"GET", "/API/deals", nil, http.StatusForbidden},
		{"GET", "/api/deals/", nil, http.StatusForbidden},
		{"GET", "/Api/Deals/", nil, http.StatusForbidden},
		{"GET", "/api/deals.json", nil, http.StatusForbidden},
		{"GET", "/api/deals;x=1", nil, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + "/deals.json", nil, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + "/deals/", nil, http.StatusForbidden},
		{"GET", "/API/USERS/" + mb.id + "/DEALS", nil, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + ";x=1/deals", nil, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + "/deals;jsessionid=1", nil, http.StatusForbidden},
		{"GET", "/api/users/" + ma.id + "/../" + mb.id + "/deals", nil, http.StatusBadRequest},
		{"GET", "/api/users/" + ma.id + "/%2e%2e/" + mb.id + "/deals", nil, http.StatusBadRequest},
		{"GET", "/api/users/" + ma.id + "%2f..%2f" + mb.id + "/deals", nil, http.StatusBadRequest},
		{"GET", "/api/users//" + mb.id + "/deals", nil, http.StatusBadRequest},
		{"get", "/api/users/" + mb.id + "/deals", nil, http.StatusForbidden},
		{"GET", "/api/teams/" + k.teamA + "/deals.json", nil, http.StatusForbidden},
		{"PUT", "/api/teams/" + strings.ToUpper(k.teamA) + "/deals/7", nil, http.StatusForbidden},
		// Method overrides: a framework would run these as DELETE.
		{"PUT", "/api/users/" + ma.id + "/deals/7", []string{"X-HTTP-Method-Override", "DELETE"}, http.StatusForbidden},
		{"PUT", "/api/users/" + ma.id + "/deals/7", []string{"X-HTTP-Method-Override", "delete"}, http.StatusForbidden},
		{"PUT", "/api/users/" + ma.id + "/deals/7", []string{"X-HTTP-Method", "DELETE"}, http.StatusForbidden},
		{"PUT", "/api/users/" + ma.id + "/deals/7", []string{"X-Method-Override", "DELETE"}, http.StatusForbidden},
		{"POST", "/api/users/" + ma.id + "/deals", []string{"X-HTTP-Method-Override", "DELETE"}, http.StatusForbidden},
		{"POST", "/api/users/" + ma.id + "/deals", []string{"X-HTTP-Method-Override", "PUT"}, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + "/deals", []string{"X-HTTP-Method-Override", "GET"}, http.StatusForbidden},
		// Identity in other spellings and places than the path shows.
		{"GET", "/api/users/" + mb.id + "/deals", []string{"X-Gatehouse-User-Id", mb.id}, http.StatusForbidden},
		{"GET", "/api/users/" + mb.id + "/deals?user=" + ma.id, nil, http.StatusForbidden},
		{"GET", "/api/teams/" + k.teamA + "/deals", []string{"X-Gatehouse-Teams", k.teamA}, http.StatusForbidden},
	}
	for _, c := range tricks {
		s := k.send(t, ma, false, c.method, c.path, c.hdr...)
		if s.reached != nil || s.status != c.status {
			t.Errorf("member(A) %s %s %v: %d (reached the upstream: %v), want %d at the gateway\n%s", c.method, c.path, c.hdr, s.status, s.reached != nil, c.status, s.body)
		}
	}
	// A method override whose rule the member passes anyway does not change what the
	// upstream is told: the scope stays own.
	k.expectAPI(t, "member(A) PUT own deal overridden to PATCH", ma,
		k.send(t, ma, false, "PUT", "/api/users/"+ma.id+"/deals/7", "X-HTTP-Method-Override", "PATCH"), "deals:edit", xOwn)
}

// roleAPI is a role as GET /auth/api/v1/admin/roles/{name} shows it.
type roleAPI struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}
