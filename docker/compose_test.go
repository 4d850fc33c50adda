// Package docker holds no code: its tests check the container and compose set-up
// files users run (the e2e package runs them against the built binary).
package docker

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Networks map[string]any            `yaml:"networks"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]string `yaml:"build"`
	User        string            `yaml:"user"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	Environment map[string]string `yaml:"environment"`
	Command     any               `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	DependsOn   any               `yaml:"depends_on"`
	Networks    []string          `yaml:"networks"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func command(s composeService) string {
	switch c := s.Command.(type) {
	case string:
		return c
	case []any:
		var parts []string
		for _, p := range c {
			parts = append(parts, strings.TrimSpace(p.(string)))
		}
		return strings.Join(parts, " ")
	}
	return ""
}

var replicas = []string{"gatehouse-1", "gatehouse-2"}

// TestComposeServices: the HA set-up has what the README promises, each part
// checked for what makes it safe and highly available.
func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"gatehouse-1", "gatehouse-2", "lb", "app", "postgres", "redis", "redis-certs", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	// Long-running services report their health (the gateways are watched by the load
	// balancer's active health check instead: their image has no shell or client).
	for _, name := range []string{"lb", "app", "postgres", "redis", "prometheus", "grafana"} {
		if s := c.Services[name]; s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	lb, _ := os.ReadFile("ha/lb.Caddyfile")
	for _, want := range []string{"gatehouse-1:8080", "gatehouse-2:8080", "health_uri", "lb_try_duration"} {
		if !strings.Contains(string(lb), want) {
			t.Errorf("ha/lb.Caddyfile lacks %q (both replicas, health-checked, failed requests retried)", want)
		}
	}
	if !slices.Contains(c.Services["lb"].Ports, "8080:8080") {
		t.Errorf("lb publishes %v, want 8080:8080", c.Services["lb"].Ports)
	}
	// Only the load balancer, Prometheus and Grafana are published: the replicas, the
	// app (which believes the identity headers), the store and Redis are not.
	for _, name := range []string{"gatehouse-1", "gatehouse-2", "app", "postgres", "redis"} {
		if p := c.Services[name].Ports; len(p) > 0 {
			t.Errorf("%s publishes ports %v; only the load balancer may be reachable from outside", name, p)
		}
	}
	if slices.Contains(c.Services["app"].Networks, "frontend") {
		t.Error("the app is on the frontend network: the load balancer could bypass Gatehouse")
	}
}

// TestComposeReplicas: both replicas are the image users build, run read-only as a
// numeric non-root user, and share the store, Redis and the master key, each with
// its own /data volume.
func TestComposeReplicas(t *testing.T) {
	c := loadCompose(t)
	first := c.Services[replicas[0]]
	for _, name := range replicas {
		s := c.Services[name]
		if s.Build["dockerfile"] != "docker/Dockerfile" || s.Build["context"] != ".." {
			t.Errorf("%s build = %v, want docker/Dockerfile from the repository root", name, s.Build)
		}
		if !s.ReadOnly {
			t.Errorf("%s: read_only is not true", name)
		}
		if s.User != "65532:65532" {
			t.Errorf("%s: user %q, want the numeric non-root 65532:65532", name, s.User)
		}
		if !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: cap_drop %v, security_opt %v; want ALL and no-new-privileges", name, s.CapDrop, s.SecurityOpt)
		}
		for _, k := range []string{"GATEHOUSE_STORE", "GATEHOUSE_REDIS", "GATEHOUSE_MASTER_KEY"} {
			if s.Environment[k] == "" || s.Environment[k] != first.Environment[k] {
				t.Errorf("%s: %s = %q, want set and the same as %s's", name, k, s.Environment[k], replicas[0])
			}
		}
		if !strings.HasPrefix(s.Environment["GATEHOUSE_STORE"], "postgres://") || !strings.Contains(s.Environment["GATEHOUSE_STORE"], "@postgres:5432/") {
			t.Errorf("%s: store %q is not the postgres service", name, s.Environment["GATEHOUSE_STORE"])
		}
		if !regexp.MustCompile(`^rediss://:\$\{REDIS_PASSWORD[^}]*\}@redis:6379/`).MatchString(s.Environment["GATEHOUSE_REDIS"]) {
			t.Errorf("%s: redis %q, want rediss:// (TLS) with the password to the redis service", name, s.Environment["GATEHOUSE_REDIS"])
		}
		if !strings.HasPrefix(s.Environment["GATEHOUSE_MASTER_KEY"], "${GATEHOUSE_MASTER_KEY:?") {
			t.Errorf("%s: master key %q, want it from the environment, required", name, s.Environment["GATEHOUSE_MASTER_KEY"])
		}
		if s.Environment["SSL_CERT_DIR"] != "/certs/ca" || !slices.Contains(s.Volumes, "redis-certs:/certs:ro") {
			t.Errorf("%s: the compose CA is not trusted (SSL_CERT_DIR %q, volumes %v)", name, s.Environment["SSL_CERT_DIR"], s.Volumes)
		}
		if !slices.Contains(s.Volumes, name+"-data:/data") {
			t.Errorf("%s: volumes %v, want its own %s-data:/data", name, s.Volumes, name)
		}
		if !slices.Contains(s.Volumes, "./ha/Caddyfile:/etc/gatehouse/ha/Caddyfile:ro") || !strings.Contains(command(s), "/etc/gatehouse/ha/Caddyfile") {
			t.Errorf("%s: does not run docker/ha/Caddyfile (volumes %v, command %q)", name, s.Volumes, command(s))
		}
		if !slices.Contains(s.Expose, "9180") {
			t.Errorf("%s: metrics port 9180 not exposed to Prometheus", name)
		}
	}
	for _, v := range []string{"gatehouse-1-data", "gatehouse-2-data", "postgres-data", "redis-certs"} {
		if _, ok := c.Volumes[v]; !ok {
			t.Errorf("volume %s not declared", v)
		}
	}
	ha, err := os.ReadFile("ha/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"store {env.GATEHOUSE_STORE}", "master_key {env.GATEHOUSE_MASTER_KEY}", "redis {env.GATEHOUSE_REDIS}", "metrics"} {
		if !strings.Contains(string(ha), want) {
			t.Errorf("ha/Caddyfile lacks %q", want)
		}
	}
}

