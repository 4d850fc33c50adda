package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecurityTxt: without a contact the request is the site's to decide (here a deny
// rule); an owner sets the workspace's disclosure contact with the CLI, and
// /.well-known/security.txt (RFC 9116) serves it to anyone — no sign-in, despite the
// deny rule — with Contact and Expires; other methods get 405; an expiry in the past
// or a contact that is no mailto:/https: address is refused naming the flag.
func TestSecurityTxt(t *testing.T) {
	up := newRecorder(t)
	g := startGateway(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig+"\n\t\trule /.well-known/* deny")
	if st, _, _ := get(t, plainClient(), g.url+"/.well-known/security.txt"); st != http.StatusForbidden {
		t.Fatalf("security.txt without a contact, under a deny rule: %d, want the rule's 403", st)
	}
	cliFails(t, g, "--disclosure-expires", "tenant", "security", "--disclosure-contact", "mailto:security@example.com", "--disclosure-expires", "2020-01-01")
	cliFails(t, g, "--disclosure-contact", "tenant", "security", "--disclosure-contact", "security@example.com", "--disclosure-expires", "2020-01-01")
	expires := time.Now().Add(200 * 24 * time.Hour).UTC().Format("2006-01-02")
	cliOK(t, g, "contact mailto:security@example.com", "tenant", "security", "--disclosure-contact", "mailto:security@example.com", "--disclosure-expires", expires)

	// Answers are cached 30 s: the one above may still be in use for that long.
	var st int
	var body string
	var resp *http.Response
	deadline := time.Now().Add(40 * time.Second)
	for {
		st, body, resp = get(t, plainClient(), g.url+"/.well-known/security.txt")
		if st == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "Contact: mailto:security@example.com\n") || !strings.Contains(body, "Expires: "+expires+"T00:00:00Z\n") {
		t.Fatalf("security.txt: %d %q\n%s", st, resp.Header.Get("Content-Type"), body)
	}
	if up.count() != 0 {
		t.Fatal("security.txt reached the upstream")
	}
	req, _ := http.NewRequest("POST", g.url+"/.well-known/security.txt", nil)
	if st, _, _ := do(t, plainClient(), req); st != http.StatusMethodNotAllowed {
		t.Fatalf("POST security.txt: %d, want 405", st)
	}
}
