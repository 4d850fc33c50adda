//go:build unix

package kvtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// PrivateRedisConfig configures a private redis-server.
type PrivateRedisConfig struct {
	// Password requires AUTH. With Username empty it is the default user's password.
	Password string
	// Username creates an ACL user with all permissions and disables the default
	// user, so that only Username:Password gets in.
	Username string
	// TLS serves rediss:// only, with a certificate from a throw-away CA; ClientTLS
	// returns a client config that trusts it.
	TLS bool
	// Args are more redis-server arguments, e.g. --replicaof or --cluster-enabled.
	Args []string
	// Sentinel, when not empty, runs a Sentinel instead of a data server, with
	// these lines in its (writable) configuration file, e.g. "sentinel monitor …".
	Sentinel []string
	// pki, with TLS, is a CA and certificate shared with other servers (a Sentinel
	// set-up or a cluster, whose members talk TLS to each other); nil: a new one.
	pki *testPKI
}

// testPKI is a throw-away CA's files and a client config trusting it.
type testPKI struct {
	files     tlsFiles
	clientTLS *tls.Config
}

// ClientTLS is a client config trusting the CA (nil without a PKI).
func (p *testPKI) ClientTLS() *tls.Config {
	if p == nil {
		return nil
	}
	return p.clientTLS.Clone()
}

// caFile is the CA certificate's path.
func (p *testPKI) caFile() string { return p.files.caCert }

// newTestPKI writes a throw-away CA and server certificate into dir.
func newTestPKI(dir string) (*testPKI, error) {
	files, clientTLS, err := writeTestPKI(dir)
	if err != nil {
		return nil, err
	}
	return &testPKI{files: files, clientTLS: clientTLS}, nil
}

// PrivateRedis is a redis-server child process that belongs to one test, on its own
// port, without persistence. A test may kill it (Stop), restart it on the same port
// (Start) or freeze it (Pause) to see how code behaves when Redis goes away — which
// it must never do to the shared server. It is killed when the test ends.
type PrivateRedis struct {
	t         testing.TB
	cfg       PrivateRedisConfig
	bin       string
	dir       string
	port      int
	clientTLS *tls.Config
	tlsFiles  tlsFiles

	mu   sync.Mutex
	proc *redisProcess
}

// redisProcess is one run of redis-server.
type redisProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *syncBuffer
}

// StartPrivateRedis starts a redis-server without password or TLS. Without the
// redis-server binary the test fails in CI and is skipped elsewhere.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	return StartPrivateRedisWith(t, PrivateRedisConfig{})
}

// StartPrivateRedisWith starts a redis-server configured by cfg.
func StartPrivateRedisWith(t testing.TB, cfg PrivateRedisConfig) *PrivateRedis {
	t.Helper()
	testenv.Short(t, "a private redis-server")
	p := &PrivateRedis{t: t, cfg: cfg, bin: redisServerBinary(t), dir: t.TempDir()}
	if cfg.TLS {
		pki := cfg.pki
		if pki == nil {
			var err error
			if pki, err = newTestPKI(p.dir); err != nil {
				t.Fatalf("making test certificates: %v", err)
			}
		}
		p.tlsFiles, p.clientTLS = pki.files, pki.clientTLS
	}
	t.Cleanup(p.Stop)
	// A free port can be taken between asking for it and redis-server binding it;
	// try a few.
	var err error
	for range 5 {
		if p.port, err = freePort(); err != nil {
			break
		}
		if err = p.start(); err == nil {
			return p
		}
	}
	t.Fatalf("starting private redis-server: %v", err)
	return nil
}

// URL is redis://[user:password@]127.0.0.1:port/0, or rediss:// with TLS.
func (p *PrivateRedis) URL() string {
	u := url.URL{Scheme: "redis", Host: p.Addr(), Path: "/0"}
	if p.cfg.TLS {
		u.Scheme = "rediss"
	}
	if p.cfg.Password != "" || p.cfg.Username != "" {
		u.User = url.UserPassword(p.cfg.Username, p.cfg.Password)
	}
	return u.String()
}

// Addr is 127.0.0.1:port.
func (p *PrivateRedis) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
}

