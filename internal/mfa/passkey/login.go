package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// BeginLogin starts a sign-in with a passkey on site and returns the
// PublicKeyCredentialRequestOptions as WebAuthn JSON (for
// PublicKeyCredential.parseRequestOptionsFromJSON) and the ceremony id.
//
// With user nil it is a passwordless sign-in: no credentials are listed, the browser
// offers the discoverable passkeys it has for the site, and the assertion names the
// user. With user set it is the second factor after that user's password: only their
// passkeys are allowed (ErrNoPasskeys if they have none). User verification is required
// either way.
func (s *Service) BeginLogin(ctx context.Context, tenant store.TenantHandle, site Site, user *store.User) (options json.RawMessage, ceremony string, err error) {
	rp, err := s.relyingParty(site)
	if err != nil {
		return nil, "", err
	}
	st := ceremonyState{Tenant: tenant.TenantID(), Purpose: purposePasswordless, RP: rp.key()}
	uv := webauthn.WithUserVerification(protocol.VerificationRequired)
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	if user == nil {
		assertion, session, err = rp.wa.BeginDiscoverableLogin(uv)
	} else {
		if err := checkUser(tenant, *user); err != nil {
			return nil, "", err
		}
		var passkeys []store.Passkey
		if passkeys, err = tenant.Passkeys().ListPasskeys(ctx, user.ID); err != nil {
			return nil, "", fmt.Errorf("listing passkeys: %w", err)
		}
		if len(passkeys) == 0 {
			return nil, "", ErrNoPasskeys
		}
		st.Purpose, st.UserID = purposeSecondFactor, user.ID
		assertion, session, err = rp.wa.BeginLogin(newWebauthnUser(user.ID, user.Email, user.DisplayName, passkeys), uv)
	}
	if err != nil {
		return nil, "", fmt.Errorf("beginning login: %w", err)
	}
	options, err = json.Marshal(assertion.Response)
	if err != nil {
		return nil, "", fmt.Errorf("encoding request options: %w", err)
	}
	st.Session = *session
	ceremony, err = s.start(ctx, st)
	if err != nil {
		return nil, "", err
	}
	return options, ceremony, nil
}

// FinishLogin verifies an assertion (PublicKeyCredential.toJSON() of
// navigator.credentials.get) for a ceremony begun by BeginLogin in this tenant on this
// site, records the use and returns the user it signs in and their passkey (with the
// new sign count, backup state and last use).
//
// For a second-factor ceremony the user is the one BeginLogin was given: a handler
// completing a pending password sign-in must check that it is the pending session's
// user, or call FinishSecondFactor, which does. For a passwordless ceremony the user is
// the passkey's owner; the caller still checks that the account may sign in. A
// signature-counter regression (ErrSignCountRegression) returns the owner too: the
// signature was genuine, only the counter suggests a cloned authenticator.
func (s *Service) FinishLogin(ctx context.Context, tenant store.TenantHandle, site Site, ceremony string, credentialJSON []byte) (userID string, passkey store.Passkey, err error) {
	return s.finishLogin(ctx, tenant, site, "", ceremony, credentialJSON)
}

// FinishSecondFactor is FinishLogin for the second-factor step of userID's sign-in: a
// passwordless ceremony, or one begun for another user, is refused with ErrCeremony.
func (s *Service) FinishSecondFactor(ctx context.Context, tenant store.TenantHandle, site Site, userID, ceremony string, credentialJSON []byte) (store.Passkey, error) {
	if userID == "" {
		return store.Passkey{}, errors.New("passkey: second factor without user")
	}
	_, p, err := s.finishLogin(ctx, tenant, site, userID, ceremony, credentialJSON)
	return p, err
}

func (s *Service) finishLogin(ctx context.Context, tenant store.TenantHandle, site Site, wantUser, ceremony string, credentialJSON []byte) (string, store.Passkey, error) {
	rp, err := s.relyingParty(site)
	if err != nil {
		return "", store.Passkey{}, err
	}
	purposes := []string{purposePasswordless, purposeSecondFactor}
	if wantUser != "" {
		purposes = purposes[1:]
	}
	st, err := s.finish(ctx, tenant, rp, ceremony, wantUser, purposes...)
	if err != nil {
		return "", store.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON)
	if err != nil {
		return "", store.Passkey{}, verificationError(err)
	}

	// Find the credential in this tenant and make sure it is the right user's.
	pk, err := tenant.Passkeys().PasskeyByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.Passkey{}, fmt.Errorf("%w: not registered in this tenant", ErrUnknownCredential)
	}
	if err != nil {
		return "", store.Passkey{}, fmt.Errorf("looking up passkey: %w", err)
	}
	handle := string(parsed.Response.UserHandle)
	userID := st.UserID
	if st.Purpose == purposePasswordless {
		if handle == "" {
			return "", store.Passkey{}, fmt.Errorf("%w: discoverable assertion without user handle", ErrVerification)
		}
		userID = handle
	}
	if pk.UserID != userID || (handle != "" && handle != pk.UserID) {
		return "", store.Passkey{}, fmt.Errorf("%w: passkey %s belongs to another user", ErrUnknownCredential, pk.ID)
	}
	passkeys, err := tenant.Passkeys().ListPasskeys(ctx, userID)
	if err != nil {
		return "", store.Passkey{}, fmt.Errorf("listing passkeys: %w", err)
	}
	wu := newWebauthnUser(userID, "", "", passkeys)

	// Signature, challenge, origin, RP ID hash, UP and UV flags, backup flags.
	var cred *webauthn.Credential
	if st.Purpose == purposePasswordless {
		_, cred, err = rp.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, st.Session, parsed)
	} else {
		cred, err = rp.wa.ValidateLogin(wu, st.Session, parsed)
	}
	if err != nil {
		return "", store.Passkey{}, verificationError(err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() || !flags.HasUserPresent() {
		return "", store.Passkey{}, fmt.Errorf("%w: user not present and verified", ErrVerification)
	}
	count := parsed.Response.AuthenticatorData.Counter
	// From here on the signature is genuine: a counter regression names the passkey's
	// owner, so that the audit record of a suspected clone says whose passkey it is.
	if cred.Authenticator.CloneWarning {
		return userID, store.Passkey{}, fmt.Errorf("%w: passkey %s presented count %d, stored %d", ErrSignCountRegression, pk.ID, count, pk.SignCount)
	}

	// The compare-and-set in the store catches two assertions racing with one count.
	now := s.clock.Now()
	err = tenant.Passkeys().RecordPasskeyUse(ctx, pk.CredentialID, count, flags.HasBackupState(), now)
	switch {
	case errors.Is(err, store.ErrConflict):
		return userID, store.Passkey{}, fmt.Errorf("%w: passkey %s presented count %d, not above the stored count", ErrSignCountRegression, pk.ID, count)
	case errors.Is(err, store.ErrNotFound):
		return "", store.Passkey{}, fmt.Errorf("%w: passkey %s deleted during sign-in", ErrUnknownCredential, pk.ID)
	case err != nil:
		return "", store.Passkey{}, fmt.Errorf("recording passkey use: %w", err)
	}
	pk.SignCount, pk.BackupState, pk.LastUsedAt = count, flags.HasBackupState(), now
	return userID, pk, nil
}
