package authn

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestRequireGracePeriodAndAdminPasskeys(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	old := store.User{Roles: []string{"member"}, CreatedAt: since.AddDate(-1, 0, 0)}
	newcomer := store.User{Roles: []string{"member"}, CreatedAt: since.AddDate(0, 0, 10)}
	admin := store.User{Roles: []string{"admin"}, CreatedAt: since.AddDate(-1, 0, 0)}
	on := store.SecuritySettings{Require2FA: true, Require2FASince: since}
	none, totp := Factors{}, Factors{TOTP: true, RecoveryCodes: 10}

	cases := []struct {
		name string
		s    store.SecuritySettings
		u    store.User
		f    Factors
		now  time.Time
		want Step
		dl   time.Time
	}{
		{"policy off, no factor", store.SecuritySettings{}, old, none, since, StepSignedIn, time.Time{}},
		{"has a factor", store.SecuritySettings{}, old, totp, since, StepVerify, time.Time{}},
		{"in grace", on, old, none, since.Add(6*24*time.Hour + 23*time.Hour), StepRemind, since.Add(7 * 24 * time.Hour)},
		{"grace over", on, old, none, since.Add(7 * 24 * time.Hour), StepEnrol, since.Add(7 * 24 * time.Hour)},
		{"grace counts from account creation", on, newcomer, none, since.AddDate(0, 0, 12), StepRemind, newcomer.CreatedAt.Add(7 * 24 * time.Hour)},
		{"custom grace over", store.SecuritySettings{Require2FA: true, Require2FASince: since, GracePeriod: time.Hour}, old, none, since.Add(2 * time.Hour), StepEnrol, since.Add(time.Hour)},
		{"admin, passkeys required, TOTP only", store.SecuritySettings{RequirePasskeysForAdmins: true}, admin, totp, since, StepEnrolPasskey, time.Time{}},
		{"admin, passkeys required, has passkey", store.SecuritySettings{RequirePasskeysForAdmins: true}, admin, Factors{TOTP: true, Passkeys: 1}, since, StepVerify, time.Time{}},
		{"member unaffected by admin rule", store.SecuritySettings{RequirePasskeysForAdmins: true}, old, totp, since, StepVerify, time.Time{}},
	}
	for _, c := range cases {
		r := Require(c.s, c.u, c.f, c.now)
		if r.Step != c.want || !r.Deadline.Equal(c.dl) {
			t.Errorf("%s: step %v deadline %v, want %v %v", c.name, r.Step, r.Deadline, c.want, c.dl)
		}
	}
	// An admin under the passkey rule cannot finish with TOTP or a recovery code.
	r := Require(store.SecuritySettings{RequirePasskeysForAdmins: true}, admin, Factors{TOTP: true, Passkeys: 1, RecoveryCodes: 10}, since)
	if r.Allows(MethodTOTP) || r.Allows(MethodRecovery) || !r.Allows(MethodPasskey) {
		t.Errorf("admin methods: %v", r.Methods)
	}
	if r := Require(store.SecuritySettings{}, old, Factors{TOTP: true, Passkeys: 1, RecoveryCodes: 3}, since); !r.Allows(MethodTOTP) || !r.Allows(MethodRecovery) || !r.Allows(MethodPasskey) {
		t.Errorf("member methods: %v", r.Methods)
	}
}

func TestConfiguredZeroGraceMeansNone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := UpdateSettings(store.SecuritySettings{}, true, 0, false, "u1", now)
	u := store.User{Roles: []string{"member"}, CreatedAt: now.AddDate(-1, 0, 0)}
	if r := Require(s, u, Factors{}, now.Add(time.Second)); r.Step != StepEnrol {
		t.Fatalf("zero grace: %v", r.Step)
	}
	// Turning it on again keeps the original start; off clears it.
	s2 := UpdateSettings(s, true, time.Hour, false, "u1", now.Add(time.Hour))
	if !s2.Require2FASince.Equal(now) {
		t.Fatalf("since moved: %v", s2.Require2FASince)
	}
	if s3 := UpdateSettings(s2, false, time.Hour, false, "u1", now); !s3.Require2FASince.IsZero() {
		t.Fatal("since kept after switching off")
	}
}
