package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// crmRuleLine is the line of crm.yaml whose rule is "- path: <path>" with
// "methods: [<method>]" on the next line.
func crmRuleLine(t *testing.T, path, method string) int {
	t.Helper()
	f, err := os.Open("../policies/crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	for i := 0; i+1 < len(lines); i++ {
		if lines[i] == "- path: "+path && lines[i+1] == "methods: ["+method+"]" {
			return i + 1
		}
	}
	t.Fatalf("crm.yaml has no rule %s [%s]", path, method)
	return 0
}

// TestPolicyExplainCRM: gatehouse policy explain, against the running gateway's
// config and store, names the crm.yaml rule that decides a member's request for
// someone else's deals, the member's roles and teams, and why it is refused; the
// same request for their own deals is allowed with scope own.
func TestPolicyExplainCRM(t *testing.T) {
	k := startCRM(t)
	host := strings.TrimPrefix(k.g.url, "http://")
	ma, mb := k.memberA, k.memberB
	line := crmRuleLine(t, "/api/users/{user}/deals", "GET")
	rule := fmt.Sprintf("policies/crm.yaml:%d", line)

	out := cliOK(t, k.g, rule, "policy", "explain", "--host", host, "--user", ma.email, "GET", "/api/users/"+mb.id+"/deals")
	t.Logf("gatehouse policy explain … GET /api/users/<member B>/deals:\n%s", out)
	for _, want := range []string{
		ma.email, "roles member", "teams " + k.teamA, // who
		rule, "deals:read", "owner={user}", // the deciding rule and what it asks
		"refused (forbidden): the owner parameter is not the user's id (scope own)", // why
	} {
		if !strings.Contains(out, want) {
			t.Errorf("policy explain lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^grants\s+\*:\*:own$`).MatchString(out) || !strings.Contains(out, "best scope own") {
		t.Errorf("policy explain does not show the member's grants (*:*:own) and best scope (own):\n%s", out)
	}
	if strings.Contains(out, "allowed") {
		t.Errorf("policy explain of a refused request says allowed:\n%s", out)
	}
	// The earlier rules are listed as tried (and not matched) before the deciding one.
	deals := fmt.Sprintf("policies/crm.yaml:%d", crmRuleLine(t, "/api/deals", "GET"))
	if i, j := strings.Index(out, deals), strings.Index(out, rule); i < 0 || j < 0 || i > j {
		t.Errorf("policy explain does not list the /api/deals rule (%s) before %s:\n%s", deals, rule, out)
	}
	// What the gateway itself does with that request agrees.
	k.expectAPI(t, "member(A) GET member(B)'s deals", ma, k.send(t, ma, false, "GET", "/api/users/"+mb.id+"/deals"), "deals:read", xNo)

	// Their own deals: allowed, with the scope the upstream gets.
	own := cliOK(t, k.g, rule, "policy", "explain", "--host", host, "--user", ma.email, "GET", "/api/users/"+ma.id+"/deals")
	if !strings.Contains(own, "allowed: deals:read, the user's scope own") {
		t.Errorf("policy explain of the member's own deals:\n%s", own)
	}
	// A manager's scope is team, and a team route of another team says why not.
	other := cliOK(t, k.g, "team={team}", "policy", "explain", "--host", host, "--user", k.manager.email, "PUT", "/api/teams/"+k.teamB+"/deals/1")
	if !strings.Contains(other, "refused (forbidden): the team parameter is not one of the user's teams") || !strings.Contains(other, "roles manager") {
		t.Errorf("policy explain of a manager on another team:\n%s", other)
	}
	// A route that needs a second factor, as the owner: refused until they step up;
	// with --mfa allowed.
	del := "/api/users/" + ma.id + "/deals/1"
	if out := cliOK(t, k.g, "mfa", "policy", "explain", "--host", host, "--user", k.owner.email, "DELETE", del); !strings.Contains(out, "refused until the user steps up") {
		t.Errorf("policy explain of a DELETE without a second factor:\n%s", out)
	}
	if out := cliOK(t, k.g, "allowed", "policy", "explain", "--host", host, "--user", k.owner.email, "--mfa", "DELETE", del); !strings.Contains(out, "allowed: deals:delete, the user's scope tenant") {
		t.Errorf("policy explain of a DELETE with --mfa:\n%s", out)
	}
	cliFails(t, k.g, "nobody@example.com", "policy", "explain", "--host", host, "--user", "nobody@example.com", "GET", "/api/deals")
}

// policyCLI runs gatehouse in dir and returns its output and exit code.
func policyCLI(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home, "HOME="+home)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gatehouse %v: %v", args, err)
	}
	return string(out), code
}

// TestRBACPolicyCheckCLI: gatehouse policy check passes the CRM example (from the
// repository root, as the README shows it) and fails a broken file, naming each
// error's FILE:LINE:COL.
func TestRBACPolicyCheckCLI(t *testing.T) {
	out, code := policyCLI(t, "..", "policy", "check", "policies/crm.yaml")
	if code != 0 || !regexp.MustCompile(`policies/crm\.yaml: OK \(\d+ rules\)`).MatchString(out) {
		t.Fatalf("policy check policies/crm.yaml: exit %d\n%s", code, out)
	}

	dir := t.TempDir()
	broken := filepath.Join(dir, "rbac-broken.yaml")
	if err := os.WriteFile(broken, []byte(`rules:
  - path: /api/deals
    require: deals:read
    scope: galaxy
  - path: /api/users/{user}/deals
    require: deals:read
    owner_param: owner
  - path: /api/x
    access: public
    colour: blue
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = policyCLI(t, dir, "policy", "check", "rbac-broken.yaml")
	if code == 0 {
		t.Fatalf("policy check of a broken file exited 0:\n%s", out)
	}
	for _, at := range []string{"4:12", "7:18", "10:5"} { // scope's value, owner_param's value, the unknown key
		if !regexp.MustCompile(`(?m)^rbac-broken\.yaml:` + at + `: \S`).MatchString(out) {
			t.Errorf("policy check does not report rbac-broken.yaml:%s:\n%s", at, out)
		}
	}
	for _, want := range []string{"galaxy", "owner", "colour"} {
		if !strings.Contains(out, want) {
			t.Errorf("policy check does not name %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OK") {
		t.Errorf("policy check says OK of a broken file:\n%s", out)
	}
	// A policy_file that does not load stops the gateway from starting (never "run
	// without a policy").
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{
	admin off
	gatehouse {
		store sqlite://%s
		master_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	}
}

http://127.0.0.1:%d {
	gatehouse {
		policy_file %s
	}
	respond "hi"
}
`, filepath.Join(cfgDir, "gh.db"), freePort(t), broken)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := policyCLI(t, cfgDir, "validate", "--config", cfg, "--adapter", "caddyfile"); code == 0 || !strings.Contains(out, "rbac-broken.yaml:4:") {
		t.Errorf("validate with a broken policy_file: exit %d, want a failure naming rbac-broken.yaml:4:\n%s", code, out)
	}
}
