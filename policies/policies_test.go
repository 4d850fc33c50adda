package policies_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/policies"
)

// isRoles tells role files (roles.yaml, *-roles.yaml) from route policies.
func isRoles(name string) bool { return name == "roles.yaml" || strings.HasSuffix(name, "-roles.yaml") }

// TestExamplesLoad loads every file of the folder as the gateway would: route
// policies through ParseFile and Compile (default deny), with no finding at all from
// "gatehouse policy check"; role files through ParseRoles and onto the built-in roles.
func TestExamplesLoad(t *testing.T) {
	names, err := fs.Glob(policies.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var routes, roles int
	for _, name := range names {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if isRoles(name) {
			roles++
			rs, err := policy.ParseRoles(data)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if name != "roles.yaml" {
				if _, err := policy.BuiltinRoles().WithTenant(specs(rs)); err != nil {
					t.Errorf("%s: as a tenant's roles: %v", name, err)
				}
			}
			continue
		}
		routes++
		for _, f := range policy.CheckFile(name, data) {
			t.Errorf("policy check: %s", f.Format(name))
		}
		if _, err := load(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if routes < 2 || roles < 2 {
		t.Errorf("%d route policies and %d role files: the examples are missing", routes, roles)
	}
}

func load(name string) (*policy.Policy, error) {
	data, err := policies.FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	rules, err := policy.ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	return policy.Compile(rules, policy.Deny)
}

func mustLoad(t *testing.T, name string) *policy.Policy {
	t.Helper()
	p, err := load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// specs turns parsed roles back into the specs a tenant stores.
func specs(rs *policy.Roles) []policy.RoleSpec {
	var out []policy.RoleSpec
	for _, r := range rs.List() {
		out = append(out, policy.RoleSpec{Name: r.Name, Description: r.Description, Permissions: r.PermissionStrings()})
	}
	return out
}

// Outcomes of a request, as the decision tables write them.
const (
	public    = "public"
	signIn    = "sign-in"   // anonymous, the route needs a signed-in user
	denied    = "denied"    // every request
	allowed   = "allowed"   // followed by the scope: "allowed own"
	forbidden = "forbidden" // followed by the reason
	stepUp    = "mfa"
)

type row struct {
	who          string // a key of the subjects, or "" for anonymous
	method, path string
	want         string
}

// run decides each row as the gateway does: normalize, Decide, then Authorize for a
// signed-in user.
func run(t *testing.T, p *policy.Policy, host string, subjects map[string]*policy.Subject, rows []row) {
	t.Helper()
	for _, r := range rows {
		path, err := policy.NormalizePath(r.path)
		if err != nil {
			t.Errorf("%s %s: %v", r.method, r.path, err)
			continue
		}
		var s *policy.Subject
		if r.who != "" {
			if s = subjects[r.who]; s == nil {
				t.Fatalf("no subject %q", r.who)
			}
		}
		d := p.Decide(host, r.method, path)
		var got string
		switch {
		case d.Access == policy.Public:
			got = public
		case d.Access == policy.Deny:
			got = denied
		case s == nil:
			got = signIn
		default:
			v := p.Authorize(&d, s)
			switch v.Outcome {
			case policy.Allowed:
				got = strings.TrimSpace(allowed + " " + v.Scope.String())
			case policy.MFARequired:
				got = stepUp
			default:
				got = forbidden + ": " + v.Reason
			}
		}
		if got != r.want {
			who := r.who
			if who == "" {
				who = "anonymous"
			}
			t.Errorf("%s %s %s: %s (rule %s); want %s", who, r.method, r.path, got, d.Name, r.want)
		}
	}
}

func TestCRMDecisions(t *testing.T) {
	p := mustLoad(t, "crm.yaml")
	roles := policy.BuiltinRoles()
	subject := func(id string, role string, mfa bool, teams ...string) *policy.Subject {
		return &policy.Subject{UserID: id, Teams: teams, Grants: roles.Grants([]string{role}), MFA: mfa}
	}
	subjects := map[string]*policy.Subject{
		"member u1":          subject("u1", policy.RoleMember, false, "red"),
		"member u1 with 2FA": subject("u1", policy.RoleMember, true, "red"),
		"manager of red":     subject("m1", policy.RoleManager, false, "red"),
		"manager red 2FA":    subject("m1", policy.RoleManager, true, "red"),
		"admin":              subject("a1", policy.RoleAdmin, false),
		"admin with 2FA":     subject("a1", policy.RoleAdmin, true),
		"owner":              subject("o1", policy.RoleOwner, false),
	}
	notOwner := forbidden + ": " + policy.ReasonNotOwner
	notTeam := forbidden + ": " + policy.ReasonNotTeam
	lowScope := forbidden + ": " + policy.ReasonScope
	run(t, p, "crm.example.com", subjects, []row{
		{"", "GET", "/", public},
		{"", "GET", "/static/app.css", public},
		{"", "GET", "/api/me", signIn},
		{"member u1", "GET", "/api/me", allowed},
		{"", "GET", "/api/users/u1/deals", signIn},

		// Members: their own deals, nobody else's (IDOR refused at the gateway).
		{"member u1", "GET", "/api/users/u1/deals", allowed + " own"},
		{"member u1", "HEAD", "/api/users/u1/deals", allowed + " own"},
		{"member u1", "POST", "/api/users/u1/deals", allowed + " own"},
		{"member u1", "GET", "/api/users/u2/deals", notOwner},
		{"member u1", "POST", "/api/users/u2/deals", notOwner},
		{"member u1", "GET", "/api/users/u1/deals/d7", allowed + " own"},
		{"member u1", "GET", "/api/users/u2/deals/d7", notOwner},
		{"member u1", "PATCH", "/api/users/u1/deals/d7", allowed + " own"},
		{"member u1", "PUT", "/api/users/u2/deals/d7", notOwner},
		{"member u1", "DELETE", "/api/users/u1/deals/d7", stepUp},
		{"member u1 with 2FA", "DELETE", "/api/users/u1/deals/d7", allowed + " own"},
		{"member u1 with 2FA", "DELETE", "/api/users/u2/deals/d7", notOwner},

		// The tenant-wide list: admins and owners only.
		{"member u1", "GET", "/api/deals", lowScope},
		{"manager of red", "GET", "/api/deals", lowScope},
		{"admin", "GET", "/api/deals", allowed + " tenant"},
		{"owner", "GET", "/api/deals", allowed + " tenant"},
		{"admin", "POST", "/api/deals", denied}, // no rule: the file's default

		// Team routes: managers of that team; members are below the route's scope.
		{"manager of red", "GET", "/api/teams/red/deals", allowed + " team"},
		{"manager of red", "GET", "/api/teams/blue/deals", notTeam},
		{"manager of red", "PUT", "/api/teams/red/deals/d7", allowed + " team"},
		{"manager of red", "PUT", "/api/teams/blue/deals/d7", notTeam},
		{"manager of red", "DELETE", "/api/teams/red/deals/d7", stepUp},
		{"manager red 2FA", "DELETE", "/api/teams/red/deals/d7", allowed + " team"},
		{"manager red 2FA", "DELETE", "/api/teams/blue/deals/d7", notTeam},
		{"member u1", "GET", "/api/teams/red/deals", lowScope},
		{"admin", "GET", "/api/teams/blue/deals", allowed + " tenant"},
		// A manager reading one user's deals passes with scope team: the app filters.
		{"manager of red", "GET", "/api/users/u2/deals", allowed + " team"},

		// Administration: tenant scope and a second factor.
		{"manager red 2FA", "GET", "/api/admin/settings", lowScope},
		{"admin", "GET", "/api/admin/settings", stepUp},
		{"admin with 2FA", "PUT", "/api/admin/settings", allowed + " tenant"},

		// What no rule names is denied, and so is every spelling that a lenient
		// upstream might route elsewhere.
		{"owner", "GET", "/api/other", denied},
		{"owner", "GET", "/API/deals", denied},
		{"member u1", "GET", "/api/users/u1/deals/", denied},
	})
}

func TestSalonDecisions(t *testing.T) {
	p := mustLoad(t, "salon.yaml")
	data, err := policies.FS.ReadFile("salon-roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	own, err := policy.ParseRoles(data)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := policy.BuiltinRoles().WithTenant(specs(own))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"owner", "manager", "staff", "receptionist"} {
		if _, ok := roles.Get(name); !ok {
			t.Errorf("the salon has no role %s", name)
		}
	}
	subject := func(id string, role string, mfa bool, locations ...string) *policy.Subject {
		return &policy.Subject{UserID: id, Teams: locations, Grants: roles.Grants([]string{role}), MFA: mfa}
	}
	subjects := map[string]*policy.Subject{
		"stylist s1 at soho":     subject("s1", "staff", false, "soho"),
		"receptionist at soho":   subject("r1", "receptionist", false, "soho"),
		"manager of soho":        subject("m1", "manager", true, "soho"),
		"manager of soho+camden": subject("m2", "manager", false, "soho", "camden"),
		"owner":                  subject("o1", policy.RoleOwner, false),
		"owner with 2FA":         subject("o1", policy.RoleOwner, true),
	}
	notOwner := forbidden + ": " + policy.ReasonNotOwner
	notTeam := forbidden + ": " + policy.ReasonNotTeam
	lowScope := forbidden + ": " + policy.ReasonScope
	noGrant := forbidden + ": " + policy.ReasonNoGrant
	run(t, p, "salon.example.com", subjects, []row{
		{"", "GET", "/book/soho", public},
		{"", "GET", "/api/locations/soho/appointments", signIn},

		// A stylist: their own diary at their own location.
		{"stylist s1 at soho", "GET", "/api/locations/soho/staff/s1/appointments", allowed + " own"},
		{"stylist s1 at soho", "POST", "/api/locations/soho/staff/s1/appointments", allowed + " own"},
		{"stylist s1 at soho", "PATCH", "/api/locations/soho/staff/s1/appointments/a9", allowed + " own"},
		{"stylist s1 at soho", "GET", "/api/locations/soho/staff/s2/appointments", notOwner},
		{"stylist s1 at soho", "GET", "/api/locations/camden/staff/s1/appointments", notTeam},
		{"stylist s1 at soho", "DELETE", "/api/locations/soho/staff/s1/appointments/a9", noGrant},
		{"stylist s1 at soho", "GET", "/api/locations/soho/appointments", lowScope},
		{"stylist s1 at soho", "GET", "/api/locations/soho/clients/c1", allowed + " team"},
		{"stylist s1 at soho", "PUT", "/api/locations/soho/clients/c1", noGrant},
		{"stylist s1 at soho", "GET", "/api/locations/soho/stock/shampoo", allowed + " team"},
		{"stylist s1 at soho", "PUT", "/api/locations/soho/stock/shampoo", noGrant},
		{"stylist s1 at soho", "GET", "/api/locations/soho/reports/daily", noGrant},

		// The front desk: every appointment and client of their location.
		{"receptionist at soho", "GET", "/api/locations/soho/appointments", allowed + " team"},
		{"receptionist at soho", "POST", "/api/locations/soho/staff/s2/appointments", allowed + " team"},
		{"receptionist at soho", "DELETE", "/api/locations/soho/staff/s2/appointments/a9", allowed + " team"},
		{"receptionist at soho", "GET", "/api/locations/camden/appointments", notTeam},
		{"receptionist at soho", "POST", "/api/locations/soho/clients", allowed + " team"},
		{"receptionist at soho", "GET", "/api/locations/camden/clients", notTeam},
		{"receptionist at soho", "DELETE", "/api/locations/soho/clients/c1", noGrant},
		{"receptionist at soho", "GET", "/api/locations/soho/stock/shampoo", noGrant},
		{"receptionist at soho", "GET", "/api/locations/soho/reports/daily", noGrant},

		// Managers: their locations, reports included; not the whole business.
		{"manager of soho", "GET", "/api/locations/soho/reports/sales", allowed + " team"},
		{"manager of soho", "GET", "/api/locations/camden/reports/sales", notTeam},
		{"manager of soho+camden", "GET", "/api/locations/camden/reports/sales", allowed + " team"},
		{"manager of soho", "PUT", "/api/locations/soho/stock/shampoo", allowed + " team"},
		{"manager of soho", "GET", "/api/reports/sales", lowScope},
		{"manager of soho", "DELETE", "/api/locations/soho/clients/c1", lowScope},
		{"manager of soho", "PUT", "/api/settings/hours", noGrant},

		// The owner: everything, with a second factor for erasure and settings.
		{"owner", "GET", "/api/reports/sales", allowed + " tenant"},
		{"owner", "GET", "/api/locations/camden/staff/s1/appointments", allowed + " tenant"},
		{"owner", "DELETE", "/api/locations/soho/clients/c1", stepUp},
		{"owner with 2FA", "DELETE", "/api/locations/soho/clients/c1", allowed + " tenant"},
		{"owner", "PUT", "/api/settings/hours", stepUp},
		{"owner with 2FA", "PUT", "/api/settings/hours", allowed + " tenant"},
		{"owner with 2FA", "GET", "/api/payroll", denied},
	})
}
