package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/risk/risktest"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// loginFrom signs in through the API as a browser at ip (nil client: a new browser).
func loginFrom(t *testing.T, f *fixture, c *http.Client, ip, email, pw string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/login", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Client-IP", ip)
	req.Header.Set("User-Agent", chromeUA)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in from %s: %d", ip, resp.StatusCode)
	}
}

// TestSignInAnomalies: London then Milton (WA) within an hour is impossible travel; London
// then Boxford is nothing; an unknown IP raises no alarm; a new browser is a new device.
// Each anomaly is audited and e-mailed through the outbox.
func TestSignInAnomalies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.signIn.Locations = risk.OpenGeoIP(risktest.WriteCityDB(t), zap.NewNop())
	outbox := notify.NewMemoryOutbox(100)
	f.signIn.Mail = notify.NewNotifier(notify.DefaultTemplates(), outbox, clk, func() {})
	const pw = "a perfectly fine passphrase"
	f.addUser(t, "traveller@example.com", pw)

	anomalies := func() []string {
		recs, _ := f.handle.Audit().ListAudit(t.Context(), 0, 1000)
		var out []string
		for _, r := range recs {
			if r.Action == audit.ActionLoginAnomaly {
				out = append(out, r.Details["kinds"])
			}
		}
		return out
	}
	home := noRedirect(t) // one browser throughout: its device cookie is known after the first sign-in
	loginFrom(t, f, home, risktest.IPLondon, "traveller@example.com", pw)
	if got := anomalies(); len(got) != 0 {
		t.Fatalf("first sign-in raised %v", got)
	}
	clk.Advance(30 * time.Minute)
	loginFrom(t, f, home, risktest.IPBoxford, "traveller@example.com", pw)
	if got := anomalies(); len(got) != 0 {
		t.Fatalf("London then Boxford raised %v", got)
	}
	clk.Advance(10 * time.Minute)
	loginFrom(t, f, home, risktest.IPUnknown, "traveller@example.com", pw)
	if got := anomalies(); len(got) != 0 {
		t.Fatalf("unknown IP raised %v", got)
	}
	clk.Advance(20 * time.Minute)
	loginFrom(t, f, home, risktest.IPMilton, "traveller@example.com", pw)
	if got := anomalies(); len(got) != 1 || got[0] != "new_country,impossible_travel" {
		t.Fatalf("Boxford then Milton within the hour: %v", got)
	}
	// Another browser: a new device.
	clk.Advance(24 * time.Hour)
	loginFrom(t, f, noRedirect(t), risktest.IPMilton, "traveller@example.com", pw)
	if got := anomalies(); len(got) != 2 || got[1] != "new_device" {
		t.Fatalf("new browser: %v", got)
	}
	// Both alerts went to the user through the outbox.
	msgs := outbox.Pending()
	if len(msgs) != 2 || msgs[0].To != "traveller@example.com" || !strings.Contains(msgs[0].Text, "Milton") {
		t.Fatalf("alert mails: %+v", msgs)
	}
}

// TestBrokenGeoIPNeverBlocksSignIn: a corrupt database file means device-only checks.
func TestBrokenGeoIPNeverBlocksSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	path := t.TempDir() + "/broken.mmdb"
	if err := writeFile(path, []byte("this is not a maxmind database")); err != nil {
		t.Fatal(err)
	}
	f.signIn.Locations = risk.OpenGeoIP(path, zap.NewNop())
	f.addUser(t, "geo@example.com", "a perfectly fine passphrase")
	loginFrom(t, f, noRedirect(t), risktest.IPLondon, "geo@example.com", "a perfectly fine passphrase")
}

