package notify

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var lockedData = AccountLocked{
	TenantName:   "Example Clinic",
	UserEmail:    "ada@example.com",
	LockDuration: 30 * time.Minute,
	LockedAt:     time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
	IP:           "203.0.113.7",
	SignInURL:    "https://auth.example.com/login",
}

var signInData = NewSignIn{
	TenantName:  "Example Clinic",
	UserEmail:   "ada@example.com",
	Anomalies:   []string{AnomalyNewDevice, AnomalyNewCountry, AnomalyImpossibleTravel},
	Device:      "Firefox 131 on Linux",
	IP:          "198.51.100.23",
	Location:    "Lyon, France",
	At:          time.Date(2026, 3, 14, 22, 5, 0, 0, time.UTC),
	SecurityURL: "https://auth.example.com/account/security",
}

var inviteData = Invite{
	TenantName:   "Example Clinic",
	InviterName:  "Ada Lovelace",
	InviterEmail: "ada@example.com",
	InviteeEmail: "grace@example.com",
	Role:         "admin",
	AcceptURL:    "https://auth.example.com/invite/q8Rt2vXz",
	ExpiresAt:    time.Date(2026, 3, 21, 9, 26, 0, 0, time.UTC),
}

var resetData = PasswordReset{
	TenantName:  "Example Clinic",
	UserEmail:   "ada@example.com",
	ResetURL:    "https://auth.example.com/reset/Lm3kP9sW",
	ExpiresAt:   time.Date(2026, 3, 14, 9, 56, 53, 0, time.UTC),
	RequestedIP: "203.0.113.7",
}

var changedData = PasswordChanged{
	TenantName:         "Example Clinic",
	UserEmail:          "ada@example.com",
	ChangedAt:          time.Date(2026, 3, 14, 9, 41, 0, 0, time.UTC),
	IP:                 "198.51.100.23",
	Reset:              true,
	OtherSessionsEnded: true,
	SecurityURL:        "https://auth.example.com/account/security",
}

func mustRender(t *testing.T, tm *Templates, kind string, data any) (subject, text, html string) {
	t.Helper()
	subject, text, html, err := tm.Render(kind, data)
	if err != nil {
		t.Fatalf("Render(%s): %v", kind, err)
	}
	return subject, text, html
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

func wantNotContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s contains %q:\n%s", what, sub, s)
		}
	}
}

func TestEmbeddedTemplatesLoad(t *testing.T) {
	t.Parallel()
	tm, err := loadTemplates(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{KindAccountLocked, KindEmailChangeConfirm, KindEmailChangeRequested, KindFactorRestored, KindInvite, KindNewSignIn, KindPasswordChanged,
		KindPasswordReset, KindPermissionReview, KindRequestReminder}
	if got := Kinds(); !slices.Equal(got, want) {
		t.Fatalf("Kinds() = %v", got)
	}
	if len(tm.Overrides()) != 0 {
		t.Fatalf("embedded templates report overrides %v", tm.Overrides())
	}
}

func TestRenderAccountLocked(t *testing.T) {
	t.Parallel()
	subject, text, html := mustRender(t, DefaultTemplates(), KindAccountLocked, lockedData)
	if subject != "Your Example Clinic account is locked for 30 minutes" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text,
		"Example Clinic", "ada@example.com", "203.0.113.7",
		"Sat, 14 Mar 2026 09:26 UTC", "Sat, 14 Mar 2026 09:56 UTC", "(30 minutes)",
		"\nhttps://auth.example.com/login\n")
	wantContains(t, "html", html,
		"<strong>ada@example.com</strong>", "<td>203.0.113.7</td>",
		`href="https://auth.example.com/login"`, "Sat, 14 Mar 2026 09:56 UTC (30 minutes)")
	// Package-level Render is the embedded set.
	s2, t2, h2, err := Render(KindAccountLocked, lockedData)
	if err != nil || s2 != subject || t2 != text || h2 != html {
		t.Errorf("Render differs from DefaultTemplates().Render (err %v)", err)
	}
}

