package policy

import "testing"

// TestAudited: writes are recorded by default, on every route and on the default;
// a rule can stop recording or record more methods; case does not matter (an upstream
// may read "post" as POST).
func TestAudited(t *testing.T) {
	p, err := Compile([]Rule{
		{Path: "/health", Access: Public, NoAudit: true},
		{Path: "/api/patients/*", Access: SignedIn, AuditMethods: []string{"GET", "REPORT"}},
		{Path: "/api/*", Access: SignedIn},
	}, SignedIn)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, method string
		want         bool
	}{
		{"/health", "POST", false},
		{"/health", "DELETE", false},
		{"/api/patients/7", "GET", true},
		{"/api/patients/7", "HEAD", false},
		{"/api/patients/7", "REPORT", true},
		{"/api/patients/7", "report", true},
		{"/api/patients/7", "PATCH", true},
		{"/api/deals/1", "GET", false},
		{"/api/deals/1", "OPTIONS", false},
		{"/api/deals/1", "POST", true},
		{"/api/deals/1", "put", true},
		{"/api/deals/1", "Delete", true},
		{"/api/deals/1", "PATCH", true},
		{"/elsewhere", "POST", true}, // the default
		{"/elsewhere", "GET", false},
	}
	for _, c := range cases {
		d := p.Decide("app.test", c.method, c.path)
		if got := p.Audited(d.Rule, c.method); got != c.want {
			t.Errorf("%s %s (rule %q): Audited = %v, want %v", c.method, c.path, p.RuleName(d.Rule), got, c.want)
		}
	}
	if p.RuleName(-1) != "default" || p.RuleName(0) != "rules[0]" || p.RulePattern(1) != "/api/patients/*" {
		t.Errorf("RuleName/RulePattern = %q %q %q", p.RuleName(-1), p.RuleName(0), p.RulePattern(1))
	}
	if _, err := Compile([]Rule{{Path: "/x", Access: SignedIn, NoAudit: true, AuditMethods: []string{"GET"}}}, SignedIn); err == nil {
		t.Error("a rule with audit off and audit methods compiled")
	}
	if _, err := Compile([]Rule{{Path: "/x", Access: SignedIn, AuditMethods: []string{"G ET"}}}, SignedIn); err == nil {
		t.Error("a rule with an invalid audit method compiled")
	}
}

func BenchmarkAudited(b *testing.B) {
	p, err := Compile([]Rule{{Path: "/api/*", Access: SignedIn, AuditMethods: []string{"GET"}}}, SignedIn)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Audited(0, "POST") || p.Audited(-1, "GET") {
			b.Fatal("wrong answer")
		}
	}
}

// TestParseFileAudit: the policy file's audit: key reaches the rules.
func TestParseFileAudit(t *testing.T) {
	rules, err := ParseFile("a.yaml", []byte(`rules:
  - {path: /health, access: public, audit: off}
  - {path: /api/patients/*, require: patients:read, audit: [GET, REPORT]}
  - {path: /api/*, access: signed_in, audit: on}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !rules[0].NoAudit || len(rules[0].AuditMethods) != 0 {
		t.Errorf("audit: off read as NoAudit=%v methods=%v", rules[0].NoAudit, rules[0].AuditMethods)
	}
	if rules[1].NoAudit || len(rules[1].AuditMethods) != 2 || rules[1].AuditMethods[1] != "REPORT" {
		t.Errorf("audit: [GET, REPORT] read as NoAudit=%v methods=%v", rules[1].NoAudit, rules[1].AuditMethods)
	}
	if rules[2].NoAudit || len(rules[2].AuditMethods) != 0 {
		t.Errorf("audit: on read as NoAudit=%v methods=%v", rules[2].NoAudit, rules[2].AuditMethods)
	}
}
