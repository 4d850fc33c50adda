package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify/notifytest"
)

// mailMessage is one message the SMTP server received.
type mailMessage struct {
	To, Subject, Text string
}

var pyBytesLine = regexp.MustCompile(`^b(?:'(.*)'|"(.*)")$`)

// smtpMessages splits the debugging server's output into the messages it has printed
// whole: each printed line's b'…' taken off, quoted-printable soft line breaks joined
// and "=3D" decoded (the links carry token=…).
func smtpMessages(out string) []mailMessage {
	var msgs []mailMessage
	for _, block := range strings.Split(out, "MESSAGE FOLLOWS")[1:] {
		var complete bool
		block, _, complete = strings.Cut(block, "END MESSAGE")
		if !complete {
			continue // still being printed
		}
		var lines []string
		joining := false
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimRight(line, "\r")
			if m := pyBytesLine.FindStringSubmatch(line); m != nil {
				line = m[1] + m[2]
			}
			if joining {
				lines[len(lines)-1] += line
			} else {
				lines = append(lines, line)
			}
			if joining = strings.HasSuffix(line, "="); joining {
				lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "=")
			}
		}
		for i := range lines {
			lines[i] = strings.ReplaceAll(lines[i], "=3D", "=")
		}
		m := mailMessage{Text: strings.Join(lines, "\n")}
		for _, line := range lines {
			if v, ok := strings.CutPrefix(line, "To: "); ok && m.To == "" {
				m.To = strings.Trim(v, "<>")
			}
			if v, ok := strings.CutPrefix(line, "Subject: "); ok && m.Subject == "" {
				m.Subject = v
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// waitMail waits for the n-th (counting from 1) message to `to` whose subject contains
// subject, and returns it.
func waitMail(t *testing.T, smtpd *notifytest.SMTPD, to, subject string, n int) mailMessage {
	t.Helper()
	var found []mailMessage
	smtpd.WaitOutput(t, fmt.Sprintf("mail %d to %s about %q", n, to, subject), func(out string) bool {
		found = found[:0]
		for _, m := range smtpMessages(out) {
			if m.To == to && strings.Contains(m.Subject, subject) {
				found = append(found, m)
			}
		}
		return len(found) >= n
	})
	return found[n-1]
}

// linkIn returns the one link under prefix (with its token) that a message carries.
func linkIn(t *testing.T, m mailMessage, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `\?token=[A-Za-z0-9_-]+`)
	links := re.FindAllString(m.Text, -1)
	slices.Sort(links)
	if links = slices.Compact(links); len(links) != 1 {
		t.Fatalf("mail %q to %s has links %q under %s, want exactly one:\n%s", m.Subject, m.To, links, prefix, m.Text)
	}
	return links[0]
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u := mustURL(t, link)
	tok := u.Query().Get("token")
	if tok == "" {
		t.Fatalf("link %q has no token", link)
	}
	return tok
}

// submitPage GETs a page with a form (for its CSRF token), then POSTs the form's
// fields to action, as a browser does; it returns status, body and the response.
func submitPage(t *testing.T, c *http.Client, page, action string, fields url.Values) (int, string, *http.Response) {
	t.Helper()
	st, body, _ := get(t, c, page)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", page, st, body)
	}
	return postForm(t, c, action, csrfFrom(t, body), fields)
}

// median of durations.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// startMailGateway starts a gateway that mails through a real SMTP server, with the
// login rate limits off (the tests here ask for many links from one address).
func startMailGateway(t *testing.T, up *recorder) (*gateway, *notifytest.SMTPD) {
	t.Helper()
	notifytest.RequireSMTPD(t)
	smtpd := notifytest.StartSMTPD(t, 0)
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: fmt.Sprintf("smtp {\n\t\t\thost 127.0.0.1\n\t\t\tport %d\n\t\t\tfrom gatehouse@example.com\n\t\t\ttls none\n\t\t}\n\t\trate_limit login 0 0", smtpd.Port())})
	return g, smtpd
}

