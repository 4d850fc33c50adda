package authn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/recovery"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/totp"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Second-factor outcomes (wrong codes are outcomes, not errors).
var (
	ErrInvalidCode  = errors.New("invalid code")
	ErrCodeReplayed = errors.New("code already used")
	ErrNoTOTP       = errors.New("no authenticator app enrolled")
	ErrTOTPEnrolled = errors.New("an authenticator app is already enrolled")
)

// Auth method names (X-Gatehouse-Auth-Methods).
const (
	MethodPassword = "pwd"
	MethodTOTP     = "otp"
	MethodRecovery = "rec"
	MethodPasskey  = "hwk"
)

// Factors is what second factors a user has.
type Factors struct {
	TOTP          bool // confirmed authenticator app
	Passkeys      int
	RecoveryCodes int // unused
}

// Any tells whether the user has a second factor (recovery codes alone do not count:
// they back up a factor).
func (f Factors) Any() bool { return f.TOTP || f.Passkeys > 0 }

// Methods lists the second-factor methods a sign-in may use, for the JSON API.
func (f Factors) Methods() []string {
	var m []string
	if f.TOTP {
		m = append(m, "totp")
	}
	if f.Passkeys > 0 {
		m = append(m, "webauthn")
	}
	if f.Any() && f.RecoveryCodes > 0 {
		m = append(m, "recovery")
	}
	return m
}

// MFA manages a user's TOTP key and recovery codes. TOTP secrets are sealed with the
// field cipher, bound to tenant and user.
type MFA struct {
	Cipher *secret.FieldCipher
	Clock  clock.Clock
}

// TOTPSealAD is the associated data a TOTP key is sealed with: its tenant and user.
func TOTPSealAD(tenantID, userID string) []byte { return secret.AD(tenantID, userID, "totp") }

// Factors reads which factors the user has.
func (m *MFA) Factors(ctx context.Context, tenant store.TenantHandle, userID string) (Factors, error) {
	var f Factors
	s, err := tenant.TOTP().TOTPByUser(ctx, userID)
	switch {
	case err == nil:
		f.TOTP = !s.ConfirmedAt.IsZero()
	case !errors.Is(err, store.ErrNotFound):
		return f, fmt.Errorf("reading TOTP state: %w", err)
	}
	pks, err := tenant.Passkeys().ListPasskeys(ctx, userID)
	if err != nil {
		return f, fmt.Errorf("reading passkeys: %w", err)
	}
	f.Passkeys = len(pks)
	if f.RecoveryCodes, err = tenant.RecoveryCodes().CountRecoveryCodes(ctx, userID); err != nil {
		return f, fmt.Errorf("counting recovery codes: %w", err)
	}
	return f, nil
}

// BeginTOTP starts enrolment: a new key, stored sealed and pending until ConfirmTOTP.
func (m *MFA) BeginTOTP(ctx context.Context, tenant store.TenantHandle, u store.User, issuer string) (totp.Key, error) {
	k, err := totp.Generate(issuer, u.Email)
	if err != nil {
		return totp.Key{}, err
	}
	sealed, kid := m.Cipher.Seal([]byte(k.Secret), TOTPSealAD(tenant.TenantID(), u.ID))
	err = tenant.TOTP().PutPendingTOTP(ctx, store.TOTPSecret{UserID: u.ID, Ciphertext: sealed, KeyID: kid, CreatedAt: m.Clock.Now()})
	if errors.Is(err, store.ErrConflict) {
		return totp.Key{}, ErrTOTPEnrolled
	}
	if err != nil {
		return totp.Key{}, fmt.Errorf("storing TOTP key: %w", err)
	}
	return k, nil
}

// PendingTOTP returns the key of the user's enrolment that is not confirmed yet, to
// show it again after a mistyped code (no new scan); ErrNoTOTP when there is none.
func (m *MFA) PendingTOTP(ctx context.Context, tenant store.TenantHandle, u store.User, issuer string) (totp.Key, error) {
	s, err := tenant.TOTP().TOTPByUser(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.ConfirmedAt.IsZero()) {
		return totp.Key{}, ErrNoTOTP
	}
	if err != nil {
		return totp.Key{}, fmt.Errorf("reading TOTP key: %w", err)
	}
	key, err := m.Cipher.Open(s.Ciphertext, s.KeyID, TOTPSealAD(tenant.TenantID(), u.ID))
	if err != nil {
		return totp.Key{}, fmt.Errorf("opening TOTP key: %w", err)
	}
	return totp.FromSecret(issuer, u.Email, string(key))
}

