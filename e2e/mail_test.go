package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/notify/notifytest"
)

// TestMailsThroughRealSMTP: the gateway's lockout and new-device alerts travel through
// the durable outbox to a real SMTP server process.
func TestMailsThroughRealSMTP(t *testing.T) {
	notifytest.RequireSMTPD(t)
	port := notifytest.FreePort(t)
	smtpd := notifytest.StartSMTPD(t, port)
	up := newRecorder(t)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: fmt.Sprintf("smtp {\n\t\t\thost 127.0.0.1\n\t\t\tport %d\n\t\t\tfrom gatehouse@example.com\n\t\t\ttls none\n\t\t}\n\t\trate_limit login 0 0", port)})
	const pw = "passphrase for the mail test"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "mailed@example.com", "--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	// A first sign-in (nothing to report), then one from another browser: a new device.
	if st, _, _ := apiLoginStatus(t, g.url, "mailed@example.com", pw); st != http.StatusOK {
		t.Fatalf("first sign-in: %d", st)
	}
	if st, _, _ := apiLoginStatus(t, g.url, "mailed@example.com", pw); st != http.StatusOK {
		t.Fatalf("second sign-in: %d", st)
	}
	out := unwrap(smtpd.WaitMessage(t))
	for _, want := range []string{"To: <mailed@example.com>", "Subject: New sign-in", "a device not used before", g.url + "/auth/settings/security"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Fatalf("new-device mail lacks %q:\n%s", want, out)
		}
	}
	// Five wrong passwords lock the account: the user is told, with the sign-in link.
	before := strings.Count(smtpd.Output(), "END MESSAGE")
	for i := range 5 {
		apiLoginStatus(t, g.url, "mailed@example.com", fmt.Sprintf("wrong %d", i))
	}
	waitFor(t, "the lockout mail", func() bool { return strings.Count(smtpd.Output(), "END MESSAGE") > before })
	all := unwrap(smtpd.Output())
	last := all[strings.LastIndex(all, "MESSAGE FOLLOWS"):]
	for _, want := range []string{"To: <mailed@example.com>", "locked", "15 minutes", g.url + "/auth/login"} {
		if !strings.Contains(strings.ToLower(last), strings.ToLower(want)) {
			t.Fatalf("lockout mail lacks %q:\n%s", want, last)
		}
	}
}

// softBreak is a quoted-printable soft line break as the debugging server prints it:
// the line ends in '=' and the next printed line continues it.
var softBreak = regexp.MustCompile(`='\s*\n\s*b'`)

// unwrap joins quoted-printable soft line breaks in the server's output.
func unwrap(s string) string { return softBreak.ReplaceAllString(s, "") }
