// Package secret generates tokens and identifiers from crypto/rand, hashes tokens for
// storage, and provides a string type that never prints its value.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
)

// TokenBytes is the entropy of every bearer secret Gatehouse issues (session tokens,
// setup links, CSRF tokens).
const TokenBytes = 32

// NewToken returns TokenBytes random bytes, base64url-encoded without padding.
func NewToken() string {
	b := make([]byte, TokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go ≥ 1.24); it panics instead.
	return base64.RawURLEncoding.EncodeToString(b)
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random, URL-safe, lowercase identifier (128 bits) for records.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return idEncoding.EncodeToString(b)
}

// HashToken returns the SHA-256 of a token: the only form in which tokens are stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Equal compares two strings in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Redacted holds a secret (a password, a token, a DSN with credentials). It prints as
// REDACTED in logs, fmt and JSON; Reveal returns the value.
type Redacted string

// String hides the value.
func (Redacted) String() string { return "REDACTED" }

// GoString hides the value from %#v.
func (Redacted) GoString() string { return "REDACTED" }

// MarshalText hides the value from JSON and text encoders (zap included).
func (Redacted) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Reveal returns the secret value.
func (r Redacted) Reveal() string { return string(r) }
