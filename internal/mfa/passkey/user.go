package passkey

import (
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// webauthnUser presents a user and their passkeys to go-webauthn. The WebAuthn user
// handle is the user id, so a discoverable assertion names the user directly.
type webauthnUser struct {
	id, name, displayName string
	credentials           []webauthn.Credential
}

func newWebauthnUser(id, name, displayName string, passkeys []store.Passkey) *webauthnUser {
	u := &webauthnUser{id: id, name: name, displayName: displayName}
	for _, p := range passkeys {
		u.credentials = append(u.credentials, credentialOf(p))
	}
	return u
}

func (u *webauthnUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *webauthnUser) WebAuthnName() string                       { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

func (u *webauthnUser) descriptors() []protocol.CredentialDescriptor {
	return webauthn.Credentials(u.credentials).CredentialDescriptors()
}

// credentialOf rebuilds the go-webauthn credential record from a stored passkey.
func credentialOf(p store.Passkey) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	if p.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if p.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(p.Transports))
	for _, t := range p.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID:              p.CredentialID,
		PublicKey:       p.PublicKey,
		AttestationType: p.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:    p.AAGUID,
			SignCount: p.SignCount,
		},
	}
}

// Interface guards
var _ webauthn.User = (*webauthnUser)(nil)
