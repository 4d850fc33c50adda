package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRequire2FAGracePeriodThenEnrolOnly: an owner requires 2FA; a member without a
// factor is reminded during the grace period, and after it can only enrol — which then
// completes the sign-in.
func TestRequire2FAGracePeriodThenEnrolOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	const pw = "a perfectly fine passphrase"
	f.addUserRole(t, "owner@example.com", pw, identity.RoleOwner)
	member := f.addUserRole(t, "member@example.com", pw, identity.RoleMember)

	// A member may not change the policy; the owner may.
	mc := noRedirect(t)
	apiLogin(t, mc, f.srv.URL, "member@example.com", pw)
	if st, _ := postJSON(t, mc, f.srv.URL+"/auth/api/v1/admin/security", map[string]any{"require_2fa": true}); st != http.StatusForbidden {
		t.Fatalf("member changing policy: %d", st)
	}
	oc := noRedirect(t)
	apiLogin(t, oc, f.srv.URL, "owner@example.com", pw)
	st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/security", map[string]any{"require_2fa": true, "grace_period_days": 7})
	if st != 200 || out["require_2fa"] != true || out["grace_period_days"] != float64(7) {
		t.Fatalf("owner enabling 2FA: %d %v", st, out)
	}

	// Day 6: signed in, with the deadline.
	clk.Advance(6 * 24 * time.Hour)
	c := noRedirect(t)
	st, out = postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "member@example.com", "password": pw})
	deadline, _ := out["second_factor_required_by"].(string)
	if st != 200 || out["status"] != "signed_in" || deadline == "" {
		t.Fatalf("in grace: %d %v", st, out)
	}
	// Day 8: only enrolment.
	clk.Advance(2 * 24 * time.Hour)
	c = noRedirect(t)
	st, out = postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "member@example.com", "password": pw})
	if st != 200 || out["status"] != "enrolment_required" {
		t.Fatalf("after grace: %d %v", st, out)
	}
	if getStatus(t, c, f.srv.URL+"/auth/api/v1/me") != http.StatusUnauthorized {
		t.Fatal("enrol-only session reads /me")
	}
	if st := getStatus(t, c, f.srv.URL+"/auth/settings/security"); st != http.StatusSeeOther {
		t.Fatalf("enrol-only session opens the settings page: %d", st)
	}
	// Enrolling an authenticator app completes the sign-in.
	st, out = postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", map[string]string{})
	secret, _ := out["secret"].(string)
	if st != 200 || secret == "" {
		t.Fatalf("enrol-only TOTP enrolment: %d %v", st, out)
	}
	code, _ := otptotp.GenerateCode(secret, clk.Now())
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/confirm", map[string]string{"code": code}); st != 200 {
		t.Fatalf("confirm: %d %v", st, out)
	}
	if getStatus(t, c, f.srv.URL+"/auth/api/v1/me") != http.StatusOK {
		t.Fatal("not signed in after enrolling")
	}

	// The owner resets the member's factors (audited); the member is back to enrol-only.
	// Eight days after signing in, the owner must confirm their password first.
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/users/"+member.ID+"/reset-2fa", map[string]string{}); st != http.StatusUnauthorized || out["error"] != "reauthentication_required" {
		t.Fatalf("reset on a stale session: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/reauth", map[string]string{"password": pw}); st != 200 {
		t.Fatalf("reauth: %d %v", st, out)
	}
	st, _ = postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/users/"+member.ID+"/reset-2fa", map[string]string{})
	if st != 200 {
		t.Fatalf("reset: %d", st)
	}
	if fs, _ := f.mfa.Factors(t.Context(), f.handle, member.ID); fs.Any() || fs.RecoveryCodes != 0 {
		t.Fatalf("factors after reset: %+v", fs)
	}
	recs, _ := f.handle.Audit().ListAudit(t.Context(), 0, 1000)
	var seen []string
	for _, r := range recs {
		if r.Action == audit.ActionFactorsReset || r.Action == audit.ActionSecuritySettings {
			seen = append(seen, r.Action+":"+r.Target)
		}
	}
	if strings.Join(seen, " ") != audit.ActionSecuritySettings+":user:"+recs[0].ActorID+" "+audit.ActionFactorsReset+":user:"+member.ID &&
		!strings.Contains(strings.Join(seen, " "), audit.ActionFactorsReset+":user:"+member.ID) {
		t.Fatalf("audit: %v", seen)
	}
	// An admin may not reset an owner.
	f.addUserRole(t, "admin@example.com", pw, identity.RoleAdmin)
	ac := noRedirect(t)
	apiLogin(t, ac, f.srv.URL, "admin@example.com", pw)
	owner, _ := f.handle.Users().UserByEmail(t.Context(), "owner@example.com")
	if st, _ := postJSON(t, ac, f.srv.URL+"/auth/api/v1/admin/users/"+owner.ID+"/reset-2fa", map[string]string{}); st != http.StatusForbidden {
		t.Fatalf("admin resetting an owner: %d", st)
	}
}

// TestPasskeysRequiredForAdmins: an admin with only TOTP is refused the TOTP route and
// may only enrol a passkey; members keep TOTP.
func TestPasskeysRequiredForAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now())
	f.setClock(clk)
	const pw = "a perfectly fine passphrase"
	f.addUserRole(t, "admin@example.com", pw, identity.RoleAdmin)
	f.addUserRole(t, "member@example.com", pw, identity.RoleMember)
	adminSecret, _ := enrolTOTP(t, f, clk, "admin@example.com", pw)
	memberSecret, _ := enrolTOTP(t, f, clk, "member@example.com", pw)

	if err := f.handle.Settings().PutSecuritySettings(t.Context(), authn.UpdateSettings(store.SecuritySettings{}, false, 0, true, "test", clk.Now())); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	c := noRedirect(t)
	st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "admin@example.com", "password": pw})
	if st != 200 || out["status"] != "enrolment_required" {
		t.Fatalf("admin with TOTP only: %d %v", st, out)
	}
	code, _ := otptotp.GenerateCode(adminSecret, clk.Now())
	if st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": code}); st != 401 {
		t.Fatalf("admin signed in with TOTP under the passkey rule: %d", st)
	}
	if st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", map[string]string{}); st != 401 {
		t.Fatalf("admin may enrol TOTP as the required factor: %d", st)
	}
	if st, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/webauthn/register/begin", map[string]string{}); st != 200 || out["publicKey"] == nil {
		t.Fatalf("admin cannot start passkey enrolment: %d %v", st, out)
	}
	// Members are unaffected.
	m := noRedirect(t)
	if st, out := postJSON(t, m, f.srv.URL+"/auth/api/v1/login", map[string]string{"email": "member@example.com", "password": pw}); out["status"] != "second_factor" {
		t.Fatalf("member: %d %v", st, out)
	}
	mcode, _ := otptotp.GenerateCode(memberSecret, clk.Now().Add(30*time.Second))
	if st, _ := postJSON(t, m, f.srv.URL+"/auth/api/v1/login/totp", map[string]string{"code": mcode}); st != 200 {
		t.Fatalf("member TOTP: %d", st)
	}
}
