package authn

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func newMFA(t *testing.T) (*MFA, *clock.Fake, store.TenantHandle, store.User) {
	t.Helper()
	th := newTenant(t)
	clk := clock.NewFake(time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC))
	c, err := secret.NewFieldCipher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	u, err := PrepareUser(NewUser{Email: "m@example.com", Password: "an entirely adequate passphrase", Roles: []string{"member"}}, &identity.Hasher{Cost: 4}, identity.PasswordRules{}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &MFA{Cipher: c, Clock: clk}, clk, th, u
}

func TestTOTPEnrolmentSkewAndReplay(t *testing.T) {
	t.Parallel()
	m, clk, th, u := newMFA(t)
	ctx := context.Background()
	k, err := m.BeginTOTP(ctx, th, u, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	// Sealed at rest, bound to the row.
	s, _ := th.TOTP().TOTPByUser(ctx, u.ID)
	if bytes.Contains(s.Ciphertext, []byte(k.Secret)) || s.KeyID == "" || !s.ConfirmedAt.IsZero() {
		t.Fatalf("stored secret: %+v", s)
	}
	if f, _ := m.Factors(ctx, th, u.ID); f.Any() {
		t.Fatal("a pending enrolment counts as a factor")
	}
	if err := m.VerifyTOTP(ctx, th, u.ID, "000000"); !errors.Is(err, ErrNoTOTP) {
		t.Fatalf("verify before confirmation: %v", err)
	}
	code := func(off time.Duration) string {
		c, _ := otptotp.GenerateCode(k.Secret, clk.Now().Add(off))
		return c
	}
	codes, err := m.ConfirmTOTP(ctx, th, u.ID, code(0))
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %v %d", err, len(codes))
	}
	if _, err := m.BeginTOTP(ctx, th, u, "Acme"); !errors.Is(err, ErrTOTPEnrolled) {
		t.Fatalf("second enrolment over a confirmed one: %v", err)
	}
	clk.Advance(5 * time.Minute)
	for _, c := range []struct {
		off  time.Duration
		want error
	}{
		{-60 * time.Second, ErrInvalidCode}, {60 * time.Second, ErrInvalidCode}, // ±2 steps
		{-30 * time.Second, nil}, {0, nil}, {30 * time.Second, nil}, // ±1 step
		{0, ErrCodeReplayed}, {30 * time.Second, ErrCodeReplayed},
	} {
		if err := m.VerifyTOTP(ctx, th, u.ID, code(c.off)); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("offset %v: %v, want %v", c.off, err, c.want)
		}
	}
	if err := m.DisableTOTP(ctx, th, u.ID); err != nil {
		t.Fatal(err)
	}
	if f, _ := m.Factors(ctx, th, u.ID); f.TOTP {
		t.Fatal("TOTP still on after disabling")
	}
}

func TestResetFactors(t *testing.T) {
	t.Parallel()
	m, clk, th, u := newMFA(t)
	ctx := context.Background()
	k, _ := m.BeginTOTP(ctx, th, u, "Acme")
	c, _ := otptotp.GenerateCode(k.Secret, clk.Now())
	if _, err := m.ConfirmTOTP(ctx, th, u.ID, c); err != nil {
		t.Fatal(err)
	}
	if err := th.Passkeys().AddPasskey(ctx, store.Passkey{ID: "pk1", UserID: u.ID, CredentialID: []byte("cred-1"), PublicKey: []byte{1}, Name: "Key", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if f, _ := m.Factors(ctx, th, u.ID); !f.TOTP || f.Passkeys != 1 || f.RecoveryCodes != 10 {
		t.Fatalf("factors before reset: %+v", f)
	}
	if err := m.ResetFactors(ctx, th, u.ID); err != nil {
		t.Fatal(err)
	}
	if f, _ := m.Factors(ctx, th, u.ID); f.Any() || f.RecoveryCodes != 0 {
		t.Fatalf("factors after reset: %+v", f)
	}
}