// TestComposeRedisAuthTLS: Redis listens on TLS only and requires the password the
// gateways use; its certificate comes from scripts/redis-tls.sh.
func TestComposeRedisAuthTLS(t *testing.T) {
	c := loadCompose(t)
	r := c.Services["redis"]
	cmd := command(r)
	for _, want := range []string{"--port 0", "--tls-port 6379", "--tls-cert-file /certs/redis.crt", "--tls-key-file /certs/redis.key", `--requirepass "$$REDIS_PASSWORD"` /* compose escapes $ as $$ */} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command lacks %q: %s", want, cmd)
		}
	}
	if !strings.HasPrefix(r.Environment["REDIS_PASSWORD"], "${REDIS_PASSWORD:?") {
		t.Errorf("redis password %q, want the required REDIS_PASSWORD", r.Environment["REDIS_PASSWORD"])
	}
	if r.User == "" || strings.HasPrefix(r.User, "0") || !r.ReadOnly {
		t.Errorf("redis runs as %q, read_only %v; want its non-root user and a read-only root", r.User, r.ReadOnly)
	}
	certs := c.Services["redis-certs"]
	if !strings.Contains(command(certs), "/scripts/redis-tls.sh /certs redis") || !slices.Contains(certs.Volumes, "../scripts/redis-tls.sh:/scripts/redis-tls.sh:ro") {
		t.Errorf("redis-certs does not run scripts/redis-tls.sh into the volume: %q %v", command(certs), certs.Volumes)
	}
	if !strings.Contains(r.Healthcheck.Test[1], "--tls") {
		t.Errorf("redis healthcheck %v does not use TLS", r.Healthcheck.Test)
	}
}

// TestComposeMonitoring: Prometheus scrapes both replicas' metrics port, Grafana is
// provisioned with it as the data source and loads the Gatehouse dashboard, which
// has a panel for every figure the README lists.
func TestComposeMonitoring(t *testing.T) {
	prom, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(prom, &pc); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range pc.ScrapeConfigs {
		if sc.JobName == "gatehouse" && sc.MetricsPath == "/metrics" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	for _, r := range replicas {
		if !slices.Contains(targets, r+":9180") {
			t.Errorf("prometheus.yml does not scrape %s:9180 (job gatehouse): %v", r, targets)
		}
	}
	c := loadCompose(t)
	g := c.Services["grafana"]
	if !slices.Contains(g.Volumes, "./grafana/provisioning:/etc/grafana/provisioning:ro") || !slices.Contains(g.Volumes, "./grafana/dashboards:/var/lib/grafana/dashboards:ro") {
		t.Errorf("grafana volumes %v", g.Volumes)
	}
	ds, _ := os.ReadFile("grafana/provisioning/datasources/prometheus.yaml")
	if !strings.Contains(string(ds), "url: http://prometheus:9090") || !strings.Contains(string(ds), "uid: prometheus") {
		t.Errorf("datasource provisioning:\n%s", ds)
	}
	dp, _ := os.ReadFile("grafana/provisioning/dashboards/gatehouse.yaml")
	if !strings.Contains(string(dp), "path: /var/lib/grafana/dashboards") {
		t.Errorf("dashboard provisioning:\n%s", dp)
	}

	exprs := DashboardExprs(t, "grafana/dashboards/gatehouse.json")
	all := strings.Join(exprs, "\n")
	for topic, metric := range map[string]string{
		"request rate":       "caddy_http_requests_total",
		"latency":            "caddy_http_request_duration_seconds_bucket",
		"error rates":        `code=~"5.."`,
		"sign-ins":           "gatehouse_signins_total",
		"lockouts":           "gatehouse_lockouts_total",
		"rate-limit hits":    "gatehouse_rate_limited_total",
		"outbox depth":       "gatehouse_mail_outbox_depth",
		"audit spool depth":  "gatehouse_audit_spool_records",
		"active sessions":    "gatehouse_active_sessions",
		"Redis degraded":     "gatehouse_redis_degraded",
		"audit store down":   "gatehouse_audit_store_down",
		"policy decisions":   "gatehouse_policy_decisions_total",
		"audit records lost": "gatehouse_audit_lost_total",
	} {
		if !strings.Contains(all, metric) {
			t.Errorf("dashboard has no %s panel (%s)", topic, metric)
		}
	}
}

// DashboardExprs returns every PromQL query of a Grafana dashboard, failing on a
// panel without one or with another data source.
func DashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no uid or no panels", path)
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}
