package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the gatehouse binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The end-to-end tier (the built binary, a real browser, real servers) is not
		// part of the -short loop; make test and CI run it.
		fmt.Println("e2e: not run under -short")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", binary, "../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recorder is an upstream that remembers the headers of every request it received.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []http.Header
	uris []string
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Header.Clone())
		rec.uris = append(rec.uris, r.RequestURI)
		rec.mu.Unlock()
		fmt.Fprintf(w, "upstream saw %s as %q\n", r.RequestURI, r.Header.Get("X-Gatehouse-User-Email"))
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) last(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return r.reqs[len(r.reqs)-1]
}

// gateway is a running gatehouse process.
type gateway struct {
	t      *testing.T
	url    string
	config string
	dir    string
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
}

// insecureClient accepts Caddy's internal (self-signed) certificates in HTTPS tests.
var insecureClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// freePort finds a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// siteConfig is the default site block body (inside `gatehouse { ... }`).
const siteConfig = `
		rule /public/* public
		rule /health public
		rule /admin/* deny
		remote_headers`

// startGateway writes a Caddyfile with the given store and site rules in front of the
// upstream and starts the binary.
func startGateway(t *testing.T, storeDSN, upstream, site string) *gateway {
	t.Helper()
	return startGatewayAdmin(t, storeDSN, upstream, site, "off")
}

// startGatewayAdmin is startGateway with Caddy's admin endpoint setting (e.g. an address
// to read /metrics from).
func startGatewayAdmin(t *testing.T, storeDSN, upstream, site, admin string) *gateway {
	t.Helper()
	return startGatewayWith(t, gatewayConfig{dsn: storeDSN, upstream: upstream, site: site, admin: admin})
}

// gatewayConfig varies the generated Caddyfile.
type gatewayConfig struct {
	dsn, upstream, site string
	admin               string // default "off"
	app                 string // more lines inside the gatehouse global option
	global              string // more global options (e.g. servers { trusted_proxies … })
	port                int    // default: a free port
	bcryptCost          int    // default 4 (fast tests); a realistic cost for load tests
	// defaultHeaders leaves the site's identity headers at the default; otherwise a
	// site that does not choose them sends all (`identity_headers all`), which most
	// tests assert on.
	defaultHeaders bool
}

func startGatewayWith(t *testing.T, c gatewayConfig) *gateway {
	t.Helper()
	dir := t.TempDir()
	if c.admin == "" {
		c.admin = "off"
	}
	if c.bcryptCost == 0 {
		c.bcryptCost = 4
	}
	port := c.port
	if port == 0 {
		port = freePort(t)
	}
	if !c.defaultHeaders && !strings.Contains(c.site, "identity_headers") {
		c.site = "\n\t\tidentity_headers all" + c.site
	}
	cfg := fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
	storage file_system %s
	%s
	gatehouse {
		store %s
		bcrypt_cost %d
		base_url http://127.0.0.1:%d
		%s
	}
}

http://127.0.0.1:%d {
	gatehouse {%s
	}
	reverse_proxy %s
}
`, c.admin, filepath.Join(dir, "caddy"), c.global, c.dsn, c.bcryptCost, port, c.app, port, c.site, strings.TrimPrefix(c.upstream, "http://"))
	g := &gateway{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gateway) start() {
	t := g.t
	t.Helper()
	g.cmd = exec.Command(binary, "run", "--config", g.config, "--adapter", "caddyfile")
	g.cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+g.dir, "XDG_CONFIG_HOME="+g.dir, "HOME="+g.dir)
	pr, pw := io.Pipe()
	g.cmd.Stdout, g.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			g.mu.Lock()
			g.log.WriteString(sc.Text() + "\n")
			g.mu.Unlock()
		}
	}()
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if g.cmd.ProcessState != nil {
			break
		}
		resp, err := insecureClient.Get(g.url + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.stop()
	t.Fatalf("gateway did not come up; log:\n%s", g.logs())
}

func (g *gateway) stop() {
	if g.cmd != nil && g.cmd.Process != nil && g.cmd.ProcessState == nil {
		_ = g.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
			<-done
		}
	}
}

func (g *gateway) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

var setupRE = regexp.MustCompile(`"setup_url":"([^"]+)"`)

// setupURL waits for the first-run link in the log.
func (g *gateway) setupURL() string {
	g.t.Helper()
	for range 100 {
		if m := setupRE.FindStringSubmatch(g.logs()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("no setup link in log:\n%s", g.logs())
	return ""
}

// cli runs a gatehouse CLI command against the gateway's config.
func (g *gateway) cli(stdin string, args ...string) (string, error) {
	args = append(args, "--config", g.config, "--adapter", "caddyfile")
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+g.dir, "XDG_CONFIG_HOME="+g.dir, "HOME="+g.dir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// browser is an HTTP client with a cookie jar that does not follow redirects, so tests
// see every 302.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a URL and returns status, body and the response.
func get(t *testing.T, c *http.Client, url string) (int, string, *http.Response) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// csrfFrom extracts the CSRF token of a page's form.
func csrfFrom(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return m[1]
}

// do sends a request and returns status and body.
func do(t *testing.T, c *http.Client, req *http.Request) (int, string, *http.Response) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

var _ = context.Background

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