// TestPasswordResetThroughSMTP: "forgot your password" answers a known and an unknown
// address alike (body, status and timing); the link arrives by real SMTP under
// base_url, sets a new password once, ends every session, and is followed by a
// "password changed" notice; a newer link voids an older one.
func TestPasswordResetThroughSMTP(t *testing.T) {
	up := newRecorder(t)
	g, smtpd := startMailGateway(t, up)
	const email, oldPW, newPW = "rita@example.com", "violet harbour lantern nine", "copper willow thunder eleven"
	const timing, timingPW = "tim@example.com", "granite orchard pebble twelve"
	addUser(t, g, email, "member", oldPW)
	addUser(t, g, timing, "member", timingPW)
	forgot := func(addr string) (int, string, time.Duration) {
		start := time.Now()
		st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/forgot", map[string]string{"email": addr})
		return st, body, time.Since(start)
	}

	// Same status and body for a known and an unknown address, and the same time.
	// Pairs of requests in alternating order, each measured on a quiet gateway: the
	// known address's link is made and mailed in the background, and that work (the
	// link, the outbox, the SMTP delivery) would slow whatever request came next, so
	// the test waits for its mail to arrive before going on. Two checks, loose enough
	// for a loaded 2-core machine: the medians stay within a generous bound, and the
	// known address is not slower in nearly every pair by a clear margin — what doing
	// the link's work on the answer's path looks like (a few milliseconds here), which
	// the bound alone would miss.
	mailsToTiming := 0
	askTiming := func(addr string) (string, time.Duration) {
		st, body, d := forgot(addr)
		if st != http.StatusAccepted {
			t.Fatalf("forgot (%s): %d %s", addr, st, body)
		}
		if addr == timing {
			mailsToTiming++
			waitMail(t, smtpd, timing, "Password reset", mailsToTiming)
			time.Sleep(20 * time.Millisecond) // the outbox marks it sent
		}
		return fmt.Sprint(st, " ", body), d
	}
	for range 3 {
		askTiming(timing)
		askTiming("nobody-warm@example.com")
	}
	const pairs = 20
	var known, unknown []time.Duration
	knownSlower := 0
	for i := range pairs {
		var knownAnswer, unknownAnswer string
		var dk, du time.Duration
		if i%2 == 0 {
			knownAnswer, dk = askTiming(timing)
			unknownAnswer, du = askTiming(fmt.Sprintf("nobody-%d@example.com", i))
		} else {
			unknownAnswer, du = askTiming(fmt.Sprintf("nobody-%d@example.com", i))
			knownAnswer, dk = askTiming(timing)
		}
		if knownAnswer != unknownAnswer {
			t.Fatalf("forgot answers differ:\nknown:   %s\nunknown: %s", knownAnswer, unknownAnswer)
		}
		known, unknown = append(known, dk), append(unknown, du)
		if dk > du {
			knownSlower++
		}
	}
	mk, mu := median(known), median(unknown)
	t.Logf("forgot-password median: known %v, unknown %v; known slower in %d of %d pairs", mk, mu, knownSlower, pairs)
	if diff := (mk - mu).Abs(); diff > 25*time.Millisecond {
		t.Errorf("forgot-password timing tells the addresses apart: median known %v, unknown %v\nknown   %v\nunknown %v", mk, mu, known, unknown)
	}
	if knownSlower >= pairs-1 && mk-mu > time.Millisecond {
		t.Errorf("forgot-password for a known address is slower in %d of %d pairs (median %v against %v): is the link made on the answer's path?\nknown   %v\nunknown %v",
			knownSlower, pairs, mk, mu, known, unknown)
	}

	// A browser signed in before the reset.
	before := browser(t)
	signInAs(t, before, g.url, email, oldPW)
	mustReach(t, before, g, up, email, "the session before the reset")

	// Two requests: two links; only the newer one works.
	if st, body, _ := forgot(email); st != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", st, body)
	}
	first := linkIn(t, waitMail(t, smtpd, email, "Password reset", 1), g.url+"/auth/password/reset")
	if st, body, _ := forgot(strings.ToUpper(email)); st != http.StatusAccepted {
		t.Fatalf("forgot (second): %d %s", st, body)
	}
	second := linkIn(t, waitMail(t, smtpd, email, "Password reset", 2), g.url+"/auth/password/reset")
	if first == second {
		t.Fatalf("the second reset mail repeats the first link %s", first)
	}
	if st, _, _ := get(t, browser(t), first); st != http.StatusNotFound {
		t.Errorf("the older link after a newer one was sent: %d, want 404", st)
	}
	if st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, first), "password": newPW}); st != http.StatusNotFound {
		t.Fatalf("resetting with the older link: %d %s", st, body)
	}
	if st := loginStatus(t, g.url, email, newPW); st != http.StatusUnauthorized {
		t.Fatalf("the older link changed the password (sign-in with it: %d)", st)
	}

	// The newer link, as a browser uses it: the form names the account, and sets the
	// password.
	c := browser(t)
	st, page, _ := get(t, c, second)
	if st != http.StatusOK || !strings.Contains(page, email) {
		t.Fatalf("reset page: %d\n%s", st, page)
	}
	st, body, resp := submitPage(t, c, second, g.url+"/auth/password/reset",
		url.Values{"token": {tokenOf(t, second)}, "password": {newPW}, "confirm": {newPW}})
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
		t.Fatalf("setting the new password: %d Location %q\n%s", st, resp.Header.Get("Location"), body)
	}
	mustBeRefused(t, before, g, up, email, "the session from before the reset")
	if st := loginStatus(t, g.url, email, oldPW); st != http.StatusUnauthorized {
		t.Errorf("the old password after the reset: %d, want 401", st)
	}
	if st := loginStatus(t, g.url, email, newPW); st != http.StatusOK {
		t.Fatalf("the new password after the reset: %d, want 200", st)
	}

	// The link works once.
	if st, _, _ := get(t, browser(t), second); st != http.StatusNotFound {
		t.Errorf("the used link: %d, want 404", st)
	}
	if st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/password/reset", map[string]string{"token": tokenOf(t, second), "password": "another fresh passphrase here"}); st != http.StatusNotFound {
		t.Errorf("the used link again: %d %s", st, body)
	}
	if st := loginStatus(t, g.url, email, newPW); st != http.StatusOK {
		t.Fatalf("the new password after the link was tried again: %d", st)
	}

	// The notice.
	notice := waitMail(t, smtpd, email, "password was reset", 1)
	if !strings.Contains(notice.Text, "signed out") {
		t.Errorf("the password-changed notice does not say the sessions ended:\n%s", notice.Text)
	}
	// The unknown addresses got nothing.
	for _, m := range smtpMessages(smtpd.Output()) {
		if strings.HasPrefix(m.To, "nobody") {
			t.Errorf("an unknown address got mail: %q to %s", m.Subject, m.To)
		}
	}
}

