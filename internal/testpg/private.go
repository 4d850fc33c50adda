package testpg

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// Server is a private PostgreSQL server a test may stop and start (the shared one
// must never be stopped). It runs from a fresh data directory on a free port and is
// shut down when the test ends.
type Server struct {
	t       testing.TB
	bin     string // directory of initdb, pg_ctl, postgres
	dir     string // data directory
	log     string
	port    int
	asUser  string // run the server as this user (initdb refuses root)
	Started bool
}

// Private starts a private server. It needs PostgreSQL's server binaries (Debian's
// postgresql package); without them the test fails in CI and is skipped elsewhere.
func Private(t testing.TB) *Server {
	t.Helper()
	testenv.Short(t, "a private PostgreSQL server")
	bin := serverBin()
	if bin == "" {
		testenv.Need(t, "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
	}
	base, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	s := &Server{t: t, bin: bin, dir: filepath.Join(base, "data"), log: filepath.Join(base, "server.log")}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: hand the directory to the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Need(t, "running as root without a postgres user to run a private PostgreSQL server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	if out, err := s.run("initdb", "-D", s.dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.port = freePort(t)
	s.Start()
	t.Cleanup(func() {
		if s.Started {
			_, _ = s.run("pg_ctl", "stop", "-D", s.dir, "-m", "immediate", "-w")
		}
	})
	return s
}

// DSN is the server's postgres database.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c max_connections=50", s.port, filepath.Dir(s.dir))
	if out, err := s.run("pg_ctl", "start", "-D", s.dir, "-l", s.log, "-w", "-t", "60", "-o", opts); err != nil {
		log, _ := os.ReadFile(s.log)
		s.t.Fatalf("starting PostgreSQL: %v\n%s\n%s", err, out, log)
	}
	s.Started = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.DSN())
		if err == nil {
			conn.Close(ctx)
			return
		}
		if ctx.Err() != nil {
			s.t.Fatalf("PostgreSQL started but does not accept connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server at once (connections are cut, as in a crash of the database
// host), and waits until it is down.
func (s *Server) Stop() {
	s.t.Helper()
	if out, err := s.run("pg_ctl", "stop", "-D", s.dir, "-m", "immediate", "-w"); err != nil {
		s.t.Fatalf("stopping PostgreSQL: %v\n%s", err, out)
	}
	s.Started = false
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	return cmd.CombinedOutput()
}

// serverBin finds the newest installed PostgreSQL server binaries.
func serverBin() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); fileExists(filepath.Join(d, "initdb")) {
			return d
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
