package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	benchEmail, benchPass = "bench@example.com", "Tr0mbone-Orchard-Lantern-77"
	userIDHeader          = "X-Gatehouse-User-Id"
	assertionHeader       = "X-Gatehouse-Assertion"
	benchUser             = "bench"
)

// basicHash is benchPass's bcrypt hash for K's basic_auth (made once; the peer's
// hash cache answers every later request).
var basicHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(benchPass), 10)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// basicAuthHeader is what K's client sends.
var basicAuthHeader = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(benchUser+":"+benchPass))

// pinSelf re-executes this program under taskset on CPU 1 (shared with the
// upstream; the servers get CPU 0) and reports true once that is done.
func pinSelf() (bool, error) {
	if os.Getenv("PROXYBENCH_PINNED") == "1" {
		return true, nil
	}
	taskset, err := exec.LookPath("taskset")
	exe, err2 := os.Executable()
	if err != nil || err2 != nil || runtime.NumCPU() < 2 {
		return false, fmt.Errorf("taskset: %v, %v, %d CPUs", err, err2, runtime.NumCPU())
	}
	argv := append([]string{"taskset", "-c", "1", exe}, os.Args[1:]...)
	return false, syscall.Exec(taskset, argv, append(os.Environ(), "PROXYBENCH_PINNED=1"))
}

// site is what a server runs besides reverse_proxy.
type site struct {
	gatehouse bool   // Gatehouse in front of reverse_proxy
	every     bool   // every identity header on: identity_headers all, remote_headers
	basicAuth bool   // Caddy's basic_auth and request_header instead of Gatehouse
	flood     bool   // X-Forwarded-For trusted from loopback, bcrypt cost 12
	minting   bool   // the token endpoint unthrottled: M's tokens are minted through it
	rbac      bool   // the measured path requires a permission (a scoped RBAC rule)
	admin     string // Caddy's admin endpoint, for CPU profiles ("": admin off)
}

// caddyfile renders a server's configuration: plain reverse_proxy, or
// Gatehouse in front of it. The flood's gateway trusts X-Forwarded-For from
// loopback (the flood's source addresses) and hashes at the default cost, 12.
// Minting lifts the per-IP limit of the portal's API calls (the token
// endpoint among them); it changes nothing on the proxied path.
func caddyfile(addr, upstream, db string, s site) string {
	global, block := "\tadmin off\n", ""
	if s.admin != "" {
		global = "\tadmin " + s.admin + "\n"
	}
	global += "\tauto_https off\n\tpersist_config off\n"
	if s.gatehouse {
		global += "\tgatehouse {\n\t\tstore sqlite://" + db + "\n"
		// Servers on one store each keep their own audit spool.
		global += "\t\taudit_spool " + strings.TrimSuffix(db, ".db") + "-" + strings.NewReplacer(":", "-", ".", "-").Replace(addr) + ".spool\n"
		if s.flood {
			global += "\t\tbcrypt_cost 12\n"
		}
		if s.minting {
			global += "\t\trate_limit api 1000000/1m\n\t\trate_limit token 1000000/1m 1000000/1m\n"
		}
		global += "\t}\n"
		block = "\tgatehouse {\n\t\ttenant default\n\t\tdefault_policy signed_in\n"
		if s.every {
			block += "\t\tidentity_headers all\n\t\tremote_headers\n"
		}
		if s.rbac {
			block += "\t\trule /r/{key} bench:read GET scope=own\n"
		}
		block += "\t}\n"
	}
	if s.basicAuth {
		// basic_auth turns its hash cache on; the headers come from its
		// placeholders, as a peer sets them from the verified identity.
		block = "\tbasic_auth {\n\t\t" + benchUser + " " + basicHash + "\n\t}\n" +
			"\trequest_header X-Token-User-Id {http.auth.user.id}\n" +
			"\trequest_header X-Token-User-Email {http.auth.user.id}@example.com\n" +
			"\trequest_header X-Token-User-Roles member,{http.auth.user.id}\n"
	}
	if s.flood {
		global += "\tservers {\n\t\ttrusted_proxies static 127.0.0.1/8\n\t}\n"
	}
	return fmt.Sprintf("{\n%s}\n\nhttp://%s {\n%s\treverse_proxy %s\n}\n", global, addr, block, upstream)
}

// server is one server process under test; start runs it anew.
type server struct {
	name, addr, config string
	admin              string // admin endpoint ("": off)
	cmd                *exec.Cmd
	done               chan struct{}
}

func newServer(c *config, name, upstream string, st site) (*server, error) {
	addr, err := freeAddr()
	if err == nil && c.profile != "" {
		st.admin, err = freeAddr()
	}
	if err != nil {
		return nil, err
	}
	s := &server{name: name, addr: addr, admin: st.admin, config: filepath.Join(c.dir, "Caddyfile."+name)}
	cf := caddyfile(s.addr, upstream, filepath.Join(c.dir, "gatehouse.db"), st)
	return s, os.WriteFile(s.config, []byte(cf), 0o644)
}

