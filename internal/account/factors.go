package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/totp"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// BeginTOTP starts enrolling an authenticator app: a new key, kept sealed and pending
// until a code confirms it (authn.ErrTOTPEnrolled when one is on already). Like
// removing a factor, adding one needs a recent proof of identity
// (authn.ErrReauthRequired): the sign-in itself counts for reauth_age.
func (s *Service) BeginTOTP(ctx context.Context, ws store.Workspace, me Self) (totp.Key, error) {
	if err := s.fresh(me); err != nil { // a stolen session cookie alone adds no factor
		return totp.Key{}, err
	}
	k, err := s.MFA.BeginTOTP(ctx, ws, me.user(), ws.Name)
	if err != nil {
		return totp.Key{}, err
	}
	return k, s.record(ctx, ws, me, audit.ActionTOTPEnrolStarted, nil)
}

// PendingTOTP shows the key being enrolled again (after a mistyped code: no new scan).
func (s *Service) PendingTOTP(ctx context.Context, ws store.Workspace, me Self) (totp.Key, error) {
	return s.MFA.PendingTOTP(ctx, ws, me.user(), ws.Name)
}

// Enrolled is a confirmed factor.
type Enrolled struct {
	// RecoveryCodes are new codes to show once (the user had none).
	RecoveryCodes []string
	// SignIn is set when the enrolment completed a sign-in that waited for it: the
	// client must carry SignIn.Session from now on.
	SignIn *authn.Outcome
}

// ConfirmTOTP turns the app on when code is right (authn.ErrInvalidCode or
// ErrCodeReplayed otherwise: the key stays pending, so the user may try again; ErrNoTOTP
// when no enrolment was started).
func (s *Service) ConfirmTOTP(ctx context.Context, ws store.Workspace, me Self, code string) (Enrolled, error) {
	codes, err := s.MFA.ConfirmTOTP(ctx, ws, me.user().ID, code)
	if err != nil {
		return Enrolled{}, err
	}
	if err := s.record(ctx, ws, me, audit.ActionTOTPEnrolled, nil); err != nil {
		return Enrolled{}, err
	}
	return s.enrolled(ctx, ws, me, authn.MethodTOTP, codes)
}

// enrolled completes a sign-in that waited for this enrolment.
func (s *Service) enrolled(ctx context.Context, ws store.Workspace, me Self, method string, codes []string) (Enrolled, error) {
	out := Enrolled{RecoveryCodes: codes}
	if !me.Session.Session.Pending {
		return out, nil
	}
	o, err := s.SignIn.CompleteEnrolment(ctx, ws, me.Client, me.Session, method)
	if err != nil {
		return Enrolled{}, err
	}
	out.SignIn = &o
	return out, nil
}

// DisableTOTP removes the authenticator app, after the current password.
func (s *Service) DisableTOTP(ctx context.Context, ws store.Workspace, me Self, password string) error {
	if err := s.confirmPassword(ctx, ws, me, password); err != nil {
		return err
	}
	if err := s.MFA.DisableTOTP(ctx, ws, me.user().ID); err != nil {
		return err
	}
	return s.record(ctx, ws, me, audit.ActionTOTPRemoved, nil)
}

// RegenerateRecoveryCodes replaces the user's recovery codes (after the current
// password) and returns the new ones, to show once. Recovery codes back up a second
// factor, so without one there is nothing to regenerate (ErrNoSecondFactor).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, ws store.Workspace, me Self, password string) ([]string, error) {
	f, err := s.MFA.Factors(ctx, ws, me.user().ID)
	if err != nil {
		return nil, err
	}
	if !f.Any() {
		return nil, ErrNoSecondFactor
	}
	if err := s.confirmPassword(ctx, ws, me, password); err != nil {
		return nil, err
	}
	codes, err := s.MFA.RegenerateRecoveryCodes(ctx, ws, me.user().ID)
	if err != nil {
		return nil, err
	}
	return codes, s.record(ctx, ws, me, audit.ActionRecoveryRegenerated, nil)
}

// BeginPasskey starts registering a passkey (options for navigator.credentials.create);
// like BeginTOTP it needs a recent proof of identity.
func (s *Service) BeginPasskey(ctx context.Context, ws store.Workspace, me Self) (json.RawMessage, string, error) {
	if err := s.fresh(me); err != nil { // a stolen session cookie alone adds no factor
		return nil, "", err
	}
	return s.Passkeys.BeginRegistration(ctx, ws, me.Client.Site, me.user())
}

// FinishPasskey verifies and stores the new passkey (passkey.ErrCeremony or
// ErrVerification when it is not accepted, store.ErrConflict when it is registered
// already).
func (s *Service) FinishPasskey(ctx context.Context, ws store.Workspace, me Self, ceremony, name string, credential []byte) (store.Passkey, Enrolled, error) {
	pk, err := s.Passkeys.FinishRegistration(ctx, ws, me.Client.Site, me.user(), ceremony, name, credential)
	if err != nil {
		return store.Passkey{}, Enrolled{}, err
	}
	if err := s.record(ctx, ws, me, audit.ActionPasskeyAdded, map[string]string{"passkey": pk.ID, "name": pk.Name}); err != nil {
		return store.Passkey{}, Enrolled{}, err
	}
	e, err := s.enrolled(ctx, ws, me, authn.MethodPasskey, nil)
	return pk, e, err
}

// RenamePasskey names one of the user's passkeys (1 to 64 characters).
func (s *Service) RenamePasskey(ctx context.Context, ws store.Workspace, me Self, id, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return &authn.InputError{Field: "name", Msg: "Give the passkey a name of at most 64 characters."}
	}
	err := ws.Passkeys().RenamePasskey(ctx, me.user().ID, id, name)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoSuchPasskey
	}
	if err != nil {
		return fmt.Errorf("renaming passkey: %w", err)
	}
	return s.record(ctx, ws, me, audit.ActionPasskeyRenamed, map[string]string{"passkey": id})
}

// DeletePasskey removes one of the user's passkeys (a sensitive change: it needs a
// recent sign-in or re-authentication).
func (s *Service) DeletePasskey(ctx context.Context, ws store.Workspace, me Self, id string) error {
	if err := s.fresh(me); err != nil {
		return err
	}
	err := ws.Passkeys().DeletePasskey(ctx, me.user().ID, id, s.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoSuchPasskey
	}
	if err != nil {
		return fmt.Errorf("removing passkey: %w", err)
	}
	return s.record(ctx, ws, me, audit.ActionPasskeyRemoved, map[string]string{"passkey": id})
}
