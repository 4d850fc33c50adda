package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/account"
)

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	iphoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	pw        = "a perfectly fine passphrase"
)

// signInAs signs c in through the API and fails the test unless it worked.
func signInAs(t *testing.T, f *fixture, c *http.Client, email, password string) {
	t.Helper()
	if st, s := apiLogin(t, c, f.srv.URL, email, password); st != http.StatusOK || s != "signed_in" {
		t.Fatalf("sign-in of %s: %d %s", email, st, s)
	}
}

// mySessions lists c's sessions through the API.
func mySessions(t *testing.T, f *fixture, c *http.Client) []map[string]any {
	t.Helper()
	st, out := getJSON(t, c, f.srv.URL+"/auth/api/v1/sessions")
	raw, ok := out["sessions"].([]any)
	if st != http.StatusOK || !ok {
		t.Fatalf("GET sessions: %d %v", st, out)
	}
	list := make([]map[string]any, len(raw))
	for i, r := range raw {
		list[i] = r.(map[string]any)
	}
	return list
}

// currentSession returns the id of c's own session, from its list.
func currentSession(t *testing.T, f *fixture, c *http.Client) string {
	t.Helper()
	for _, s := range mySessions(t, f, c) {
		if s["current"] == true {
			return s["id"].(string)
		}
	}
	t.Fatal("no current session in the list")
	return ""
}

