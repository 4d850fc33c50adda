package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// promqlMetrics returns the metric names a PromQL expression reads: what is left
// after removing label matchers, ranges, strings, grouping clauses and function calls.
func promqlMetrics(expr string) []string {
	for _, re := range []string{`"(?:[^"\\]|\\.)*"`, `\{[^}]*\}`, `\[[^\]]*\]`, `\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`} {
		expr = regexp.MustCompile(re).ReplaceAllString(expr, " ")
	}
	keywords := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
	var names []string
	for _, m := range regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`).FindAllStringSubmatch(expr, -1) {
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m[0]), "("), " ")
		if m[1] != "" || keywords[strings.ToLower(name)] {
			continue // a function call or a keyword
		}
		names = append(names, name)
	}
	return names
}

func TestPromqlMetrics(t *testing.T) {
	got := promqlMetrics(`histogram_quantile(0.95, sum by (le) (rate(caddy_http_request_duration_seconds_bucket{handler="gatehouse"}[$__rate_interval]))) / on (x) max(gatehouse_a) or gatehouse_b_total`)
	want := []string{"caddy_http_request_duration_seconds_bucket", "gatehouse_a", "gatehouse_b_total"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("promqlMetrics = %v, want %v", got, want)
	}
}

// dashboardMetrics reads every query of the Grafana dashboard and returns the metric
// families they read (histogram series mapped to their family), without
// Prometheus's own "up".
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docker/grafana/dashboards/gatehouse.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`"expr":\s*"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(string(b), -1) {
		expr := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1])
		names := promqlMetrics(expr)
		if len(names) == 0 {
			t.Errorf("dashboard query reads no metric: %s", expr)
		}
		for _, n := range names {
			if n == "up" {
				continue
			}
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if strings.HasSuffix(n, "_seconds"+suffix) {
					n = strings.TrimSuffix(n, suffix)
				}
			}
			seen[n] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 10 {
		t.Fatalf("dashboard reads only %v", names)
	}
	return names
}

// privateTLSRedis starts a redis-server of its own that speaks TLS only, with the
// certificate scripts/redis-tls.sh makes (as the compose set-up does), and requires
// password. It returns its port.
func privateTLSRedis(t *testing.T, certs, password string) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Need(t, "redis-server")
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--port", "0", "--tls-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(certs, "redis.crt"), "--tls-key-file", filepath.Join(certs, "redis.key"),
		"--tls-ca-cert-file", filepath.Join(certs, "ca", "ca.crt"), "--tls-auth-clients", "no",
		"--requirepass", password, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "the TLS Redis to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port
}