func TestRenderNewSignIn(t *testing.T) {
	t.Parallel()
	subject, text, html := mustRender(t, DefaultTemplates(), KindNewSignIn, signInData)
	if subject != "New sign-in to your Example Clinic account" {
		t.Errorf("subject = %q", subject)
	}
	labels := []string{anomalyLabel(AnomalyNewDevice), anomalyLabel(AnomalyNewCountry), anomalyLabel(AnomalyImpossibleTravel)}
	wantContains(t, "text", text,
		"  - "+labels[0]+"\n", "  - "+labels[2]+"\n", "Firefox 131 on Linux", "198.51.100.23",
		"approximately Lyon, France", "Sat, 14 Mar 2026 22:05 UTC", "\nhttps://auth.example.com/account/security\n")
	for _, l := range labels {
		wantContains(t, "html", html, "<li>"+l+"</li>")
	}
	wantContains(t, "html", html, "Firefox 131 on Linux", "approximately Lyon, France",
		`href="https://auth.example.com/account/security"`)

	// No GeoIP (or the user objected to profiling): no location, and an unknown code
	// still shows.
	d := signInData
	d.Location, d.Device = "", ""
	d.Anomalies = []string{"odd_hours"}
	_, text, html = mustRender(t, DefaultTemplates(), KindNewSignIn, d)
	wantContains(t, "text", text, "Location: unknown", "Device:   unknown", "  - odd_hours\n")
	wantContains(t, "html", html, "<li>odd_hours</li>")
}

func TestRenderInvite(t *testing.T) {
	t.Parallel()
	subject, text, html := mustRender(t, DefaultTemplates(), KindInvite, inviteData)
	if subject != "You are invited to join Example Clinic" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text,
		"Ada Lovelace (ada@example.com) invited you to join Example Clinic.",
		"  Your account: grace@example.com\n", "  Role:         admin\n",
		"The link works once, until Sat, 21 Mar 2026 09:26 UTC:\nhttps://auth.example.com/invite/q8Rt2vXz\n",
		"If you did not expect this invitation, you can ignore this message")
	wantContains(t, "html", html,
		"<strong>Ada Lovelace</strong> (ada@example.com) invited you", "<td>grace@example.com</td>", "<td>admin</td>",
		`href="https://auth.example.com/invite/q8Rt2vXz"`, "until Sat, 21 Mar 2026 09:26 UTC.")

	// From the command line: no inviter, and no role row when there is no role.
	d := inviteData
	d.InviterName, d.Role = "", ""
	_, text, html = mustRender(t, DefaultTemplates(), KindInvite, d)
	wantContains(t, "text", text, "\nada@example.com invited you to join Example Clinic.")
	wantContains(t, "html", html, "<strong>ada@example.com</strong> invited you")
	wantNotContains(t, "text", text, "Role:", "()")
	wantNotContains(t, "html", html, ">Role<")
	d.InviterEmail = ""
	_, text, html = mustRender(t, DefaultTemplates(), KindInvite, d)
	wantContains(t, "text", text, "\nYou are invited to join Example Clinic.")
	wantContains(t, "html", html, "<p>You are invited to join Example Clinic.</p>")
}

func TestRenderPasswordReset(t *testing.T) {
	t.Parallel()
	subject, text, html := mustRender(t, DefaultTemplates(), KindPasswordReset, resetData)
	if subject != "Password reset for your Example Clinic account" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text,
		"Someone, probably you, asked to reset the password of your Example Clinic account (ada@example.com).",
		"  Requested from IP address: 203.0.113.7\n", "  Link valid until: Sat, 14 Mar 2026 09:56 UTC\n",
		"It works once and for 30 minutes, until Sat, 14 Mar 2026 09:56 UTC:\nhttps://auth.example.com/reset/Lm3kP9sW\n",
		"signs you out everywhere", "If you did not ask for this, ignore this message: your password stays as it is")
	wantContains(t, "html", html,
		"<strong>ada@example.com</strong>", "<td>203.0.113.7</td>", "<td>Sat, 14 Mar 2026 09:56 UTC</td>",
		`href="https://auth.example.com/reset/Lm3kP9sW"`, "signs you out everywhere", "your password stays as it is")

	// Asked for by an administrator: said so, and the administrator's address is not
	// shown to the member.
	d := resetData
	d.ByAdmin = true
	_, text, html = mustRender(t, DefaultTemplates(), KindPasswordReset, d)
	wantContains(t, "text", text, "An administrator of Example Clinic asked for a new password",
		"\n\n  Link valid until: Sat, 14 Mar 2026 09:56 UTC\n", "your password stays as it is")
	wantContains(t, "html", html, "An administrator of Example Clinic asked for a new password", "your password stays as it is")
	wantNotContains(t, "text", text, "203.0.113.7", "Requested from", "probably you")
	wantNotContains(t, "html", html, "203.0.113.7", "Requested from", "probably you")

	d = resetData
	d.RequestedIP = ""
	_, text, html = mustRender(t, DefaultTemplates(), KindPasswordReset, d)
	wantContains(t, "text", text, "  Requested from IP address: unknown\n")
	wantContains(t, "html", html, "<td>unknown</td>")
}

