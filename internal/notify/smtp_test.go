package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// The tests in this file hold real SMTP conversations with a server process over
// loopback sockets. A goroutine blocked on a socket is not durably blocked, so they
// cannot run in a testing/synctest bubble; they wait for events instead of sleeping.

func loopbackSender(t *testing.T, port int, tlsMode string) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(SMTPConfig{
		Host: "127.0.0.1", Port: port, TLS: tlsMode, Timeout: 5 * time.Second,
		From: "Gatehouse <no-reply@gatehouse.example>",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSMTPSenderRealServer has a real SMTP conversation with a server process and
// reads what it received.
func TestSMTPSenderRealServer(t *testing.T) {
	t.Parallel()
	requireSMTPD(t)
	srv := startSMTPD(t, 0)

	subject, text, html, err := Render(KindAccountLocked, lockedData)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{
		ID: "m0000000000000000000000001", TenantID: "tenant-1", To: "ada@example.com",
		Subject: subject, Text: text, HTML: html, CreatedAt: t0, NextAttempt: t0, Attempts: 1,
	}
	if err := loopbackSender(t, srv.Port(), TLSNone).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	out := srv.WaitMessage(t)
	wantContains(t, "server output", out,
		"To: <ada@example.com>",
		"Subject: Your Example Clinic account is locked for 30 minutes",
		`From: "Gatehouse" <no-reply@gatehouse.example>`,
		"Message-ID: <m0000000000000000000000001@gatehouse.example>",
		"Date: Mon, 04 May 2026 12:00:00 +0000",
		"Auto-Submitted: auto-generated",
		"multipart/alternative",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Type: text/html; charset=UTF-8",
		"Last attempt from IP address: 203.0.113.7", // a detail of the body
	)
}

// TestSMTPSenderStartTLSMandatory: in starttls mode, a server that does not offer
// STARTTLS gets nothing; the message is not sent in the clear.
func TestSMTPSenderStartTLSMandatory(t *testing.T) {
	t.Parallel()
	requireSMTPD(t)
	srv := startSMTPD(t, 0)
	err := loopbackSender(t, srv.Port(), TLSStartTLS).Send(t.Context(), Message{
		ID: "m2", To: "ada@example.com", Subject: "secret subject", Text: "secret body", CreatedAt: t0,
	})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send without STARTTLS on offer = %v, want a STARTTLS error", err)
	}
	// A barrier instead of a sleep: the single-threaded server handles the first
	// connection's bytes before this later conversation ends, and prints in order,
	// so once the barrier message is printed, anything the refused send leaked
	// would be printed too.
	if err := loopbackSender(t, srv.Port(), TLSNone).Send(t.Context(), Message{
		ID: "m3", To: "ada@example.com", Subject: "barrier", Text: "barrier", CreatedAt: t0,
	}); err != nil {
		t.Fatalf("Send of the barrier message: %v", err)
	}
	out := srv.WaitMessage(t)
	wantContains(t, "server output", out, "Subject: barrier")
	wantNotContains(t, "server output", out, "secret")
	if c := strings.Count(out, "MESSAGE FOLLOWS"); c != 1 {
		t.Fatalf("the server received %d messages, want the barrier only:\n%s", c, out)
	}
}

// TestOutboxSurvivesSMTPOutage: with the SMTP server down, an alert stays in the
// outbox with its error and a retry time; once the server is up and the retry is
// due, a kick delivers it.
func TestOutboxSurvivesSMTPOutage(t *testing.T) {
	t.Parallel()
	requireSMTPD(t)
	port := freePort(t) // nothing listens here yet
	clk := clock.NewFake(t0)
	ob := newSignallingOutbox()
	w, err := NewWorker(ob, loopbackSender(t, port, TLSNone), clk, WorkerConfig{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(nil, ob, clk, w.Kick)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	id := notifyLocked(t, n)
	ob.wantOutcome(t, "failed")
	if d := depth(t, w); d != 1 {
		t.Fatalf("Depth during the outage = %d, want 1", d)
	}
	p := ob.Pending()[0]
	if p.ID != id || p.Attempts != 1 || !p.NextAttempt.After(clk.Now()) || !p.NextAttempt.Equal(t0.Add(DefaultRetryBase)) {
		t.Fatalf("after a failed send the outbox holds %+v; want %s retrying at %s", p, id, t0.Add(DefaultRetryBase))
	}
	t.Logf("recorded error: %s", p.LastError)
	wantContains(t, "LastError", p.LastError, "dial")

	srv := startSMTPD(t, port)
	clk.Advance(DefaultRetryBase)
	w.Kick()
	ob.wantOutcome(t, "sent")
	if d := depth(t, w); d != 0 {
		t.Fatalf("Depth after delivery = %d, want 0", d)
	}
	out := srv.WaitMessage(t)
	wantContains(t, "server output", out,
		"To: <ada@example.com>",
		"Subject: Your Example Clinic account is locked for 30 minutes",
		"Message-ID: <"+id+"@gatehouse.example>",
		"203.0.113.7")
	if c := strings.Count(out, "END MESSAGE"); c != 1 {
		t.Fatalf("the server received %d messages, want 1", c)
	}
}
