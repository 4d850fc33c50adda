package store

import (
	"context"
	"time"
)

// The deployment's keys: token-signing and audit-checkpoint key pairs and the data
// keys, all sealed with the master key, and the view of every sealed value that a
// master key rotation works through.

// SigningKey is one of the deployment's token-signing key pairs (ES256).
type SigningKey struct {
	KID       string // key id, in every token's header and the JWKS
	Algorithm string // "ES256"
	PublicKey []byte // PKIX DER
	// PrivateKey is the PKCS #8 DER private key sealed with the master key
	// (secret.FieldCipher, associated data naming the kid); SealKeyID names the field
	// key that sealed it.
	PrivateKey []byte
	SealKeyID  string
	CreatedAt  time.Time // published (in the JWKS) from then on
	// ActivatesAt is when the key starts signing: later than CreatedAt for a rotation,
	// so that verifiers see the key before any token carries it.
	ActivatesAt time.Time
}

// SigningKeyStore keeps the signing keys.
type SigningKeyStore interface {
	// ListSigningKeys returns every key, by ActivatesAt (then KID) ascending.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// CreateSigningKey stores a new key (ErrConflict for a kid that exists).
	CreateSigningKey(ctx context.Context, k SigningKey) error
}

// AuditKey is one of the deployment's audit-checkpoint signing keys (Ed25519).
type AuditKey struct {
	KID       string // key id (derived from the public key)
	PublicKey []byte // raw 32-byte Ed25519 public key
	// PrivateKey is the Ed25519 seed sealed with the master key (secret.FieldCipher,
	// associated data naming the kid); SealKeyID names the field key that sealed it.
	PrivateKey []byte
	SealKeyID  string
	CreatedAt  time.Time
}

// AuditKeyStore keeps the audit-checkpoint keys.
type AuditKeyStore interface {
	// ListAuditKeys returns every key, by CreatedAt (then KID) ascending.
	ListAuditKeys(ctx context.Context) ([]AuditKey, error)
	// CreateAuditKey stores a new key (ErrConflict for a kid that exists).
	CreateAuditKey(ctx context.Context, k AuditKey) error
}

// DataKey is a deployment-wide key kept sealed with the master key (secret.FieldCipher,
// associated data naming the purpose), so that it stays the same when the master key
// is rotated: what it keyed (audit digests, refresh-token successors) keeps verifying.
type DataKey struct {
	Purpose   string
	Sealed    []byte
	SealKeyID string
	CreatedAt time.Time
}

// DataKeyStore keeps the data keys.
type DataKeyStore interface {
	// DataKey returns the key for purpose (ErrNotFound when there is none yet).
	DataKey(ctx context.Context, purpose string) (DataKey, error)
	// CreateDataKey stores k (ErrConflict when the purpose has a key: of several
	// instances starting together one creates it, the others read it).
	CreateDataKey(ctx context.Context, k DataKey) error
}

// Kinds of sealed values (SealedField.Kind).
const (
	SealedTOTP       = "totp_secret" // a member's TOTP key: Tenant and ID (the user id)
	SealedSigningKey = "signing_key" // a token-signing key: ID is the kid
	SealedAuditKey   = "audit_key"   // an audit-checkpoint key: ID is the kid
	SealedDataKey    = "data_key"    // a data key: ID is the purpose
)

// SealedKinds lists every kind of sealed value, in the order a rotation visits them.
var SealedKinds = []string{SealedDataKey, SealedSigningKey, SealedAuditKey, SealedTOTP}

// SealedField is one value sealed with a field key (secret.FieldCipher).
type SealedField struct {
	Kind   string
	Tenant string // the tenant of a TOTP key; "" for deployment-wide kinds
	ID     string
	Sealed []byte
	KeyID  string // the field key that sealed it
}

// SealedCount is how many values of Kind are sealed under KeyID.
type SealedCount struct {
	Kind, KeyID string
	N           int64
}

// SealedFieldStore reads and re-seals sealed values across tenants, for a master key
// rotation. Soft-deleted rows are included: they are still secrets at rest.
type SealedFieldStore interface {
	// CountSealed counts the sealed values by kind and key id.
	CountSealed(ctx context.Context) ([]SealedCount, error)
	// SealedNotUnder returns up to limit values of kind sealed under a key other than
	// keyID, ordered by (Tenant, ID), starting after position after (the zero value:
	// from the start).
	SealedNotUnder(ctx context.Context, kind, keyID string, after SealedField, limit int) ([]SealedField, error)
	// Reseal stores sealed under keyID in place of f, only if the row still holds
	// f.Sealed under f.KeyID; false when it changed meanwhile (re-enrolled, re-sealed
	// by another rotation) or is gone: then it is left as it is.
	Reseal(ctx context.Context, f SealedField, sealed []byte, keyID string) (bool, error)
}
