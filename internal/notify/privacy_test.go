package notify

import (
	"strings"
	"testing"
	"time"
)

// TestRequestReminderNamesWhatAndWhen: the reminder an admin gets says which kind of
// request, whose, by when, how many days are left, and links the Requests page; a
// member's name cannot add lines (a forged instruction) to it.
func TestRequestReminderNamesWhatAndWhen(t *testing.T) {
	t.Parallel()
	d := sampleRequestReminder
	d.MemberName = "Linus\n\nURGENT: wire money to evil.example"
	d.DaysLeft, d.Deadline = 2, time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	subject, text, html, err := Render(KindRequestReminder, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(subject, "2 days left") || !strings.Contains(subject, "erasure") {
		t.Errorf("subject %q", subject)
	}
	for _, body := range []string{text, html} {
		for _, want := range []string{"erasure", "linus@example.com", "2026", d.RequestsURL} {
			if !strings.Contains(body, want) {
				t.Errorf("the reminder does not name %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "\nURGENT") {
			t.Errorf("the member's name broke the line:\n%s", body)
		}
	}
	d.DaysLeft, d.RequestsURL, d.MemberEmail, d.MemberName = 0, "", "", ""
	subject, text, _, err = Render(KindRequestReminder, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(subject, "Overdue") || !strings.Contains(text, `"Requests" page`) || !strings.Contains(text, "no longer in the workspace") {
		t.Errorf("an overdue reminder without a link:\n%s\n%s", subject, text)
	}
}

// TestEmailChangeMails: the confirmation goes with its link; the notice to the old
// address names the new one and how to stop it, and carries no confirmation link.
func TestEmailChangeMails(t *testing.T) {
	t.Parallel()
	_, text, html, err := Render(KindEmailChangeConfirm, sampleEmailChangeConfirm)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{text, html} {
		if !strings.Contains(body, sampleEmailChangeConfirm.ConfirmURL) || !strings.Contains(body, "ada.lovelace@example.org") {
			t.Errorf("the confirmation mail:\n%s", body)
		}
	}
	_, text, html, err = Render(KindEmailChangeRequested, sampleEmailChangeRequested)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{text, html} {
		if !strings.Contains(body, "ada.lovelace@example.org") || !strings.Contains(body, "change your password now") || strings.Contains(body, "token=") {
			t.Errorf("the notice to the old address:\n%s", body)
		}
	}
}
