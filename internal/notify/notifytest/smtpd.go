// Package notifytest runs a real SMTP server process for tests: Python's stdlib smtpd
// module (Python ≤ 3.11) with its DebuggingServer, which prints each message it receives.
//
// The server talks over real sockets to another process, so tests that use it cannot
// run inside a testing/synctest bubble. Its helpers never sleep: they wait for the
// server's output to change, bounded by a deadline.
package notifytest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// waitLimit bounds every wait for the server: generous, because a loaded machine
// may take seconds to start Python, and only a broken test ever reaches it.
const waitLimit = 15 * time.Second

// RequireSMTPD skips the test when python3 with smtpd is missing, except in CI, where
// the real SMTP conversation must run.
func RequireSMTPD(t testing.TB) {
	t.Helper()
	if why := smtpdMissing(); why != "" {
		testenv.Need(t, "the real SMTP test cannot run: "+why)
	}
}

// smtpdMissing says why the server cannot run, or "" when it can. Starting Python
// costs a few hundred milliseconds of CPU, so the answer is found once per process.
var smtpdMissing = sync.OnceValue(func() string {
	if _, err := exec.LookPath("python3"); err != nil {
		return "python3 not found"
	}
	out, err := exec.Command("python3", "-W", "ignore::DeprecationWarning", "-c", "import smtpd").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("python3 has no smtpd module (removed in Python 3.12): %v: %s", err, bytes.TrimSpace(out))
	}
	return ""
})

// FreePort returns a loopback port that was free a moment ago. Prefer StartSMTPD with
// port 0 when the port need not be known before the server starts: another process
// may take a port between FreePort and its use.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects the server's output and tells waiters when it grows.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed, and replaced, by every Write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return n, err
}

func (s *syncBuffer) String() string {
	out, _ := s.snapshot()
	return out
}

// snapshot returns the output so far and a channel that is closed at the next Write.
func (s *syncBuffer) snapshot() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.changed
}

// SMTPD is a running server process.
type SMTPD struct {
	out  *syncBuffer
	exit chan struct{}
	port int
}

// serverScript is `python3 -m smtpd -n -c DebuggingServer host:port` plus one line,
// printed once the socket listens, that says so and names the port (the kernel's
// choice when port is 0).
const serverScript = `
import asyncore, smtpd, sys
server = smtpd.DebuggingServer((sys.argv[1], int(sys.argv[2])), None)
print("notifytest: smtpd listening on port", server.socket.getsockname()[1], flush=True)
asyncore.loop()
`

var listeningLine = regexp.MustCompile(`notifytest: smtpd listening on port (\d+)\n`)

// StartSMTPD starts the server on 127.0.0.1:port (port 0: a free port, see Port) and
// returns once it accepts connections; the test's cleanup stops it.
func StartSMTPD(t testing.TB, port int) *SMTPD {
	t.Helper()
	testenv.Short(t, "a real SMTP server")
	// -u: unbuffered, or the printed messages sit in Python's buffer.
	cmd := exec.Command("python3", "-u", "-W", "ignore::DeprecationWarning",
		"-c", serverScript, "127.0.0.1", strconv.Itoa(port))
	s := &SMTPD{out: newSyncBuffer(), exit: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting python3 smtpd: %v", err)
	}
	go func() { _ = cmd.Wait(); close(s.exit) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exit
	})
	out := s.WaitOutput(t, fmt.Sprintf("python3 smtpd to listen on 127.0.0.1:%d", port), listeningLine.MatchString)
	s.port, _ = strconv.Atoi(listeningLine.FindStringSubmatch(out)[1])
	return s
}

// Port is the port the server listens on.
func (s *SMTPD) Port() int { return s.port }

// Output is everything the server printed so far.
func (s *SMTPD) Output() string { return s.out.String() }

// WaitOutput waits until cond holds for the server's output and returns that output.
// It fails the test if the server exits first or cond does not hold within a bound.
func (s *SMTPD) WaitOutput(t testing.TB, what string, cond func(out string) bool) string {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		out, changed := s.out.snapshot()
		if cond(out) {
			return out
		}
		select {
		case <-changed:
		case <-s.exit:
			// Output written just before the exit is in already: cmd.Wait returns
			// only after copying all of it.
			if out := s.out.String(); cond(out) {
				return out
			}
			t.Fatalf("python3 smtpd exited while waiting for %s:\n%s", what, s.out)
		case <-limit.C:
			t.Fatalf("timed out after %s waiting for %s; the server printed:\n%s", waitLimit, what, s.out)
		}
	}
}

// endMessage ends each message the DebuggingServer prints.
const endMessage = "------------ END MESSAGE ------------"

// WaitMessage waits until the server has printed a whole message and returns all
// output so far.
func (s *SMTPD) WaitMessage(t testing.TB) string {
	t.Helper()
	return s.WaitOutput(t, "a whole message", func(out string) bool { return strings.Contains(out, endMessage) })
}