// TestObjectionToLocationProfiling: a user who objects is not geolocated: no location is
// kept and no location alarm can fire.
func TestObjectionToLocationProfiling(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.signIn.Locations = risk.OpenGeoIP(risktest.WriteCityDB(t), zap.NewNop())
	const pw = "a perfectly fine passphrase"
	u := f.addUser(t, "private@example.com", pw)
	c := noRedirect(t)
	loginFrom(t, f, c, risktest.IPLondon, "private@example.com", pw)
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/me/privacy", map[string]bool{"location_profiling": false}); st != 200 || out["location_profiling"] != false {
		t.Fatalf("objecting: %d %v", st, out)
	}
	clk.Advance(30 * time.Minute)
	loginFrom(t, f, c, risktest.IPMilton, "private@example.com", pw)
	last, err := f.handle.LoginHistory().LastLoginEvent(t.Context(), u.ID)
	if err != nil || last.HasLocation || last.Country != "" {
		t.Fatalf("location kept despite the objection: %+v %v", last, err)
	}
	recs, _ := f.handle.Audit().ListAudit(t.Context(), 0, 1000)
	for _, r := range recs {
		if r.Action == audit.ActionLoginAnomaly {
			t.Fatalf("anomaly despite the objection: %v", r.Details)
		}
	}
	var objected bool
	for _, r := range recs {
		objected = objected || (r.Action == audit.ActionPrivacyObjection && r.Details["objects"] == "true")
	}
	if !objected {
		t.Fatal("objection not audited")
	}
}

// TestAnomalyActions: "block" refuses an unusual sign-in (audited, mailed, no session);
// "second_factor" refuses it only to users without a second factor.
func TestAnomalyActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	f.signIn.Locations = risk.OpenGeoIP(risktest.WriteCityDB(t), zap.NewNop())
	outbox := notify.NewMemoryOutbox(100)
	f.signIn.Mail = notify.NewNotifier(notify.DefaultTemplates(), outbox, clk, func() {})
	const pw = "a perfectly fine passphrase"
	f.addUser(t, "plain@example.com", pw)
	home := noRedirect(t)
	loginFrom(t, f, home, risktest.IPLondon, "plain@example.com", pw)

	setAction := func(a string) {
		s, _ := f.handle.Settings().SecuritySettings(t.Context())
		s.AnomalyAction, s.UpdatedAt = a, clk.Now()
		if err := f.handle.Settings().PutSecuritySettings(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	try := func(c *http.Client, ip string) (int, string) {
		b, _ := json.Marshal(map[string]string{"email": "plain@example.com", "password": pw})
		req, _ := http.NewRequest("POST", f.srv.URL+"/auth/api/v1/login", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Client-IP", ip)
		req.Header.Set("User-Agent", chromeUA) // the same browser as loginFrom's
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out["error"] + out["status"]
	}
	clk.Advance(20 * time.Minute)
	setAction("block")
	if st, msg := try(home, risktest.IPMilton); st != http.StatusForbidden || msg != "sign_in_blocked" {
		t.Fatalf("blocked impossible travel: %d %s", st, msg)
	}
	if len(outbox.Pending()) != 1 {
		t.Fatalf("the refused sign-in was not mailed: %d messages", len(outbox.Pending()))
	}
	// The usual place and device still work under "block".
	if st, _ := try(home, risktest.IPBoxford); st != http.StatusOK {
		t.Fatalf("usual sign-in under block: %d", st)
	}
	// "second_factor": a user without one is refused from a new device...
	setAction("second_factor")
	if st, msg := try(noRedirect(t), risktest.IPBoxford); st != http.StatusForbidden || msg != "sign_in_blocked" {
		t.Fatalf("new device without a second factor: %d %s", st, msg)
	}
	// ...and a user with one is asked for it as usual.
	setAction("alert") // enrolTOTP signs in from a browser of its own
	enrolTOTP(t, f, clk, "plain@example.com", pw)
	setAction("second_factor")
	if st, msg := try(noRedirect(t), risktest.IPBoxford); st != http.StatusOK || msg != "second_factor" {
		t.Fatalf("new device with a second factor: %d %s", st, msg)
	}
	recs, _ := f.handle.Audit().ListAudit(t.Context(), 0, 1000)
	denied := 0
	for _, r := range recs {
		if r.Action == audit.ActionLoginAnomaly && r.Outcome == audit.Denied {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("%d refused anomalies audited, want 2", denied)
	}
}
