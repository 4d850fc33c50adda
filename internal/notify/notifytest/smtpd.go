// Package notifytest runs a real SMTP server process for tests: Python's stdlib smtpd
// module (Python ≤ 3.11) with its DebuggingServer, which prints each message it receives.
package notifytest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireSMTPD skips the test when python3 with smtpd is missing, except in CI, where
// the real SMTP conversation must run.
func RequireSMTPD(t testing.TB) {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("real SMTP test cannot run in CI: %s", why)
		}
		t.Skipf("skipping the real SMTP test outside CI: %s (CI=1 makes this a failure)", why)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		missing("python3 not found")
		return
	}
	out, err := exec.Command("python3", "-W", "ignore::DeprecationWarning", "-c", "import smtpd").CombinedOutput()
	if err != nil {
		missing(fmt.Sprintf("python3 has no smtpd module (removed in Python 3.12): %v: %s", err, bytes.TrimSpace(out)))
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type SMTPD struct {
	out  *syncBuffer
	exit chan struct{}
}

// StartSMTPD starts the server on 127.0.0.1:port and waits until it accepts
// connections; the test's cleanup stops it.
func StartSMTPD(t testing.TB, port int) *SMTPD {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// -u: unbuffered, or the printed messages sit in Python's buffer.
	cmd := exec.Command("python3", "-u", "-W", "ignore::DeprecationWarning",
		"-m", "smtpd", "-n", "-c", "DebuggingServer", addr)
	s := &SMTPD{out: &syncBuffer{}, exit: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting python3 smtpd: %v", err)
	}
	go func() { _ = cmd.Wait(); close(s.exit) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exit
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.exit:
			t.Fatalf("python3 smtpd exited at start:\n%s", s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("python3 smtpd did not listen on %s: %v\n%s", addr, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitMessage waits until the server has printed a whole message and returns all
// output so far.
// Output is everything the server printed so far.
func (s *SMTPD) Output() string { return s.out.String() }

func (s *SMTPD) WaitMessage(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := s.out.String()
		if strings.Contains(out, "------------ END MESSAGE ------------") {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMTP server printed no whole message:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
