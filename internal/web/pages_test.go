package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// TestUnlockTellsTheAdministrator: the unlock answers whether the account was locked;
// a member cannot unlock anyone.
func TestUnlockTellsTheAdministrator(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.withLockout()
	const pw = "a perfectly fine passphrase"
	f.addUserRole(t, "owner@example.com", pw, "owner")
	member := f.addUser(t, "member@example.com", pw)
	for i := range 5 {
		if st, _ := apiLogin(t, noRedirect(t), f.srv.URL, "member@example.com", "wrong guess "+string(rune('a'+i))); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	mc := noRedirect(t)
	if st, _ := apiLogin(t, mc, f.srv.URL, "member@example.com", pw); st != http.StatusTooManyRequests {
		t.Fatalf("locked member signing in: %d", st)
	}
	oc := noRedirect(t)
	if st, _ := apiLogin(t, oc, f.srv.URL, "owner@example.com", pw); st != http.StatusOK {
		t.Fatal(st)
	}
	unlock := f.srv.URL + "/auth/api/v1/admin/users/" + member.ID + "/unlock"
	if st, out := postJSON(t, oc, unlock, nil); st != http.StatusOK || out["was_locked"] != true {
		t.Fatalf("unlocking a locked member: %d %v", st, out)
	}
	if st, out := postJSON(t, oc, unlock, nil); st != http.StatusOK || out["was_locked"] != false {
		t.Fatalf("unlocking again: %d %v", st, out)
	}
	if st, _ := apiLogin(t, mc, f.srv.URL, "member@example.com", pw); st != http.StatusOK {
		t.Fatalf("after the unlock: %d", st)
	}
	if st, out := postJSON(t, mc, unlock, nil); st != http.StatusForbidden || out["error"] != "forbidden" {
		t.Fatalf("a member unlocking: %d %v", st, out)
	}
}

// TestRecoveryCodesNeedASecondFactor: the security page offers recovery codes only
// once there is a factor for them to back up, and says what they are for.
func TestRecoveryCodesNeedASecondFactor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(10 * time.Second))
	f.setClock(clk)
	f.addUser(t, "ann@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	if st, _ := apiLogin(t, c, f.srv.URL, "ann@example.com", "a perfectly fine passphrase"); st != http.StatusOK {
		t.Fatal(st)
	}
	const regenerate = `action="/auth/settings/recovery/regenerate"`
	if st, body := getPage(t, c, f.srv.URL+"/auth/settings/security"); st != http.StatusOK || strings.Contains(body, regenerate) {
		t.Fatalf("without a factor: %d, offers recovery codes: %v", st, strings.Contains(body, regenerate))
	}
	_, out := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/enroll", nil)
	code, _ := otptotp.GenerateCode(out["secret"].(string), clk.Now())
	if st, _ := postJSON(t, c, f.srv.URL+"/auth/api/v1/totp/confirm", map[string]string{"code": code}); st != http.StatusOK {
		t.Fatal(st)
	}
	st, body := getPage(t, c, f.srv.URL+"/auth/settings/security")
	if st != http.StatusOK || !strings.Contains(body, regenerate) || !strings.Contains(body, "signs you in once in its place") {
		t.Fatalf("with a factor: %d\n%s", st, body)
	}
}