// TestSessionsListAndSignOutElsewhere: a user signed in on a laptop and a phone sees
// both (device, address, times, methods), exactly one marked current, on the API and
// the page; ending "the others" ends the phone and keeps the laptop; a bare DELETE
// does nothing; another user cannot end a session by its id.
func TestSessionsListAndSignOutElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	ann := f.addUser(t, "ann@example.com", pw)
	f.addUser(t, "bob@example.com", pw)
	before := time.Now().Add(-time.Minute)
	laptop, phone := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9")
	signInAs(t, f, laptop, "ann@example.com", pw)
	signInAs(t, f, phone, "ann@example.com", pw)

	list := mySessions(t, f, laptop)
	if len(list) != 2 {
		t.Fatalf("sessions: %v", list)
	}
	byDevice := map[string]map[string]any{}
	current := 0
	for _, s := range list {
		byDevice[s["device"].(string)] = s
		if s["current"] == true {
			current++
		}
		for _, k := range []string{"created_at", "last_active"} {
			ts, err := time.Parse(time.RFC3339, s[k].(string))
			if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s of %v: %v %v", k, s["device"], s[k], err)
			}
		}
		if m, _ := s["auth_methods"].([]any); len(m) != 1 || m[0] != "pwd" {
			t.Errorf("methods of %v: %v", s["device"], s["auth_methods"])
		}
	}
	ff, ios := byDevice["Firefox on Linux"], byDevice["Safari on iOS"]
	if current != 1 || ff == nil || ios == nil || ff["current"] != true || ios["current"] != false {
		t.Fatalf("devices and current: %v", list)
	}
	if ff["ip"] != "198.51.100.7" || ios["ip"] != "203.0.113.9" {
		t.Fatalf("addresses: %v %v", ff["ip"], ios["ip"])
	}
	laptopID, phoneID := ff["id"].(string), ios["id"].(string)
	if currentSession(t, f, phone) != phoneID {
		t.Fatal("the phone does not see itself as current")
	}

	// The page: both devices, this one marked, a sign-out button for the other only.
	st, body := getPage(t, laptop, f.srv.URL+"/auth/settings/sessions")
	if st != http.StatusOK || !strings.Contains(body, "Firefox on Linux") || !strings.Contains(body, "Safari on iOS") ||
		strings.Count(body, "This device") != 1 || !strings.Contains(body, "198.51.100.7") || !strings.Contains(body, "203.0.113.9") {
		t.Fatalf("sessions page: %d\n%s", st, body)
	}
	if !strings.Contains(body, `name="id" value="`+phoneID+`"`) || strings.Contains(body, `name="id" value="`+laptopID+`"`) ||
		!strings.Contains(body, `action="/auth/settings/sessions/revoke-others"`) {
		t.Fatalf("sessions page forms:\n%s", body)
	}
	for c, device := range map[*http.Client]string{laptop: "Firefox on Linux", phone: "Safari on iOS"} {
		_, body := getPage(t, c, f.srv.URL+"/auth/settings/sessions")
		for _, entry := range strings.Split(body, "<li")[1:] {
			if strings.Contains(entry, "This device") != strings.Contains(entry, device) {
				t.Fatalf("%s: \"This device\" marks the wrong entry: %s", device, entry)
			}
		}
	}

	// Without others=true nothing ends.
	if st, out := sendJSON(t, laptop, "DELETE", f.srv.URL+"/auth/api/v1/sessions", nil); st != http.StatusBadRequest || out["error"] != "others_required" {
		t.Fatalf("DELETE sessions without others: %d %v", st, out)
	}
	if !live(t, phone, f.srv.URL) {
		t.Fatal("a refused DELETE ended the phone's session")
	}

	// Another user cannot end ann's session by its id (it looks like none).
	bob := browser(t, firefoxUA, "192.0.2.50")
	signInAs(t, f, bob, "bob@example.com", pw)
	for _, id := range []string{phoneID, laptopID} {
		if st, _, b := send(t, bob, "DELETE", f.srv.URL+"/auth/api/v1/sessions/"+id, nil, nil); st != http.StatusNotFound || !strings.Contains(string(b), "no_such_session") {
			t.Fatalf("bob ending ann's session: %d %s", st, b)
		}
	}
	if st, _, _ := send(t, bob, "DELETE", f.srv.URL+"/auth/api/v1/sessions/no-such-id", nil, nil); st != http.StatusNotFound {
		t.Fatalf("unknown id: %d", st)
	}
	if !live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) || !live(t, bob, f.srv.URL) {
		t.Fatal("sessions ended by a refused DELETE")
	}

	// Sign out everywhere else.
	st, out := sendJSON(t, laptop, "DELETE", f.srv.URL+"/auth/api/v1/sessions?others=true", nil)
	if st != http.StatusOK || out["revoked"] != float64(1) {
		t.Fatalf("DELETE others: %d %v", st, out)
	}
	if live(t, phone, f.srv.URL) {
		t.Fatal("the phone is still signed in")
	}
	if !live(t, laptop, f.srv.URL) || !live(t, bob, f.srv.URL) {
		t.Fatal("signing out elsewhere ended this session or another user's")
	}
	if list := mySessions(t, f, laptop); len(list) != 1 || list[0]["id"] != laptopID {
		t.Fatalf("after: %v", list)
	}
	if s, err := f.handle.Sessions().SessionByID(t.Context(), phoneID); err != nil || s.RevokedAt.IsZero() {
		t.Fatalf("phone session not revoked in the store: %v %v", s.RevokedAt, err)
	}

	// End one session by id: the phone again.
	signInAs(t, f, phone, "ann@example.com", pw)
	phoneID = currentSession(t, f, phone)
	if st, _, b := send(t, laptop, "DELETE", f.srv.URL+"/auth/api/v1/sessions/"+phoneID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE one: %d %s", st, b)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("ending one session by id")
	}
	if st, _, _ := send(t, laptop, "DELETE", f.srv.URL+"/auth/api/v1/sessions/"+phoneID, nil, nil); st != http.StatusNotFound {
		t.Fatalf("ending an ended session: %d", st)
	}

	// Audited, as ann from the laptop's session.
	others := f.audits(t, account.ActionOtherSessionsRevoked)
	if len(others) != 1 || others[0].ActorID != ann.ID || others[0].SessionID != laptopID || others[0].Details["count"] != "1" ||
		others[0].IP != "198.51.100.7" {
		t.Fatalf("audit of revoke-others: %+v", others)
	}
	one := f.audits(t, account.ActionSessionRevoked)
	if len(one) != 1 || one[0].ActorID != ann.ID || one[0].Details["session"] != phoneID || one[0].Details["current"] != "false" {
		t.Fatalf("audit of revoke: %+v", one)
	}
}

