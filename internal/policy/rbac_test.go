package policy

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePermission(t *testing.T) {
	for s, want := range map[string]Permission{
		"deals:read:own":       {"deals", "read", ScopeOwn},
		"*:*:tenant":           {"*", "*", ScopeTenant},
		"deals:*:team":         {"deals", "*", ScopeTeam},
		"stock.items:edit:own": {"stock.items", "edit", ScopeOwn},
	} {
		got, err := ParsePermission(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParsePermission(%q) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "deals:read", "deals:read:all", "Deals:read:own", "deals:read:own:x", ":read:own", "deals::own", "de als:read:own", "_x:read:own", "deals:read:Own"} {
		if p, err := ParsePermission(s); err == nil {
			t.Errorf("ParsePermission(%q) = %+v, want an error", s, p)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if _, err := ParseRequirement("deals:*"); err == nil {
		t.Error("a route requirement accepted a wildcard")
	}
	if _, err := ParseRequirement("deals:read:own"); err == nil {
		t.Error("a route requirement accepted a scope")
	}
}

func TestBuiltinRolesAndGrants(t *testing.T) {
	rs := BuiltinRoles()
	if got := strings.Join(rs.Names(), ","); got != "owner,admin,manager,member" {
		t.Fatalf("built-in roles %s", got)
	}
	for roles, want := range map[string]Scope{
		"owner": ScopeTenant, "admin": ScopeTenant, "manager": ScopeTeam, "member": ScopeOwn,
		"member,manager": ScopeTeam, "": ScopeNone, "ghost": ScopeNone,
	} {
		if got := rs.Grants(strings.Split(roles, ",")).Scope("deals", "read"); got != want {
			t.Errorf("%s: scope %v, want %v", roles, got, want)
		}
	}
	var nilGrants *Grants
	if nilGrants.Scope("deals", "read") != ScopeNone {
		t.Error("nil grants allow something")
	}
}

func TestTenantRoles(t *testing.T) {
	rs, err := BuiltinRoles().WithTenant([]RoleSpec{
		{Name: "member", Permissions: []string{"deals:read:own"}},
		{Name: "receptionist", Description: "Front desk", Permissions: []string{"appointments:*:tenant", "clients:read:tenant"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := rs.Grants([]string{"member"})
	if g.Scope("deals", "read") != ScopeOwn || g.Scope("deals", "edit") != ScopeNone {
		t.Error("the tenant's member role did not replace the built-in one")
	}
	if m, _ := rs.Get("member"); !m.Builtin || !m.Changed || m.Description == "" {
		t.Errorf("changed member role %+v", m)
	}
	r := rs.Grants([]string{"receptionist"})
	if r.Scope("appointments", "cancel") != ScopeTenant || r.Scope("clients", "edit") != ScopeNone || r.Scope("deals", "read") != ScopeNone {
		t.Error("receptionist grants wrong")
	}
	if err := rs.CheckAssignable([]string{"receptionist", "owner"}); err != nil {
		t.Error(err)
	}
	if err := BuiltinRoles().CheckAssignable([]string{"receptionist"}); err == nil {
		t.Error("an undefined role is assignable")
	}
	// The owner cannot be redefined; a broken stored role grants nothing.
	rs, err = BuiltinRoles().WithTenant([]RoleSpec{
		{Name: "owner", Permissions: []string{"deals:read:own"}},
		{Name: "manager", Permissions: []string{"deals:read:everything"}},
	})
	if err == nil {
		t.Fatal("no error for a redefined owner and a broken role")
	}
	if !rs.Grants([]string{"owner"}).All() {
		t.Error("the owner lost everything")
	}
	if rs.Grants([]string{"manager"}).Scope("deals", "read") != ScopeNone {
		t.Error("a broken stored manager role kept its built-in permissions")
	}
}

// crmRules is a small CRM policy used by the authorization tests.
func crmRules() []Rule {
	return []Rule{
		{Path: "/", Access: Public},
		{Path: "/api/deals", Methods: []string{"GET"}, Access: RequirePermission, Require: "deals:read", Scope: ScopeTenant},
		{Path: "/api/users/{user}/deals", Access: RequirePermission, Require: "deals:read", OwnerParam: "user"},
		{Path: "/api/teams/{team}/deals/{id}", Methods: []string{"PUT"}, Access: RequirePermission, Require: "deals:edit", Scope: ScopeTeam, TeamParam: "team"},
		{Path: "/api/deals/{id}", Methods: []string{"DELETE"}, Access: RequirePermission, Require: "deals:delete", MFA: true},
		{Path: "/account/*", Access: SignedIn, MFA: true},
		{Path: "/API/secret", Access: RequirePermission, Require: "secrets:read", Scope: ScopeTenant},
	}
}

func TestAuthorize(t *testing.T) {
	p := mustCompile(t, crmRules(), Deny)
	rs := BuiltinRoles()
	subj := func(id, role string, mfa bool, teams ...string) *Subject {
		return &Subject{UserID: id, Teams: teams, Grants: rs.Grants([]string{role}), MFA: mfa}
	}
	owner, admin := subj("u-own", "owner", false), subj("u-adm", "admin", false)
	mgrA, memA := subj("u-mgr", "manager", false, "team-a"), subj("u-mem", "member", false, "team-a")
	for _, c := range []struct {
		who          *Subject
		method, path string
		want         Outcome
		scope        Scope
		reason       string
	}{
		{admin, "GET", "/api/deals", Allowed, ScopeTenant, ""},
		{owner, "GET", "/api/deals", Allowed, ScopeTenant, ""},
		{mgrA, "GET", "/api/deals", Forbidden, ScopeTeam, ReasonScope},
		{memA, "GET", "/api/deals", Forbidden, ScopeOwn, ReasonScope},
		{memA, "GET", "/api/users/u-mem/deals", Allowed, ScopeOwn, ""},
		{memA, "GET", "/api/users/u-other/deals", Forbidden, ScopeOwn, ReasonNotOwner}, // IDOR
		{mgrA, "GET", "/api/users/u-other/deals", Allowed, ScopeTeam, ""},              // the app filters by team
		{mgrA, "PUT", "/api/teams/team-a/deals/1", Allowed, ScopeTeam, ""},
		{mgrA, "PUT", "/api/teams/team-b/deals/1", Forbidden, ScopeTeam, ReasonNotTeam}, // IDOR
		{memA, "PUT", "/api/teams/team-a/deals/1", Forbidden, ScopeOwn, ReasonScope},
		{admin, "PUT", "/api/teams/team-b/deals/1", Allowed, ScopeTenant, ""},
		{admin, "DELETE", "/api/deals/1", MFARequired, ScopeTenant, ReasonMFA},
		{subj("u-adm", "admin", true), "DELETE", "/api/deals/1", Allowed, ScopeTenant, ""},
		{memA, "GET", "/account/x", MFARequired, ScopeNone, ReasonMFA},
		{subj("u-mem", "member", true), "GET", "/account/x", Allowed, ScopeNone, ""},
		{&Subject{UserID: "u-x"}, "GET", "/api/users/u-x/deals", Forbidden, ScopeNone, ReasonNoGrant},
	} {
		d := p.Decide("app.example.com", c.method, c.path)
		v := p.Authorize(&d, c.who)
		if v.Outcome != c.want || v.Scope != c.scope || v.Reason != c.reason {
			t.Errorf("%s %s %s: %+v, want %v scope %v (%s)", c.who.UserID, c.method, c.path, v, c.want, c.scope, c.reason)
		}
		if c.want == Allowed && d.Access == RequirePermission && v.Permission == "" {
			t.Errorf("%s %s: no permission for the upstream", c.method, c.path)
		}
	}
}

// TestAuthorizeEveryReading: a lenient reading that reaches another permission rule
// must be satisfied too, and the owner parameter is read as that reading reads it.
func TestAuthorizeEveryReading(t *testing.T) {
	p := mustCompile(t, crmRules(), Deny)
	rs := BuiltinRoles()
	admin := &Subject{UserID: "u-adm", Grants: rs.Grants([]string{"admin"})}
	member := &Subject{UserID: "u-mem", Grants: rs.Grants([]string{"member"})}
	// /api/secret exactly is not a rule (the default denies); /API/secret is. The
	// case-insensitive reading of /api/Secret reaches it: the strictest is the
	// default deny here.
	if d := p.Decide("h", "GET", "/api/Secret"); d.Access != Deny {
		t.Fatalf("/api/Secret: %v", d.Access)
	}
	// /api/users/U-MEM/deals: exact reading → owner param "U-MEM" ≠ "u-mem": refused,
	// whatever the case-insensitive reading says.
	d := p.Decide("h", "GET", "/api/users/U-MEM/deals")
	if v := p.Authorize(&d, member); v.Outcome != Forbidden {
		t.Errorf("owner param in another case: %+v", v)
	}
	// Two permission rules reached by two readings: both must allow.
	p2 := mustCompile(t, []Rule{
		{Path: "/docs/{id}", Access: RequirePermission, Require: "docs:read"},
		{Path: "/Docs/{id}", Access: RequirePermission, Require: "billing:read", Scope: ScopeTenant},
	}, Deny)
	// /Docs/1: the exact reading reaches billing:read, the case-insensitive one
	// docs:read (first in that reading). A billing clerk without docs:read passes
	// the first and must still be refused.
	rs2, _ := rs.WithTenant([]RoleSpec{{Name: "billing", Permissions: []string{"billing:read:tenant"}}})
	clerk := &Subject{UserID: "u-clerk", Grants: rs2.Grants([]string{"billing"})}
	d = p2.Decide("h", "GET", "/Docs/1")
	if !p2.Checked(&d) || d.Access != RequirePermission {
		t.Fatalf("not checked: %+v", d)
	}
	if v := p2.Authorize(&d, clerk); v.Outcome != Forbidden || v.Permission != "docs:read" {
		t.Errorf("the clerk passed the case-insensitive reading's rule: %+v", v)
	}
	if v := p2.Authorize(&d, admin); v.Outcome != Allowed || v.Permission != "billing:read" {
		t.Errorf("admin: %+v", v)
	}
	// Merge keeps the other decision's checked rule.
	p3 := mustCompile(t, []Rule{
		{Path: "/docs/{id}", Access: RequirePermission, Require: "docs:read", Scope: ScopeTenant},
		{Path: "/files/{id}", Access: RequirePermission, Require: "billing:read"},
	}, Deny)
	a, b := p3.Decide("h", "GET", "/files/1"), p3.Decide("h", "GET", "/docs/1")
	if v := p3.Authorize(&a, clerk); v.Outcome != Allowed {
		t.Fatalf("clerk on /files/1: %+v", v)
	}
	m := p3.Merge(a, b)
	if v := p3.Authorize(&m, clerk); v.Outcome != Forbidden || v.Permission != "docs:read" {
		t.Errorf("merged: the clerk passed: %+v", v)
	}
}

func TestCompileRequirementErrors(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string
	}{
		{Rule{Path: "/a", Access: RequirePermission}, `permission ""`},
		{Rule{Path: "/a", Access: RequirePermission, Require: "a:*"}, "wildcard"},
		{Rule{Path: "/a/{x}", Access: RequirePermission, Require: "a:read", OwnerParam: "user"}, "has no parameter {user}"},
		{Rule{Path: "/a/{x}", Access: RequirePermission, Require: "a:read", TeamParam: "team"}, "has no parameter {team}"},
		{Rule{Path: "/a", Access: SignedIn, Require: "a:read"}, "belong to a rule that requires a permission"},
		{Rule{Path: "/a", Access: Public, MFA: true}, "mfa needs"},
	} {
		_, err := Compile([]Rule{c.r}, Deny)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.r, err, c.want)
		}
	}
	if _, err := Compile(nil, RequirePermission); err == nil {
		t.Error("a default that requires a permission compiled")
	}
}

func BenchmarkDecideAuthorize1000(b *testing.B) {
	rules := benchRules(990)
	rules = append(rules, crmRules()...)
	p := mustCompile(b, rules, Deny)
	rs, _ := BuiltinRoles().WithTenant([]RoleSpec{{Name: "sales", Permissions: []string{"contacts:read:own", "deals:read:team", "deals:edit:own", "reports:*:team"}}})
	s := &Subject{UserID: "u-mgr", Teams: []string{"team-x", "team-a"}, Grants: rs.Grants([]string{"member", "sales"})}
	for _, c := range []struct{ name, method, path string }{
		{"owner-param", "GET", "/api/users/u-mgr/deals"},
		{"team-param", "PUT", "/api/teams/team-a/deals/7"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := p.Decide("app.example.com", c.method, c.path)
				if v := p.Authorize(&d, s); v.Outcome != Allowed && c.name == "owner-param" {
					b.Fatal(v)
				}
			}
		})
	}
}

func TestDecideAuthorizeAllocs(t *testing.T) {
	p := mustCompile(t, crmRules(), Deny)
	s := &Subject{UserID: "u", Teams: []string{"team-a"}, Grants: BuiltinRoles().Grants([]string{"manager"})}
	n := testing.AllocsPerRun(200, func() {
		d := p.Decide("h", "PUT", "/API/Teams/team-a/deals/1/")
		_ = p.Authorize(&d, s)
	})
	if n != 0 {
		t.Errorf("%v allocations per decision", n)
	}
}
