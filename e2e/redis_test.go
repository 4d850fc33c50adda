package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// TestTwoInstancesShareLockoutAndLimits: two gateway processes on one PostgreSQL and
// one Redis behave as one — failures split across both lock the account, rate limits
// are shared, and a session made on one works on the other.
func TestTwoInstancesShareLockoutAndLimits(t *testing.T) {
	redisURL := kvtest.SharedRedisURL(t)
	dsn := testpg.DSN(t)
	up := newRecorder(t)
	app := fmt.Sprintf("redis %s\n\t\tredis_key_prefix gh-e2e-%s:\n\t\trate_limit api 0\n\t\trate_limit login 12/1m 0\n\t\tmaster_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", redisURL, secret.NewID())
	a := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	b := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	const pw = "passphrase for the two instances"
	if out, err := a.cli(pw+"\n", "user", "add", "--email", "two@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}

	// A session made on A works on B.
	st, _, c := apiLoginStatus(t, a.url, "two@example.com", pw)
	if st != http.StatusOK {
		t.Fatalf("login on A: %d", st)
	}
	var cookie string
	for _, ck := range c.Jar.Cookies(mustURL(t, a.url)) {
		if ck.Name == "gatehouse" {
			cookie = "gatehouse=" + ck.Value
		}
	}
	req, _ := http.NewRequest("GET", b.url+"/shared", nil)
	req.Header.Set("Cookie", cookie)
	if st, _, _ := do(t, browser(t), req); st != http.StatusOK || up.last(t).Get("X-Gatehouse-User-Email") != "two@example.com" {
		t.Fatalf("A's session on B: %d", st)
	}

	// Failures alternate between the instances: the fifth locks the account on both.
	for i := range 5 {
		g := []*gateway{a, b}[i%2]
		if st, _, _ := apiLoginStatus(t, g.url, "two@example.com", fmt.Sprintf("wrong %d", i)); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	for _, g := range []*gateway{a, b} {
		if st, _, _ := apiLoginStatus(t, g.url, "two@example.com", pw); st != http.StatusTooManyRequests {
			t.Fatalf("after failures split across instances: %d, want 429", st)
		}
	}

	// The per-IP login limit (12 a minute) is shared: 8 attempts so far on A and B
	// together (a sign-in, five failures, two refusals), so 4 more pass in all.
	var codes []int
	for i := range 6 {
		g := []*gateway{a, b}[i%2]
		st, _, _ := apiLoginStatus(t, g.url, fmt.Sprintf("x%d@example.com", i), "wrong")
		codes = append(codes, st)
	}
	if fmt.Sprint(codes) != "[401 401 401 401 429 429]" {
		t.Fatalf("shared rate limit: %v", codes)
	}
}

// TestRedisOutage: a gateway whose Redis is down starts anyway; with Redis gone it
// refuses password sign-in with 503 (fails closed), keeps existing sessions working,
// and recovers by itself when Redis returns.
func TestRedisOutage(t *testing.T) {
	rd := kvtest.StartPrivateRedis(t)
	up := newRecorder(t)
	// Redis is down when the gateway starts: it starts anyway and refuses sign-in.
	rd.Stop()
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + t.TempDir() + "/gh.db", upstream: up.URL, site: siteConfig,
		app: "redis " + rd.URL() + "\n\t\trate_limit login 0 0"}) // lockout only: the polling below would trip the limits
	const pw = "passphrase for the outage test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "out@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	if st, _, _ := apiLoginStatus(t, g.url, "out@example.com", pw); st != http.StatusServiceUnavailable {
		t.Fatalf("sign-in while Redis has been down since the start: %d, want 503", st)
	}
	rd.Start()
	st, _, c := apiLoginStatus(t, g.url, "out@example.com", pw)
	if st != http.StatusOK {
		t.Fatalf("login with Redis up: %d", st)
	}

	rd.Stop()
	start := time.Now()
	st, retry, _ := apiLoginStatus(t, g.url, "out@example.com", pw)
	if st != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("password sign-in with Redis down: %d (Retry-After %q), want 503", st, retry)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the 503 took %v", d)
	}
	if st, _, _ := get(t, c, g.url+"/still-works"); st != http.StatusOK {
		t.Fatalf("existing session with Redis down: %d", st)
	}
	if st, _, _ := get(t, browser(t), g.url+"/public/page"); st != http.StatusOK {
		t.Fatalf("public page with Redis down: %d", st)
	}

	rd.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, _ = apiLoginStatus(t, g.url, "out@example.com", pw)
		if st == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st != http.StatusOK {
		t.Fatalf("after Redis returned: %d", st)
	}
	// With Redis, the CLI can lift a lockout the running gateway holds.
	for i := range 5 {
		apiLoginStatus(t, g.url, "out@example.com", fmt.Sprintf("wrong %d", i))
	}
	if st, _, _ := apiLoginStatus(t, g.url, "out@example.com", pw); st != http.StatusTooManyRequests {
		t.Fatalf("after five failures: %d", st)
	}
	if out, err := g.cli("", "user", "unlock", "--email", "OUT@example.com"); err != nil || !strings.Contains(out, "unlocked out@example.com") {
		t.Fatalf("user unlock: %v %s", err, out)
	}
	if st, _, _ := apiLoginStatus(t, g.url, "out@example.com", pw); st != http.StatusOK {
		t.Fatalf("after the CLI unlock: %d", st)
	}
	if !strings.Contains(g.logs(), "Redis unreachable") && !strings.Contains(g.logs(), "lockout check failed") && !strings.Contains(g.logs(), "password sign-in failed") {
		t.Errorf("no log line about the Redis outage:\n%s", g.logs())
	}
}

// TestRedisDegradedGaugeWithoutTraffic: gatehouse_redis_degraded follows Redis going
// away and coming back while no request arrives at all (a background probe, README:
// within a few seconds), so an alert on it neither misses an idle outage nor stays on.
func TestRedisDegradedGaugeWithoutTraffic(t *testing.T) {
	rd := kvtest.StartPrivateRedis(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + t.TempDir() + "/gh.db", upstream: newRecorder(t).URL, site: siteConfig,
		admin: admin, app: "redis " + rd.URL()})
	waitGauge := func(want float64, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // the probe runs every 2 s; generous for a loaded machine
		for {
			v, ok := scrape(t, admin)["gatehouse_redis_degraded"]
			if ok && v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: gatehouse_redis_degraded = %v (present %v), want %v, with no traffic", what, v, ok, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitGauge(0, "Redis up")
	rd.Stop()
	waitGauge(1, "Redis stopped")
	rd.Start()
	waitGauge(0, "Redis back")
}
