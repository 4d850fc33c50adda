package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// TestEmailChangeThroughThePortal: the API answers a taken and a free address alike;
// the mailed link's page (GET) changes nothing and, for a taken address, says so and
// offers no confirmation; its form (POST, with the CSRF token) changes the address,
// once.
func TestEmailChangeThroughThePortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	mb := f.withMail()
	member := f.addUser(t, "member@example.com", pw)
	f.addUser(t, "bob@example.com", pw)
	mc := noRedirect(t)
	signInAs(t, f, mc, "member@example.com", pw)
	ask := func(email string) map[string]any {
		t.Helper()
		st, out := sendJSON(t, mc, "PUT", f.srv.URL+"/auth/api/v1/me/email", map[string]string{"email": email})
		if st != http.StatusAccepted || out["status"] != "confirmation_sent" || out["email"] != email {
			t.Fatalf("asking for %s: %d %v", email, st, out)
		}
		return out
	}
	link := func(to string) string {
		t.Helper()
		return mb.wait(t, notify.KindEmailChangeConfirm, to, 1).Data.(notify.EmailChangeConfirm).ConfirmURL
	}
	if st, out := sendJSON(t, mc, "PUT", f.srv.URL+"/auth/api/v1/me/email", map[string]string{"email": "nonsense"}); st != http.StatusBadRequest || out["error"] != "invalid_email" {
		t.Fatalf("a non-address: %d %v", st, out)
	}

	taken := ask("bob@example.com")
	anon := noRedirect(t)
	st, body := getPage(t, anon, link("bob@example.com"))
	if st != http.StatusConflict || !strings.Contains(body, "already uses") || strings.Contains(body, `action="/auth/settings/email/confirm"`) {
		t.Fatalf("the link to a taken address: %d\n%s", st, body)
	}

	free := ask("new@example.com")
	if strings.ReplaceAll(taken["message"].(string), "bob@", "X@") != strings.ReplaceAll(free["message"].(string), "new@", "X@") || len(taken) != len(free) {
		t.Errorf("the answers differ beyond the address:\n%v\n%v", taken, free)
	}
	if n := mb.of(notify.KindEmailChangeRequested, "member@example.com"); len(n) != 2 {
		t.Errorf("notices to the old address: %d, want 2", len(n))
	}
	confirm := link("new@example.com")
	st, body = getPage(t, anon, confirm)
	if st != http.StatusOK || !strings.Contains(body, "new@example.com") || !strings.Contains(body, `action="/auth/settings/email/confirm"`) {
		t.Fatalf("the confirmation page: %d\n%s", st, body)
	}
	if u, _ := f.ws.Users().UserByID(t.Context(), member.ID); u.Email != "member@example.com" {
		t.Fatalf("opening the link changed the address to %s", u.Email)
	}
	u, err := url.Parse(confirm)
	if err != nil {
		t.Fatal(err)
	}
	base := u.Scheme + "://" + u.Host // the portal's public address, as the mail has it
	st, _, body = submit(t, anon, confirm, base+"/auth/settings/email/confirm", url.Values{"token": {u.Query().Get("token")}})
	if st != http.StatusOK || !strings.Contains(body, "is now new@example.com") {
		t.Fatalf("confirming: %d\n%s", st, body)
	}
	if got, _ := f.ws.Users().UserByID(t.Context(), member.ID); got.Email != "new@example.com" {
		t.Fatalf("after confirming: %s", got.Email)
	}
	if st, _ := getPage(t, anon, confirm); st != http.StatusNotFound {
		t.Fatalf("the spent link: %d", st)
	}
	if st, out := postJSON(t, anon, base+"/auth/api/v1/me/email/confirm", map[string]string{"token": u.Query().Get("token")}); st != http.StatusNotFound || out["error"] != "link_no_longer_valid" {
		t.Fatalf("the spent link through the API: %d %v", st, out)
	}
}
