package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestMetricsInCaddyRegistry: sign-ins by outcome and policy decisions appear on
// Caddy's /metrics endpoint, counted correctly.
func TestMetricsInCaddyRegistry(t *testing.T) {
	up := newRecorder(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGatewayAdmin(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig, admin)
	if out, err := g.cli("passphrase for the metrics test\n", "user", "add", "--email", "m@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c := browser(t)
	signInForm(t, c, g.url, "m@example.com", "not the password at all", "/")
	signInForm(t, c, g.url, "m@example.com", "not the password at all", "/")
	signInForm(t, c, g.url, "m@example.com", "passphrase for the metrics test", "/")
	get(t, browser(t), g.url+"/private")
	get(t, c, g.url+"/private")

	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metric := func(name, outcome string) float64 {
		re := regexp.MustCompile(name + `\{outcome="` + outcome + `"\} (\S+)`)
		m := re.FindSubmatch(body)
		if m == nil {
			t.Fatalf("%s{outcome=%q} missing from /metrics", name, outcome)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	if v := metric("gatehouse_signins_total", "failure"); v != 2 {
		t.Errorf("failed sign-ins = %v, want 2", v)
	}
	if v := metric("gatehouse_signins_total", "success"); v != 1 {
		t.Errorf("successful sign-ins = %v, want 1", v)
	}
	if v := metric("gatehouse_policy_decisions_total", "redirect_login"); v < 1 {
		t.Errorf("redirect_login decisions = %v", v)
	}
	if v := metric("gatehouse_policy_decisions_total", "allow"); v < 1 {
		t.Errorf("allow decisions = %v", v)
	}
}
