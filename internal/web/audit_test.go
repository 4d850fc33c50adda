package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// TestSecurityEventsAreAudited walks setup → sign-in failure → sign-in → logout and
// checks each left a record with the request's facts, in one unbroken chain.
func TestSecurityEventsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	tok, err := authn.IssueSetupToken(t.Context(), f.handle, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	c := noRedirect(t)
	resp, err := c.Get(f.srv.URL + "/auth/setup?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("setup page: %d %s", resp.StatusCode, b)
	}
	form := url.Values{"csrf": {m[1]}, "token": {tok}, "email": {"boss@example.com"}, "name": {"Boss"},
		"password": {"violet harbour tandem quartz"}, "confirm": {"violet harbour tandem quartz"}}
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "audit-test/1.0")
	if resp, err = c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %v %v", err, resp.Status)
	}
	if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "boss@example.com", "wrong guess for the boss"); st != 401 {
		t.Fatal(st)
	}
	if st, _ := apiLogin(t, c, f.srv.URL, "boss@example.com", "violet harbour tandem quartz"); st != 200 {
		t.Fatal(st)
	}
	req, _ = http.NewRequest("POST", f.srv.URL+"/auth/api/v1/logout", nil)
	if resp, err = c.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %v %v", err, resp.Status)
	}

	recs, err := f.handle.Audit().ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+"/"+r.Outcome)
		if r.IP != "192.0.2.1" {
			t.Errorf("%s: IP %q", r.Action, r.IP)
		}
	}
	want := []string{
		audit.ActionSetup + "/success", audit.ActionLoginSuccess + "/success", // setup signs the owner in
		audit.ActionLoginFailure + "/failure", audit.ActionLoginSuccess + "/success",
		audit.ActionLogout + "/success", // the API login rotated the setup session; logout ends the new one
	}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions:\n got %v\nwant %v", actions, want)
	}
	if recs[0].ActorEmail != "boss@example.com" || recs[0].UserAgent != "audit-test/1.0" || recs[1].SessionID == "" {
		t.Errorf("record facts: %+v", recs[:2])
	}
	if n, err := audit.Verify(t.Context(), f.handle); err != nil || n != int64(len(want)) {
		t.Fatalf("chain: %d %v", n, err)
	}
}
