package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultName names a passkey registered without a name.
const DefaultName = "Passkey"

// Limits on what the browser may make us store.
const (
	maxNameRunes     = 64
	maxTransports    = 8
	maxTransportSize = 32
)

// BeginRegistration starts registering a new passkey for user (signed in) on site. It
// returns the PublicKeyCredentialCreationOptions as WebAuthn JSON (for
// PublicKeyCredential.parseCreationOptionsFromJSON) and the ceremony id to pass to
// FinishRegistration. The user's existing passkeys are excluded, so an authenticator
// that holds one already declines instead of creating a duplicate.
func (s *Service) BeginRegistration(ctx context.Context, tenant store.TenantHandle, site Site, user store.User) (options json.RawMessage, ceremony string, err error) {
	if err := checkUser(tenant, user); err != nil {
		return nil, "", err
	}
	rp, err := s.relyingParty(site)
	if err != nil {
		return nil, "", err
	}
	existing, err := tenant.Passkeys().ListPasskeys(ctx, user.ID)
	if err != nil {
		return nil, "", fmt.Errorf("listing passkeys: %w", err)
	}
	displayName := user.DisplayName
	if displayName == "" {
		displayName = user.Email
	}
	wu := newWebauthnUser(user.ID, user.Email, displayName, existing)
	creation, session, err := rp.wa.BeginRegistration(wu, webauthn.WithExclusions(wu.descriptors()))
	if err != nil {
		return nil, "", fmt.Errorf("beginning registration: %w", err)
	}
	options, err = json.Marshal(creation.Response)
	if err != nil {
		return nil, "", fmt.Errorf("encoding creation options: %w", err)
	}
	ceremony, err = s.start(ctx, ceremonyState{
		Tenant:  tenant.TenantID(),
		Purpose: purposeRegister,
		UserID:  user.ID,
		RP:      rp.key(),
		Session: *session,
	})
	if err != nil {
		return nil, "", err
	}
	return options, ceremony, nil
}

// FinishRegistration verifies the browser's credential (PublicKeyCredential.toJSON()
// of navigator.credentials.create) for the ceremony begun by BeginRegistration for the
// same tenant, site and user, and stores it as a passkey named name (DefaultName if
// blank). A credential id that is registered already gives an error that wraps
// store.ErrConflict.
func (s *Service) FinishRegistration(ctx context.Context, tenant store.TenantHandle, site Site, user store.User, ceremony, name string, credentialJSON []byte) (store.Passkey, error) {
	if err := checkUser(tenant, user); err != nil {
		return store.Passkey{}, err
	}
	rp, err := s.relyingParty(site)
	if err != nil {
		return store.Passkey{}, err
	}
	st, err := s.finish(ctx, tenant, rp, ceremony, user.ID, purposeRegister)
	if err != nil {
		return store.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credentialJSON)
	if err != nil {
		return store.Passkey{}, verificationError(err)
	}
	// Also checks the challenge, origin, RP ID hash, UP and UV flags, the algorithm and
	// the attestation statement.
	cred, err := rp.wa.CreateCredential(newWebauthnUser(user.ID, user.Email, user.DisplayName, nil), st.Session, parsed)
	if err != nil {
		return store.Passkey{}, verificationError(err)
	}
	if !cred.Flags.UserVerified {
		return store.Passkey{}, fmt.Errorf("%w: user not verified", ErrVerification)
	}
	if cred.Flags.BackupState && !cred.Flags.BackupEligible {
		return store.Passkey{}, fmt.Errorf("%w: backup state without backup eligibility", ErrVerification)
	}

	attestation := cred.AttestationType
	if attestation == "" {
		attestation = cred.AttestationFormat
	}
	p := store.Passkey{
		ID:              secret.NewID(),
		UserID:          user.ID,
		CredentialID:    cred.ID,
		PublicKey:       cred.PublicKey,
		AttestationType: attestation,
		AAGUID:          cred.Authenticator.AAGUID,
		SignCount:       cred.Authenticator.SignCount,
		Transports:      transports(cred.Transport),
		BackupEligible:  cred.Flags.BackupEligible,
		BackupState:     cred.Flags.BackupState,
		Name:            CleanName(name),
		CreatedAt:       s.clock.Now(),
	}
	if err := tenant.Passkeys().AddPasskey(ctx, p); err != nil {
		return store.Passkey{}, fmt.Errorf("storing passkey: %w", err)
	}
	return p, nil
}

// checkUser refuses a user record of another tenant (a wiring mistake, never a user's).
func checkUser(tenant store.TenantHandle, user store.User) error {
	if user.ID == "" {
		return errors.New("passkey: user without id")
	}
	if user.TenantID != "" && user.TenantID != tenant.TenantID() {
		return errors.New("passkey: user of another tenant")
	}
	return nil
}

// CleanName normalises a passkey name as FinishRegistration stores it (rename handlers
// should apply it too): control and format characters dropped, spaces trimmed, at most
// 64 characters, blank becomes DefaultName.
func CleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > maxNameRunes {
		name = strings.TrimSpace(string(r[:maxNameRunes]))
	}
	if name == "" {
		return DefaultName
	}
	return name
}

// transports keeps the browser-reported transports within bounds.
func transports(in []protocol.AuthenticatorTransport) []string {
	out := make([]string, 0, min(len(in), maxTransports))
	for _, t := range in {
		if len(out) == maxTransports {
			break
		}
		if t != "" && len(t) <= maxTransportSize {
			out = append(out, string(t))
		}
	}
	return out
}