// ClientTLS returns a client TLS config that trusts the server's CA (nil without TLS).
// Pass it as kv.RedisOptions.TLSConfig.
func (p *PrivateRedis) ClientTLS() *tls.Config {
	if p.clientTLS == nil {
		return nil
	}
	return p.clientTLS.Clone()
}

// Stop kills the server (SIGKILL: no goodbye to clients) and waits until it is gone;
// its port then refuses connections. Its data is lost. Stopping a stopped server
// does nothing.
func (p *PrivateRedis) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return
	}
	_ = p.proc.cmd.Process.Kill()
	<-p.proc.done
	p.proc = nil
}

// Start restarts a stopped server on the same port, empty, and waits until it
// answers. Starting a running server does nothing.
func (p *PrivateRedis) Start() {
	p.t.Helper()
	if err := p.start(); err != nil {
		p.t.Fatalf("restarting private redis-server on %s: %v", p.Addr(), err)
	}
}

// Pause freezes the server (SIGSTOP): connections are still accepted by the kernel
// but nothing is answered, as with a hung server or a black-holed network, so
// clients meet timeouts rather than refusals.
func (p *PrivateRedis) Pause() { p.signal(syscall.SIGSTOP) }

// Resume undoes Pause (SIGCONT).
func (p *PrivateRedis) Resume() { p.signal(syscall.SIGCONT) }

func (p *PrivateRedis) signal(sig os.Signal) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		p.t.Fatalf("private redis-server on %s is not running", p.Addr())
	}
	if err := p.proc.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signalling private redis-server: %v", err)
	}
}

// start runs redis-server on p.port and waits until it answers.
func (p *PrivateRedis) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return nil
	}
	args, err := p.args()
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, args...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	proc := &redisProcess{cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		_ = cmd.Wait()
		close(proc.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-proc.done:
			return fmt.Errorf("redis-server exited: %s", bytes.TrimSpace(log.Bytes()))
		default:
		}
		if p.answers() {
			p.proc = proc
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-proc.done
			return fmt.Errorf("redis-server did not answer within 10s: %s", bytes.TrimSpace(log.Bytes()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// args is the redis-server command line: loopback only, no persistence, in the
// foreground so that it stays our child.
func (p *PrivateRedis) args() ([]string, error) {
	a := []string{
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", p.dir,
		"--loglevel", "warning",
	}
	if len(p.cfg.Sentinel) > 0 {
		// Sentinel rewrites its configuration file, so it needs one of its own.
		conf := filepath.Join(p.dir, "sentinel.conf")
		if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(conf, []byte(strings.Join(p.cfg.Sentinel, "\n")+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
		a = []string{conf, "--sentinel", "--bind", "127.0.0.1", "--daemonize", "no", "--dir", p.dir, "--loglevel", "warning"}
	}
	port := strconv.Itoa(p.port)
	if p.cfg.TLS {
		a = append(a, "--port", "0", "--tls-port", port,
			"--tls-cert-file", p.tlsFiles.cert, "--tls-key-file", p.tlsFiles.key,
			"--tls-ca-cert-file", p.tlsFiles.caCert, "--tls-auth-clients", "no")
	} else {
		a = append(a, "--port", port)
	}
	switch {
	case p.cfg.Username != "":
		pass := "nopass"
		if p.cfg.Password != "" {
			pass = ">" + p.cfg.Password
		}
		a = append(a, "--user", p.cfg.Username, "on", pass, "~*", "&*", "+@all", "--user", "default", "off")
	case p.cfg.Password != "":
		a = append(a, "--requirepass", p.cfg.Password)
	}
	return append(a, p.cfg.Args...), nil
}

// answers reports whether the server replies to a PING (an error reply such as
// NOAUTH counts: the server is up).
func (p *PrivateRedis) answers() bool {
	conn, err := net.DialTimeout("tcp", p.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if p.clientTLS != nil {
		cfg := p.clientTLS.Clone()
		cfg.ServerName = "127.0.0.1"
		conn = tls.Client(conn, cfg)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && (line[0] == '+' || line[0] == '-')
}

// redisServerBinary finds redis-server, failing in CI and skipping elsewhere.
func redisServerBinary(t testing.TB) string {
	t.Helper()
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return bin
	}
	const fallback = "/usr/bin/redis-server"
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	testenv.Need(t, "redis-server is not installed (apt-get install redis-server)")
	return ""
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener has no TCP address")
	}
	return addr.Port, nil
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
