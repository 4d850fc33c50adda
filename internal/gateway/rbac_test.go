package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// rbacGateway is the fixture's gateway with a CRM-like permission policy.
func (f *fixture) rbacGateway(t *testing.T) *Gateway {
	t.Helper()
	g := f.gateway(t, false)
	pol, err := policy.Compile([]policy.Rule{
		{Path: "/api/deals", Methods: []string{"GET"}, Access: policy.RequirePermission, Require: "deals:read", Scope: policy.ScopeTenant},
		{Path: "/api/users/{user}/deals", Access: policy.RequirePermission, Require: "deals:read", OwnerParam: "user"},
		{Path: "/api/teams/{team}/deals/{id}", Access: policy.RequirePermission, Require: "deals:edit", Scope: policy.ScopeTeam, TeamParam: "team"},
		{Path: "/api/deals/{id}", Methods: []string{"DELETE"}, Access: policy.RequirePermission, Require: "deals:delete", MFA: true},
	}, policy.Deny)
	if err != nil {
		t.Fatal(err)
	}
	g.Policy = pol
	return g
}

func TestPermissionRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.rbacGateway(t)
	ctx := context.Background()
	tn := f.st.Tenant(f.tenants["a"].ID)
	u := f.users["u@a.example.com"] // a member
	tok := f.login(t, "a")
	if err := tn.Teams().CreateTeam(ctx, store.Team{ID: "team-a", Name: "A", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := tn.Teams().AddTeamMember(ctx, "team-a", u.ID); err != nil {
		t.Fatal(err)
	}
	f.sessions.ForgetUser(u.ID)

	check := func(name, method, path string, want Outcome, scope string, hdr ...string) {
		t.Helper()
		r := request(method, path, "a.example.com", tok, append([]string{"X-Gatehouse-Scope", "tenant", "X-Gatehouse-Permission", "forged:forged"}, hdr...)...)
		d := decide(g, r, false, "192.0.2.1")
		if d.Outcome != want {
			t.Errorf("%s: %v (%s), want %v", name, d.Outcome, d.Verdict.Reason, want)
			return
		}
		if want == Allow {
			if got := r.Header.Get("X-Gatehouse-Scope"); got != scope {
				t.Errorf("%s: X-Gatehouse-Scope %q, want %q", name, got, scope)
			}
			if got := r.Header.Get("X-Gatehouse-Permission"); got == "forged:forged" || got == "" {
				t.Errorf("%s: X-Gatehouse-Permission %q", name, got)
			}
			// Teams are not in the default headers, but a team-scoped grant carries
			// them: the app filters by them.
			wantTeams := ""
			if scope == "team" {
				wantTeams = "team-a"
			}
			if got := r.Header.Get("X-Gatehouse-Teams"); got != wantTeams {
				t.Errorf("%s: X-Gatehouse-Teams %q, want %q", name, got, wantTeams)
			}
		}
	}
	check("member lists every deal", "GET", "/api/deals", Forbidden, "")
	check("member reads own deals", "GET", "/api/users/"+u.ID+"/deals", Allow, "own")
	check("member reads another's deals (IDOR)", "GET", "/api/users/someone-else/deals", Forbidden, "")
	check("member reads another's deals, format suffix", "GET", "/api/users/someone-else/deals.json", Deny, "")
	check("member edits the team's deal", "PUT", "/api/teams/team-a/deals/1", Forbidden, "")
	check("method override to a stricter route", "POST", "/api/deals/1", Deny, "", "X-HTTP-Method-Override", "DELETE")

	// The tenant makes members managers of deals: no restart, no sign-out.
	if err := tn.Roles().PutRole(ctx, store.Role{Name: "member", Permissions: []string{"deals:*:team"}, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	check("before the cache reloads, the old grants hold", "PUT", "/api/teams/team-a/deals/1", Forbidden, "")
	f.sessions.ForgetUser(u.ID)
	check("member (now deals:*:team) edits the team's deal", "PUT", "/api/teams/team-a/deals/1", Allow, "team")
	check("member edits another team's deal (IDOR)", "PUT", "/api/teams/team-b/deals/1", Forbidden, "")
	check("member reads another's deals with team scope", "GET", "/api/users/someone-else/deals", Allow, "team")
	check("a password-only session deletes", "DELETE", "/api/deals/1", StepUp, "")

	// The answers a client sees.
	r := request("DELETE", "/api/deals/1", "a.example.com", tok, "Accept", "application/json")
	d := g.Decide(r, false, "192.0.2.1")
	w := httptest.NewRecorder()
	g.Respond(w, r, d)
	var body struct{ Error, Permission string }
	if w.Code != 403 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error != "mfa_required" || body.Permission != "deals:delete" {
		t.Errorf("API step-up: %d %s", w.Code, w.Body)
	}
	r = request("DELETE", "/api/deals/1?x=1", "a.example.com", tok)
	w = httptest.NewRecorder()
	g.Respond(w, r, g.Decide(r, false, "192.0.2.1"))
	if w.Code != 302 || w.Header().Get("Location") != "/auth/step-up?rd=%2Fapi%2Fdeals%2F1%3Fx%3D1" {
		t.Errorf("browser step-up: %d %q", w.Code, w.Header().Get("Location"))
	}
	r = request("GET", "/api/deals", "a.example.com", tok, "Accept", "application/json")
	w = httptest.NewRecorder()
	g.Respond(w, r, g.Decide(r, false, "192.0.2.1"))
	if w.Code != 403 || !strings.Contains(w.Body.String(), `"error":"forbidden"`) || !strings.Contains(w.Body.String(), `"permission":"deals:read"`) {
		t.Errorf("API forbidden: %d %s", w.Code, w.Body)
	}
	r = request("GET", "/api/deals", "a.example.com", tok)
	w = httptest.NewRecorder()
	g.Respond(w, r, g.Decide(r, false, "192.0.2.1"))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "deals:read") || !strings.Contains(w.Body.String(), "u@a.example.com") ||
		!strings.Contains(w.Body.String(), `href="/auth/settings"`) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("browser forbidden page: %d %s", w.Code, w.Body)
	}
	// Signed out: as for signed_in routes.
	r = request("GET", "/api/users/x/deals", "a.example.com", "")
	if d := g.Decide(r, false, "192.0.2.1"); d.Outcome != RedirectLogin {
		t.Errorf("signed out: %v", d.Outcome)
	}
}

// BenchmarkDecideSignedInPermission is BenchmarkDecideSignedInAllowed on a route
// that requires a permission with an owner parameter (RBAC): the same path plus
// Authorize and the two permission headers.
func BenchmarkDecideSignedInPermission(b *testing.B) {
	f := newFixture(b)
	g := f.gateway(b, false)
	pol, err := policy.Compile([]policy.Rule{
		{Path: "/public/*", Access: policy.Public},
		{Path: "/app/users/{user}/deals/{id}", Access: policy.RequirePermission, Require: "deals:read", OwnerParam: "user"},
	}, policy.SignedIn)
	if err != nil {
		b.Fatal(err)
	}
	g.Policy = pol
	g.RemoteHeaders = true
	tok := f.login(b, "a")
	u := f.users["u@a.example.com"]
	r := request("GET", "/app/users/"+u.ID+"/deals/42", "a.example.com", tok, "User-Agent", "bench", "Accept", "text/html")
	base := r.Header.Clone()
	b.ReportAllocs()
	for b.Loop() {
		clear(r.Header)
		for k, v := range base {
			r.Header[k] = v
		}
		if d := decide(g, r, false, "192.0.2.1"); d.Outcome != Allow || d.Verdict.Scope != policy.ScopeOwn {
			b.Fatal(d.Outcome, d.Verdict)
		}
	}
}