func TestRenderPasswordChanged(t *testing.T) {
	t.Parallel()
	subject, text, html := mustRender(t, DefaultTemplates(), KindPasswordChanged, changedData)
	if subject != "Your Example Clinic password was reset" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text,
		"(ada@example.com) was reset with a password-reset link.", "  When: Sat, 14 Mar 2026 09:41 UTC\n",
		"  IP:   198.51.100.23\n", "All your other sessions were signed out",
		"Reset your password at once and tell an administrator of Example Clinic",
		"add a second factor:\nhttps://auth.example.com/account/security\n")
	wantContains(t, "html", html,
		"<strong>ada@example.com</strong>", "<td>Sat, 14 Mar 2026 09:41 UTC</td>", "<td>198.51.100.23</td>",
		"All your other sessions were signed out", "Reset your password at once",
		`href="https://auth.example.com/account/security"`)

	// Changed in the settings, other sessions kept, address unknown.
	d := changedData
	d.Reset, d.OtherSessionsEnded, d.IP = false, false, ""
	subject, text, html = mustRender(t, DefaultTemplates(), KindPasswordChanged, d)
	if subject != "Your Example Clinic password was changed" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text, "(ada@example.com) was changed.", "Your other sessions were not signed out", "  IP:   unknown\n")
	wantContains(t, "html", html, "was changed.</p>", "Your other sessions were not signed out", "<td>unknown</td>")
	wantNotContains(t, "text", text, "reset with", "All your other sessions")
	wantNotContains(t, "html", html, "reset with", "All your other sessions")
}

// TestRenderEssentialFacts: whatever the wording, each kind's text and HTML bodies
// both carry what the reader needs to act: the link, the deadline or time, the
// address.
func TestRenderEssentialFacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind  string
		data  any
		facts []string
	}{
		{KindInvite, inviteData, []string{"https://auth.example.com/invite/q8Rt2vXz", "Sat, 21 Mar 2026 09:26 UTC", "grace@example.com", "admin", "Example Clinic"}},
		{KindPasswordReset, resetData, []string{"https://auth.example.com/reset/Lm3kP9sW", "Sat, 14 Mar 2026 09:56 UTC", "203.0.113.7", "ada@example.com", "30 minutes"}},
		{KindPasswordChanged, changedData, []string{"https://auth.example.com/account/security", "Sat, 14 Mar 2026 09:41 UTC", "198.51.100.23", "ada@example.com"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			_, text, html := mustRender(t, DefaultTemplates(), tc.kind, tc.data)
			wantContains(t, "text", text, tc.facts...)
			wantContains(t, "html", html, tc.facts...)
		})
	}
}

// TestRenderNoTracking: no message loads anything when it is opened (no images,
// styles or scripts from elsewhere); the only addresses are the data's links.
func TestRenderNoTracking(t *testing.T) {
	t.Parallel()
	for _, kind := range Kinds() {
		_, _, html := mustRender(t, DefaultTemplates(), kind, kinds[kind].sample)
		wantNotContains(t, kind+" html", html, "<img", "<link", "<script", "src=", "url(", "@import")
	}
}

