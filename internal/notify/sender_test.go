package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLogSender(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	subject, text, html, err := Render(KindAccountLocked, lockedData)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{ID: "m1", TenantID: "tenant-1", To: "ada@example.com", Subject: subject, Text: text, HTML: html, Attempts: 1}
	if err := NewLogSender(zap.New(core)).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zapcore.WarnLevel {
		t.Fatalf("logged %+v, want one warn entry", entries)
	}
	f := entries[0].ContextMap()
	for key, want := range map[string]string{"message_id": "m1", "tenant_id": "tenant-1", "to": "ada@example.com", "subject": subject, "text": text} {
		if f[key] != want {
			t.Errorf("field %s = %v, want %q", key, f[key], want)
		}
	}
	if _, ok := f["html"]; ok {
		t.Error("the HTML body was logged: the text says the same, twice as long")
	}
	// A worker with a LogSender empties the outbox: "no SMTP" is not an outage.
	w, _, n := newTestWorker(t, NewLogSender(zap.New(core)), nil, WorkerConfig{})
	notifyLocked(t, n)
	if sent, err := w.RunOnce(t.Context()); err != nil || sent != 1 {
		t.Fatalf("RunOnce with a LogSender = %d, %v", sent, err)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	t.Parallel()
	good := SMTPConfig{Host: "smtp.example.com", From: "Gatehouse <no-reply@example.com>", Username: "u", Password: "p"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*SMTPConfig)
		want string
	}{
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "host is required"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.example.com:587" }, "give the port separately"},
		{"bad port", func(c *SMTPConfig) { c.Port = 70000 }, "port 70000 out of range"},
		{"unknown tls", func(c *SMTPConfig) { c.TLS = "ssl" }, `unknown tls mode "ssl"`},
		{"plaintext to a remote host", func(c *SMTPConfig) { c.TLS = TLSNone }, "only allowed for a loopback host"},
		{"plaintext to a name that is not localhost", func(c *SMTPConfig) { c.TLS, c.Host = TLSNone, "localhost.evil.example" }, "only allowed for a loopback host"},
		{"password alone", func(c *SMTPConfig) { c.Username = "" }, "password without username"},
		{"no from", func(c *SMTPConfig) { c.From = "" }, "from address is required"},
		{"bad from", func(c *SMTPConfig) { c.From = "gatehouse" }, `from address "gatehouse"`},
		{"negative timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, "negative timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err := NewSMTPSender(c); err == nil {
				t.Fatal("NewSMTPSender accepted the config")
			}
		})
	}
	// Every problem at once.
	err := SMTPConfig{TLS: "bogus", Password: "p"}.Validate()
	for _, want := range []string{"host is required", "unknown tls mode", "password without username", "from address is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	// Loopback hosts may go without TLS.
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "LOCALHOST", "127.1.2.3"} {
		c := SMTPConfig{Host: host, TLS: TLSNone, From: "no-reply@example.com"}
		if err := c.Validate(); err != nil {
			t.Errorf("tls none to %s: %v", host, err)
		}
	}
}

func TestSMTPConfigDefaults(t *testing.T) {
	t.Parallel()
	for mode, port := range map[string]int{"": 587, TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25} {
		c := SMTPConfig{TLS: mode}.withDefaults()
		if c.Port != port || c.Timeout != DefaultSMTPTimeout {
			t.Errorf("tls %q: port %d timeout %s, want %d and %s", mode, c.Port, c.Timeout, port, DefaultSMTPTimeout)
		}
	}
}

func TestSMTPConfigHidesPassword(t *testing.T) {
	t.Parallel()
	c := SMTPConfig{Host: "smtp.example.com", From: "a@example.com", Username: "u", Password: "hunter2-secret"}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("the password is printed: %s", s)
		}
	}
}