// TestSessionsFormsNeedCSRF: the page's forms end sessions only with the page's CSRF
// token; ending this device's own session signs out.
func TestSessionsFormsNeedCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.addUser(t, "ann@example.com", pw)
	laptop, phone := browser(t, firefoxUA, "198.51.100.7"), browser(t, iphoneUA, "203.0.113.9")
	signInAs(t, f, laptop, "ann@example.com", pw)
	signInAs(t, f, phone, "ann@example.com", pw)
	page, revokeOthers := f.srv.URL+"/auth/settings/sessions", f.srv.URL+"/auth/settings/sessions/revoke-others"
	csrfOf(t, laptop, page) // the laptop has its CSRF cookie

	for name, v := range map[string]url.Values{"no token": {}, "wrong token": {"csrf": {strings.Repeat("x", 43)}}} {
		if st, _, _ := send(t, laptop, "POST", revokeOthers, v, nil); st != http.StatusForbidden {
			t.Fatalf("%s: %d", name, st)
		}
	}
	// A cross-site post with the right token is refused too.
	if st, _, _ := send(t, laptop, "POST", revokeOthers, url.Values{"csrf": {csrfOf(t, laptop, page)}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); st != http.StatusForbidden {
		t.Fatalf("cross-site: %d", st)
	}
	if !live(t, phone, f.srv.URL) {
		t.Fatal("a refused form ended the phone's session")
	}
	if n := len(f.audits(t, account.ActionOtherSessionsRevoked)); n != 0 {
		t.Fatalf("refused forms audited as done: %d", n)
	}

	st, _, body := submit(t, laptop, page, revokeOthers, url.Values{})
	if st != http.StatusOK || !strings.Contains(body, "You are signed out everywhere else.") || strings.Contains(body, "Safari on iOS") {
		t.Fatalf("revoke-others form: %d\n%s", st, body)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("revoke-others form: wrong sessions ended")
	}
	if st, _, body := submit(t, laptop, page, revokeOthers, url.Values{}); st != http.StatusOK || !strings.Contains(body, "There was no other session") {
		t.Fatalf("revoke-others with none left: %d\n%s", st, body)
	}

	// One session by id, then this device's own: that is signing out.
	signInAs(t, f, phone, "ann@example.com", pw)
	phoneID, laptopID := currentSession(t, f, phone), currentSession(t, f, laptop)
	revoke := f.srv.URL + "/auth/settings/sessions/revoke"
	if st, _, _ := send(t, laptop, "POST", revoke, url.Values{"id": {phoneID}}, nil); st != http.StatusForbidden || !live(t, phone, f.srv.URL) {
		t.Fatalf("revoke without a token: %d", st)
	}
	if st, _, body := submit(t, laptop, page, revoke, url.Values{"id": {phoneID}}); st != http.StatusOK || !strings.Contains(body, "That session is signed out.") {
		t.Fatalf("revoke form: %d\n%s", st, body)
	}
	if live(t, phone, f.srv.URL) || !live(t, laptop, f.srv.URL) {
		t.Fatal("revoke form: wrong sessions ended")
	}
	if st, loc, _ := submit(t, laptop, page, revoke, url.Values{"id": {laptopID}}); st != http.StatusSeeOther || loc != "/auth/login?signed_out=1" {
		t.Fatalf("revoking this device: %d %q", st, loc)
	}
	if live(t, laptop, f.srv.URL) {
		t.Fatal("revoking this device left it signed in")
	}
}