// TestRenderEscapesHostileValues feeds values an attacker controls (the e-mail typed
// at sign-up, the User-Agent, a GeoIP city name) and a tenant link an operator got
// wrong: HTML stays inert, the text body keeps its lines, the subject its header.
func TestRenderEscapesHostileValues(t *testing.T) {
	t.Parallel()
	locked := lockedData
	locked.UserEmail = `"<script>alert(1)</script>"@evil.example`
	locked.TenantName = "Acme\r\nBcc: victim@example.com"
	locked.SignInURL = "javascript:alert(document.cookie)"
	subject, text, html := mustRender(t, DefaultTemplates(), KindAccountLocked, locked)
	wantNotContains(t, "html", html, "<script>", "javascript:")
	wantContains(t, "html", html, "&lt;script&gt;alert(1)&lt;/script&gt;", `href="#ZgotmplZ"`)
	wantNotContains(t, "subject", subject, "\r", "\n")
	if subject != "Your Acme Bcc: victim@example.com account is locked for 30 minutes" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text, `("<script>alert(1)</script>"@evil.example)`)

	signIn := signInData
	signIn.UserEmail = `x@evil.example<img src=x onerror=alert(1)>`
	signIn.Device = "Mozilla/5.0 <img src=x onerror=alert(1)>\r\n\r\nUrgent: verify at https://evil.example\u202e"
	signIn.Location = `</td><script>alert("geo")</script>`
	signIn.Anomalies = []string{"<b>x</b>"}
	_, text, html = mustRender(t, DefaultTemplates(), KindNewSignIn, signIn)
	wantNotContains(t, "html", html, "<img", "<script>", "</td><script>", "<b>x</b>", "\u202e")
	wantContains(t, "html", html, "&lt;img src=x onerror=alert(1)&gt;", "&lt;/td&gt;&lt;script&gt;", "&lt;b&gt;x&lt;/b&gt;")
	// A newline in the User-Agent cannot start a paragraph of its own in the text.
	wantContains(t, "text", text,
		"  Device:   Mozilla/5.0 <img src=x onerror=alert(1)> Urgent: verify at https://evil.example\n")
	wantNotContains(t, "text", text, "\nUrgent", "\u202e")

	// An invitation carries what a tenant administrator typed: the tenant's and the
	// inviter's names, the role. Anyone who can invite can aim it at any address.
	invite := inviteData
	invite.TenantName = "Acme\r\nBcc: victim@example.com"
	invite.InviterName = "IT desk <img src=x onerror=alert(1)>\r\n\r\nUrgent: verify at https://evil.example\u202e"
	invite.InviterEmail = `"<script>alert(1)</script>"@evil.example`
	invite.Role = "<b>owner</b>"
	invite.AcceptURL = "javascript:alert(document.cookie)"
	subject, text, html = mustRender(t, DefaultTemplates(), KindInvite, invite)
	wantNotContains(t, "html", html, "<img", "<script>", "<b>owner</b>", "javascript:", "\u202e")
	wantContains(t, "html", html, "&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;b&gt;owner&lt;/b&gt;", `href="#ZgotmplZ"`)
	wantNotContains(t, "subject", subject, "\r", "\n")
	if subject != "You are invited to join Acme Bcc: victim@example.com" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text,
		"\nIT desk <img src=x onerror=alert(1)> Urgent: verify at https://evil.example (\"<script>alert(1)</script>\"@evil.example) invited you to join Acme Bcc: victim@example.com.\n")
	wantNotContains(t, "text", text, "\nUrgent", "\nBcc", "\u202e")

	reset := resetData
	reset.UserEmail = `"<script>alert(1)</script>"@evil.example`
	reset.TenantName = "Acme\r\nBcc: victim@example.com"
	reset.RequestedIP = "203.0.113.7\r\n\r\nUrgent: <b>call</b>"
	reset.ResetURL = "javascript:alert(document.cookie)"
	subject, text, html = mustRender(t, DefaultTemplates(), KindPasswordReset, reset)
	wantNotContains(t, "html", html, "<script>", "<b>call</b>", "javascript:")
	wantContains(t, "html", html, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;call&lt;/b&gt;", `href="#ZgotmplZ"`)
	if subject != "Password reset for your Acme Bcc: victim@example.com account" {
		t.Errorf("subject = %q", subject)
	}
	wantContains(t, "text", text, "  Requested from IP address: 203.0.113.7 Urgent: <b>call</b>\n")
	wantNotContains(t, "text", text, "\nUrgent", "\nBcc")

	changed := changedData
	changed.UserEmail = `x@evil.example<img src=x onerror=alert(1)>`
	changed.TenantName = "Acme\r\nBcc: victim@example.com"
	changed.IP = "<script>alert(\"ip\")</script>\u202e"
	changed.SecurityURL = "javascript:alert(document.cookie)"
	subject, text, html = mustRender(t, DefaultTemplates(), KindPasswordChanged, changed)
	wantNotContains(t, "html", html, "<img", "<script>", "javascript:", "\u202e")
	wantContains(t, "html", html, "&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;", `href="#ZgotmplZ"`)
	if subject != "Your Acme Bcc: victim@example.com password was reset" {
		t.Errorf("subject = %q", subject)
	}
	wantNotContains(t, "text", text, "\nBcc", "\u202e")
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	if _, _, _, err := Render("email_verification", lockedData); err == nil || !strings.Contains(err.Error(), `unknown message kind "email_verification"`) {
		t.Errorf("unknown kind: err = %v", err)
	}
	// The data of another kind lacks fields: an error, not a mail with holes.
	if _, _, _, err := Render(KindAccountLocked, signInData); err == nil {
		t.Error("rendering account_locked with NewSignIn data succeeded")
	}
	if _, _, _, err := Render(KindNewSignIn, map[string]any{"TenantName": "x"}); err == nil {
		t.Error("rendering with a map missing keys succeeded")
	}
	// No kind renders with the data of any other kind.
	for _, kind := range Kinds() {
		for _, other := range Kinds() {
			if other == kind {
				continue
			}
			if _, _, _, err := Render(kind, kinds[other].sample); err == nil {
				t.Errorf("rendering %s with the sample data of %s succeeded", kind, other)
			}
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadTemplatesOverride(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"account_locked.subject.tmpl": "[{{.TenantName}}] Konto gesperrt ({{duration .LockDuration}})",
		"account_locked.html.tmpl":    `<p>Gesperrt: {{.UserEmail}} <a href="{{.SignInURL}}">Anmelden</a></p>`,
		"README.md":                   "not a template: ignored",
	})
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tm.Overrides(); !slices.Equal(got, []string{"account_locked.subject.tmpl", "account_locked.html.tmpl"}) {
		t.Errorf("Overrides() = %v", got)
	}
	d := lockedData
	d.UserEmail = "<b>@x"
	subject, text, html := mustRender(t, tm, KindAccountLocked, d)
	if subject != "[Example Clinic] Konto gesperrt (30 minutes)" {
		t.Errorf("overridden subject = %q", subject)
	}
	_, wantText, _ := mustRender(t, DefaultTemplates(), KindAccountLocked, d)
	if text != wantText {
		t.Error("the text template was not overridden but differs from the embedded one")
	}
	// An override of the HTML file is html/template too: escaping still applies.
	if html != `<p>Gesperrt: &lt;b&gt;@x <a href="https://auth.example.com/login">Anmelden</a></p>` {
		t.Errorf("overridden html = %q", html)
	}
	// Other kinds keep the embedded templates.
	for _, kind := range Kinds() {
		if kind == KindAccountLocked {
			continue
		}
		s1, t1, h1 := mustRender(t, tm, kind, kinds[kind].sample)
		s2, t2, h2 := mustRender(t, DefaultTemplates(), kind, kinds[kind].sample)
		if s1 != s2 || t1 != t2 || h1 != h2 {
			t.Errorf("%s changed by an account_locked override: %q", kind, s1)
		}
	}
}

// TestLoadTemplatesReportsEveryProblem: a broken override fails at load, with every
// problem named, instead of when the first alert is due.
func TestLoadTemplatesReportsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"account_locked.text.tmpl":    "Hello {{.Usr}}",     // no such field
		"new_sign_in.html.tmpl":       "<p>{{.IP</p>",       // does not parse
		"account-locked.subject.tmpl": "misspelt file name", // would be ignored in silence
		"new_sign_in.subject.tmpl":    "   ",                // empty subject
		"password_reset.text.tmpl":    "{{.ResetUrl}}",      // misspelt field
		"invite.html.tmpl":            "{{.UserEmail}}",     // a field of another kind
	})
	_, err := LoadTemplates(dir)
	if err == nil {
		t.Fatal("LoadTemplates accepted broken overrides")
	}
	wantContains(t, "error", err.Error(),
		"account_locked.text.tmpl", "Usr",
		"new_sign_in.html.tmpl",
		"account-locked.subject.tmpl is not a mail template",
		"new_sign_in.subject.tmpl: empty subject",
		"password_reset.text.tmpl", "ResetUrl",
		"invite.html.tmpl", "UserEmail",
		dir)
}

