package notify

import (
	"strings"
	"testing"
)

// TestRenderPermissionReview: both bodies list each member with roles, last sign-in
// and second factor, and link to the review page; what members and administrators
// typed (names, team names) stays inert text on its own line.
func TestRenderPermissionReview(t *testing.T) {
	t.Parallel()
	d := samplePermissionReview
	subject, text, html := mustRender(t, DefaultTemplates(), KindPermissionReview, d)
	if subject != "Permission review for Example Clinic: 4 members" {
		t.Errorf("subject = %q", subject)
	}
	for what, body := range map[string]string{"text": text, "html": html} {
		wantContains(t, what, body, "ada@example.com", "Ada Lovelace", "2 passkeys", "grace@example.com", "admin, manager", "Front desk",
			"authenticator app", "linus@example.com", "disabled", "never", "none", "Sat, 14 Mar 2026 09:26 UTC",
			"https://auth.example.com/auth/admin/team/audit", "1 more", "Fri, 12 Jun 2026 09:26 UTC")
	}
	wantContains(t, "text", text, "  Without a second factor: 2\n")

	d.ReviewURL = ""
	d.More = 0
	d.TenantName = "Acme\r\nBcc: victim@example.com"
	d.Members = []ReviewMember{{Name: "Eve <img src=x onerror=alert(1)>\r\n\r\nUrgent: verify at https://evil.example\u202e",
		Email: `"<script>alert(1)</script>"@evil.example`, Roles: []string{"<b>owner</b>"}, Teams: []string{"</td><script>x</script>"}, Status: "active"}}
	subject, text, html = mustRender(t, DefaultTemplates(), KindPermissionReview, d)
	wantNotContains(t, "subject", subject, "\r", "\n")
	wantNotContains(t, "html", html, "<img", "<script>", "<b>owner</b>", "</td><script>", "\u202e", "href=")
	wantContains(t, "html", html, "&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;owner&lt;/b&gt;", "Permission review")
	wantNotContains(t, "text", text, "\nUrgent", "\nBcc", "\u202e", "more:")
	wantContains(t, "text", text, `open "Permission review" in the administration pages`)
	if strings.Count(text, "* ") != 1 {
		t.Errorf("text lists %d members:\n%s", strings.Count(text, "* "), text)
	}
}