// TestInviteThroughSMTP: an owner invites by the API; the invitation arrives by real
// SMTP with a link under base_url; the invitee sets a password through it and is signed
// in; the link cannot be used again. `gatehouse user invite --no-mail` prints a link
// that works the same way.
func TestInviteThroughSMTP(t *testing.T) {
	up := newRecorder(t)
	g, smtpd := startMailGateway(t, up)
	const owner, ownerPW = "oona@example.com", "saffron glacier window eight"
	addUser(t, g, owner, "owner", ownerPW)
	o := browser(t)
	signInAs(t, o, g.url, owner, ownerPW)

	const invitee, inviteePW = "ivan@example.com", "marble canyon whistle three"
	st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members", map[string]string{"email": invitee, "name": "Ivan Invitee", "role": "manager"})
	if st != http.StatusCreated || !strings.Contains(body, `"status":"invited"`) {
		t.Fatalf("inviting: %d %s", st, body)
	}
	mail := waitMail(t, smtpd, invitee, "invited", 1)
	link := linkIn(t, mail, g.url+"/auth/invite")
	if !strings.Contains(mail.Text, owner) {
		t.Errorf("the invitation does not say who invited:\n%s", mail.Text)
	}
	// Not a member yet: no password works.
	if st := loginStatus(t, g.url, invitee, inviteePW); st != http.StatusUnauthorized {
		t.Fatalf("sign-in before accepting: %d", st)
	}

	c := browser(t)
	st, page, _ := get(t, c, link)
	if st != http.StatusOK || !strings.Contains(page, invitee) {
		t.Fatalf("invitation page: %d\n%s", st, page)
	}
	st, body, resp := submitPage(t, c, link, g.url+"/auth/invite",
		url.Values{"token": {tokenOf(t, link)}, "name": {"Ivan Invitee"}, "password": {inviteePW}, "confirm": {inviteePW}})
	if st != http.StatusSeeOther {
		t.Fatalf("accepting: %d Location %q\n%s", st, resp.Header.Get("Location"), body)
	}
	mustReach(t, c, g, up, invitee, "the invitee right after accepting")
	if h := up.last(t); h.Get("X-Gatehouse-Roles") != "manager" || h.Get("X-Gatehouse-User-Name") != "Ivan Invitee" {
		t.Errorf("invitee at the upstream: roles %q name %q", h.Get("X-Gatehouse-Roles"), h.Get("X-Gatehouse-User-Name"))
	}
	if st := loginStatus(t, g.url, invitee, inviteePW); st != http.StatusOK {
		t.Fatalf("the invitee signing in with the chosen password: %d", st)
	}

	// Once only.
	if st, _, _ := get(t, browser(t), link); st != http.StatusNotFound {
		t.Errorf("the used invitation link: %d, want 404", st)
	}
	const hijack = "someone else entirely now"
	if st, body := apiCall(t, browser(t), "POST", g.url+"/auth/api/v1/invite/accept", map[string]string{"token": tokenOf(t, link), "password": hijack}); st != http.StatusNotFound {
		t.Errorf("accepting the used invitation again: %d %s", st, body)
	}
	if st := loginStatus(t, g.url, invitee, hijack); st != http.StatusUnauthorized {
		t.Errorf("the second acceptance set a password (sign-in %d)", st)
	}
	st, body = apiCall(t, o, "GET", g.url+"/auth/api/v1/admin/members", nil)
	members := decodeJSON[struct {
		Members []struct {
			Email, Status string
		} `json:"members"`
	}](t, "members", body)
	if st != http.StatusOK || !slices.ContainsFunc(members.Members, func(m struct{ Email, Status string }) bool {
		return m.Email == invitee && m.Status == "active"
	}) {
		t.Errorf("members after accepting: %d %s", st, body)
	}
	// The same address again: a member already.
	if st, body := apiCall(t, o, "POST", g.url+"/auth/api/v1/admin/members", map[string]string{"email": invitee}); st != http.StatusConflict {
		t.Errorf("inviting a member again: %d %s", st, body)
	}

	// The CLI without mail: the printed link works.
	const cliInvitee, cliPW = "carla@example.com", "juniper ferry mosaic four"
	out, err := g.cli("", "user", "invite", "--email", cliInvitee, "--role", "member", "--no-mail")
	if err != nil || !strings.Contains(out, "not mailed") {
		t.Fatalf("user invite --no-mail: %v\n%s", err, out)
	}
	cliLink := regexp.MustCompile(regexp.QuoteMeta(g.url+"/auth/invite") + `\?token=[A-Za-z0-9_-]+`).FindString(out)
	if cliLink == "" {
		t.Fatalf("user invite printed no link under %s:\n%s", g.url+"/auth/invite", out)
	}
	ci := browser(t)
	st, body = apiCall(t, ci, "POST", g.url+"/auth/api/v1/invite/accept", map[string]string{"token": tokenOf(t, cliLink), "name": "Carla", "password": cliPW})
	if st != http.StatusOK || !strings.Contains(body, `"signed_in"`) {
		t.Fatalf("accepting the CLI's invitation: %d %s", st, body)
	}
	mustReach(t, ci, g, up, cliInvitee, "the CLI's invitee after accepting")
	if st, _, _ := get(t, browser(t), cliLink); st != http.StatusNotFound {
		t.Errorf("the CLI's used invitation link: %d, want 404", st)
	}
}