// ConfirmTOTP activates the pending key when code is right (the step is spent). When
// the user has no recovery codes yet, a new set is made and returned (shown once).
func (m *MFA) ConfirmTOTP(ctx context.Context, tenant store.TenantHandle, userID, code string) ([]string, error) {
	s, err := tenant.TOTP().TOTPByUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.ConfirmedAt.IsZero()) {
		return nil, ErrNoTOTP
	}
	if err != nil {
		return nil, fmt.Errorf("reading TOTP key: %w", err)
	}
	if err := m.spend(ctx, tenant, userID, s, code); err != nil {
		return nil, err
	}
	if err := tenant.TOTP().ConfirmTOTP(ctx, userID, m.Clock.Now()); err != nil {
		return nil, fmt.Errorf("confirming TOTP: %w", err)
	}
	n, err := tenant.RecoveryCodes().CountRecoveryCodes(ctx, userID)
	if err != nil || n > 0 {
		return nil, err
	}
	return m.RegenerateRecoveryCodes(ctx, tenant, userID)
}

// VerifyTOTP checks a sign-in code against the confirmed key; each time step is
// accepted once per user (ErrCodeReplayed afterwards), also under concurrency.
func (m *MFA) VerifyTOTP(ctx context.Context, tenant store.TenantHandle, userID, code string) error {
	s, err := tenant.TOTP().TOTPByUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.ConfirmedAt.IsZero()) {
		return ErrNoTOTP
	}
	if err != nil {
		return fmt.Errorf("reading TOTP key: %w", err)
	}
	return m.spend(ctx, tenant, userID, s, code)
}

// spend matches code and records its step atomically.
func (m *MFA) spend(ctx context.Context, tenant store.TenantHandle, userID string, s store.TOTPSecret, code string) error {
	key, err := m.Cipher.Open(s.Ciphertext, s.KeyID, TOTPSealAD(tenant.TenantID(), userID))
	if err != nil {
		return fmt.Errorf("opening TOTP key: %w", err)
	}
	now := m.Clock.Now()
	step, ok := totp.Match(string(key), code, now)
	if !ok {
		return ErrInvalidCode
	}
	err = tenant.TOTP().UseTOTPStep(ctx, userID, step, now)
	if errors.Is(err, store.ErrConflict) {
		return ErrCodeReplayed
	}
	if err != nil {
		return fmt.Errorf("recording TOTP step: %w", err)
	}
	return nil
}

// DisableTOTP removes the user's authenticator app. It is kept, unusable, for
// store.RemovedFactorWindow, in which an administrator may restore it (FactorRestores).
func (m *MFA) DisableTOTP(ctx context.Context, tenant store.TenantHandle, userID string) error {
	if err := tenant.TOTP().DeleteTOTP(ctx, userID, m.Clock.Now()); err != nil {
		return fmt.Errorf("removing TOTP: %w", err)
	}
	return nil
}

// UseRecoveryCode spends one recovery code; it returns how many remain.
func (m *MFA) UseRecoveryCode(ctx context.Context, tenant store.TenantHandle, userID, code string) (int, error) {
	if !recovery.LooksLikeCode(code) {
		return 0, ErrInvalidCode
	}
	n, err := tenant.RecoveryCodes().UseRecoveryCode(ctx, userID, recovery.Hash(code), m.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return 0, ErrInvalidCode
	}
	if err != nil {
		return 0, fmt.Errorf("using recovery code: %w", err)
	}
	return n, nil
}

// RegenerateRecoveryCodes replaces the user's codes with a new set (shown once). The
// replaced set is kept removed until the purge, never to work again: the new set
// supersedes it, so it cannot be restored.
func (m *MFA) RegenerateRecoveryCodes(ctx context.Context, tenant store.TenantHandle, userID string) ([]string, error) {
	codes, hashes := recovery.Generate()
	if err := tenant.RecoveryCodes().ReplaceRecoveryCodes(ctx, userID, hashes, m.Clock.Now()); err != nil {
		return nil, fmt.Errorf("storing recovery codes: %w", err)
	}
	return codes, nil
}

// ResetFactors removes every second factor of a user (admin reset). Like the user's
// own removals, they are kept, unusable, for store.RemovedFactorWindow, so that a
// mistaken reset can be undone (admin.FactorRestores).
func (m *MFA) ResetFactors(ctx context.Context, tenant store.TenantHandle, userID string) error {
	now := m.Clock.Now()
	if err := tenant.TOTP().DeleteTOTP(ctx, userID, now); err != nil {
		return fmt.Errorf("removing TOTP: %w", err)
	}
	if err := tenant.RecoveryCodes().DeleteRecoveryCodes(ctx, userID, now); err != nil {
		return fmt.Errorf("removing recovery codes: %w", err)
	}
	pks, err := tenant.Passkeys().ListPasskeys(ctx, userID)
	if err != nil {
		return fmt.Errorf("listing passkeys: %w", err)
	}
	for _, p := range pks {
		if err := tenant.Passkeys().DeletePasskey(ctx, userID, p.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("removing passkey: %w", err)
		}
	}
	return nil
}