// TestEmbeddedTemplatesMatchKinds: every kind has its three embedded files and every
// embedded file belongs to a kind (a file with no kind would never be used).
func TestEmbeddedTemplatesMatchKinds(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(embedded, "templates/*")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, kind := range Kinds() {
		want = append(want, "templates/"+kind+htmlSuffix, "templates/"+kind+subjectSuffix, "templates/"+kind+textSuffix)
	}
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("embedded templates = %v, want %v", names, want)
	}
}

func TestLoadTemplatesDir(t *testing.T) {
	t.Parallel()
	tm, err := LoadTemplates("")
	if err != nil || tm != DefaultTemplates() {
		t.Fatalf(`LoadTemplates("") = %p, %v; want the defaults`, tm, err)
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing directory was accepted")
	}
	file := filepath.Join(writeFiles(t, map[string]string{"f": "x"}), "f")
	if _, err := LoadTemplates(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as directory: err = %v", err)
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{2 * time.Hour, "2 hours"},
		{24 * time.Hour, "24 hours"},
		{36 * time.Hour, "36 hours"},
		{48 * time.Hour, "2 days"},
		{45 * time.Second, "45 seconds"},
		{15*time.Minute + 29*time.Second, "15 minutes"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Firefox on Linux", "Firefox on Linux"},
		{"a\r\nb\tc\x00d", "a b c d"},
		{"  padded  ", "padded"},
		{"abc\u202edcba\u2066x", "abcdcbax"},
		{strings.Repeat("é", 300), strings.Repeat("é", maxFieldRunes) + "…"},
	} {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