// freeAddr returns a loopback address with a port free just now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// command runs the binary with one P and Caddy's data (the master key among
// it) in the run's directory.
func command(c *config, argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "XDG_DATA_HOME="+filepath.Join(c.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(c.dir, "config"))
	return cmd
}

func (s *server) start(c *config, pinned bool) error {
	argv := []string{c.binary, "run", "--config", s.config, "--adapter", "caddyfile"}
	if pinned {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
	}
	log, err := os.OpenFile(s.config+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd, done := command(c, argv...), make(chan struct{})
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.done = cmd, done
	go func() { cmd.Wait(); close(done) }()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			return fmt.Errorf("server %s exited\n%s", s.name, s.tail())
		default:
		}
		if resp, err := client.Get("http://" + s.addr + "/r/_ready"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("server %s did not come up\n%s", s.name, s.tail())
}

// stop kills the server: the store is crash-safe, no graceful stop needed.
func (s *server) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.config + ".log")
	return "--- server " + s.name + " log ---\n" + string(b[max(0, len(b)-3000):])
}

// addUser creates the bench user, with a display name as real users have.
func addUser(c *config, s *server) error {
	cmd := command(c, c.binary, "user", "add", "--config", s.config, "--tenant", "default",
		"--email", benchEmail, "--name", "Bench User", "--role", "owner", "--password-stdin")
	cmd.Stdin = strings.NewReader(benchPass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("user add: %w\n%s", err, out)
	}
	return nil
}

// login signs in through the JSON API and returns the Cookie request line.
func login(addr string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": benchEmail, "password": benchPass})
	resp, err := http.Post("http://"+addr+"/auth/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
		return "", fmt.Errorf("sign-in: HTTP %d, %d cookies: %s", resp.StatusCode, len(resp.Cookies()), rb)
	}
	var parts []string
	for _, ck := range resp.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return "Cookie: " + strings.Join(parts, "; "), nil
}

// mintTokens gets n access tokens for the signed-in session of cookie from the
// token endpoint (POST /auth/api/v1/token, body {}), each a new token family,
// four requests at a time.
func mintTokens(addr, cookie string, n int) ([]string, error) {
	out := make([]string, n)
	var next atomic.Int64
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for errs[w] == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				out[i], errs[w] = mintToken(addr, cookie)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func mintToken(addr, cookie string) (string, error) {
	req, _ := http.NewRequest("POST", "http://"+addr+"/auth/api/v1/token", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", strings.TrimPrefix(cookie, "Cookie: "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err := json.Unmarshal(rb, &body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: HTTP %d: %s", resp.StatusCode, rb)
	}
	return body.AccessToken, nil
}

// upstream is the in-process upstream, on CPU 1 with the load generator. It
// counts requests per /r/KEY, those carrying the user id header and those
// carrying the assertion, and keeps the identity headers of /r/probe-LABEL
// requests.
type upstream struct {
	addr   string
	mu     sync.Mutex
	counts map[string]tally
	probes map[string][]string // identity lines by label
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	u := &upstream{counts: map[string]tally{}, probes: map[string][]string{}}
	if err == nil {
		u.addr = ln.Addr().String()
		go (&http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	}
	return u, err
}

var upstreamBody = []byte("proxybench body\n")

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/r/")
	u.mu.Lock()
	n := u.counts[key]
	n.requests++
	if r.Header.Get(userIDHeader) != "" {
		n.identity++
	}
	if r.Header.Get(assertionHeader) != "" {
		n.assertion++
	}
	u.counts[key] = n
	if label, ok := strings.CutPrefix(key, "probe-"); ok {
		u.probes[label] = identityLines(r.Header)
	}
	u.mu.Unlock()
	w.Header()["Content-Type"] = []string{"text/plain"}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(upstreamBody))}
	w.Write(upstreamBody)
}

// tally is what the upstream got for one key: requests, and how many of them
// carried the user id header and the assertion.
type tally struct{ requests, identity, assertion int64 }

func (u *upstream) seen(key string) tally {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[key]
}

func (u *upstream) identity(label string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.probes[label]
}

// identityLines renders the identity headers in h as sorted request lines
// ("Name: value"): every X-Gatehouse-* header and the Remote-* convention.
func identityLines(h http.Header) []string {
	var out []string
	for name, values := range h {
		if strings.HasPrefix(name, "X-Gatehouse-") || slices.Contains([]string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"}, name) {
			for _, v := range values {
				out = append(out, name+": "+v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// procCPU returns a process's user+system CPU time from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads fields 14 and 15 (10 ms ticks), counted after the
// command name in parentheses, which may contain anything.
func parseProcStatCPU(stat string) time.Duration {
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