// TestHASetUp runs docker/compose.yaml's parts that can run here with the built
// binary: two replicas on docker/ha/Caddyfile sharing one PostgreSQL store, one Redis
// reached over TLS with a password (the certificate from scripts/redis-tls.sh,
// trusted through SSL_CERT_DIR as in the compose file) and one master key, behind
// docker/ha/lb.Caddyfile. A user signs in through the load balancer, a lockout
// counted across both replicas holds, the session survives a replica killed with
// SIGKILL, and every metric the Grafana dashboard queries is on both replicas'
// metrics port.
func TestHASetUp(t *testing.T) {
	testenv.Short(t, "HA set-up")
	if _, err := exec.LookPath("openssl"); err != nil {
		testenv.Need(t, "openssl")
	}
	dsn := testpg.DSN(t)
	certs := filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command("sh", "../scripts/redis-tls.sh", certs).CombinedOutput(); err != nil {
		t.Fatalf("scripts/redis-tls.sh: %v\n%s", err, out)
	}
	pw := make([]byte, 16)
	key := make([]byte, 32)
	rand.Read(pw)
	rand.Read(key)
	password := hex.EncodeToString(pw)
	redisPort := privateTLSRedis(t, certs, password)
	up := newRecorder(t)

	lbPort := freePort(t)
	shared := []string{
		"GATEHOUSE_STORE=" + dsn,
		fmt.Sprintf("GATEHOUSE_REDIS=rediss://:%s@localhost:%d/0", password, redisPort),
		"GATEHOUSE_MASTER_KEY=v1:" + base64.StdEncoding.EncodeToString(key),
		fmt.Sprintf("GATEHOUSE_BASE_URL=http://127.0.0.1:%d", lbPort),
		"GATEHOUSE_UPSTREAM=" + strings.TrimPrefix(up.URL, "http://"),
		"SSL_CERT_DIR=" + filepath.Join(certs, "ca"),
		"PATH=" + os.Getenv("PATH"),
	}
	type replica struct {
		*container
		site, metrics string
	}
	var replicas []replica
	var env [][]string
	for range 2 {
		dir := t.TempDir()
		site, metrics := freePort(t), freePort(t)
		e := append(append([]string{}, shared...),
			fmt.Sprintf("GATEHOUSE_LISTEN=:%d", site), fmt.Sprintf("GATEHOUSE_METRICS_LISTEN=:%d", metrics),
			"GATEHOUSE_AUDIT_SPOOL="+filepath.Join(dir, "audit.spool"),
			"XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "HOME="+dir)
		env = append(env, e)
		g := &gateway{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", site), config: "../docker/ha/Caddyfile", dir: dir}
		g.cmd = exec.Command(binary, "run", "--config", g.config, "--adapter", "caddyfile")
		g.cmd.Env = e
		c := startLogged(t, g, g.url+"/public/")
		if c.hasExited() {
			t.Fatalf("replica exited:\n%s", g.logs())
		}
		replicas = append(replicas, replica{c, g.url, fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)})
	}
	lbDir := t.TempDir()
	lbg := &gateway{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", lbPort), dir: lbDir}
	lbg.cmd = exec.Command(binary, "run", "--config", "../docker/ha/lb.Caddyfile", "--adapter", "caddyfile")
	lbg.cmd.Env = []string{fmt.Sprintf("GATEHOUSE_LB_LISTEN=:%d", lbPort), "XDG_DATA_HOME=" + lbDir, "XDG_CONFIG_HOME=" + lbDir, "HOME=" + lbDir,
		"GATEHOUSE_REPLICAS=" + strings.TrimPrefix(replicas[0].site, "http://") + " " + strings.TrimPrefix(replicas[1].site, "http://")}
	lb := startLogged(t, lbg, lbg.url+"/public/")
	if lb.hasExited() {
		t.Fatalf("load balancer exited:\n%s", lbg.logs())
	}

	// A member, added with the CLI on the first replica's configuration.
	const email, pass = "ha@example.com", "granite harbour seventy owls"
	cli := exec.Command(binary, "user", "add", "--email", email, "--role", "member", "--password-stdin", "--config", "../docker/ha/Caddyfile", "--adapter", "caddyfile")
	cli.Env, cli.Stdin = env[0], strings.NewReader(pass+"\n")
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	// Signed in through the load balancer; the session works on both replicas directly.
	c := browser(t)
	signInForm(t, c, lbg.url, email, pass, "/app")
	for _, base := range []string{lbg.url, replicas[0].site, replicas[1].site, lbg.url} {
		if st, _, _ := get(t, c, base+"/app"); st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != email {
			t.Fatalf("signed in, %s/app: %d", base, st)
		}
	}
	// Five wrong passwords spread over both replicas lock the account on both:
	// the counter is in the shared Redis, reached over TLS with the password.
	const victim, victimPass = "locked@example.com", "copper meadow falcon twelve"
	cli = exec.Command(binary, "user", "add", "--email", victim, "--role", "member", "--password-stdin", "--config", "../docker/ha/Caddyfile", "--adapter", "caddyfile")
	cli.Env, cli.Stdin = env[1], strings.NewReader(victimPass+"\n")
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	for i := range 5 {
		signInForm(t, browser(t), replicas[i%2].site, victim, "wrong guess number "+fmt.Sprint(i), "/app")
	}
	for _, r := range replicas {
		vc := browser(t)
		signInForm(t, vc, r.site, victim, victimPass, "/app")
		if st, _, _ := get(t, vc, r.site+"/app"); st == http.StatusOK {
			t.Fatalf("the right password on %s after 5 failures over both replicas: signed in (no shared lockout)", r.site)
		}
	}

	// Every metric the dashboard queries is exported by both replicas (after this
	// traffic: the load balancer's health checks and the requests above reached both).
	wanted := dashboardMetrics(t)
	for i, r := range replicas {
		var body string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			resp, err := http.Get(r.metrics)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			missing := false
			for _, m := range wanted {
				missing = missing || !strings.Contains(body, "# TYPE "+m+" ")
			}
			if !missing || time.Now().After(deadline) {
				break
			}
		}
		for _, m := range wanted {
			if !strings.Contains(body, "# TYPE "+m+" ") {
				t.Errorf("replica %d does not export %s", i+1, m)
			}
		}
		// The dashboard's request panels filter on handler="gatehouse".
		if !regexp.MustCompile(`caddy_http_requests_total\{[^}]*handler="gatehouse"`).MatchString(body) {
			t.Errorf("replica %d: no caddy_http_requests_total for handler=\"gatehouse\"", i+1)
		}
		if !regexp.MustCompile(`(?m)^gatehouse_active_sessions [1-9]`).MatchString(body) {
			t.Errorf("replica %d: gatehouse_active_sessions does not count the session:\n%s", i+1, regexp.MustCompile(`(?m)^gatehouse_active_sessions.*$`).FindString(body))
		}
		if !regexp.MustCompile(`(?m)^gatehouse_redis_degraded 0$`).MatchString(body) {
			t.Errorf("replica %d: Redis degraded over TLS", i+1)
		}
	}
	t.Logf("dashboard metrics checked on both replicas: %v", wanted)

	// A replica killed outright: the load balancer retries on the other at once, and
	// the session, made before, still works.
	_ = replicas[0].cmd.Process.Signal(syscall.SIGKILL)
	<-replicas[0].exited
	for i := range 6 {
		if st, _, _ := get(t, c, lbg.url+"/app"); st != http.StatusOK {
			t.Fatalf("request %d through the load balancer with a replica down: %d\n%s", i, st, lbg.logs())
		}
	}
}
