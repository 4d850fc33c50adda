package passkey

import (
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
)

// Errors returned by the ceremonies (test with errors.Is; the wrapped cause is for logs
// and audit details, not for clients).
var (
	// ErrCeremony: the ceremony id is unknown, expired or already used, or it was begun
	// for another tenant, user, purpose or site.
	ErrCeremony = errors.New("passkey: invalid or expired ceremony")
	// ErrVerification: the attestation or assertion does not verify (signature, origin,
	// RP ID hash, challenge, user presence or verification flags, malformed data).
	ErrVerification = errors.New("passkey: verification failed")
	// ErrUnknownCredential: the credential is not registered in this tenant, or not to
	// the user the ceremony is for.
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrSignCountRegression: the authenticator's signature counter did not increase.
	// The assertion is refused: the credential may have been cloned. Audit it.
	ErrSignCountRegression = errors.New("passkey: signature counter regression")
	// ErrNoPasskeys: a second-factor sign-in was begun for a user without passkeys.
	ErrNoPasskeys = errors.New("passkey: user has no passkeys")
	// ErrChallengeNotFound is what a ChallengeStore's Take returns for an unknown,
	// expired or already taken id.
	ErrChallengeNotFound = errors.New("passkey: challenge not found")
)

// verificationError wraps a go-webauthn error as ErrVerification (or
// ErrUnknownCredential), keeping the library's developer info for the log.
func verificationError(err error) error {
	sentinel := ErrVerification
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		sentinel = ErrUnknownCredential
	}
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.DevInfo != "" {
		return fmt.Errorf("%w: %w (%s)", sentinel, err, perr.DevInfo)
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
