package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// MasterKeySize is the size of the operator's master key.
const MasterKeySize = 32

// ErrUnknownKey: a sealed field names a key id this process does not have.
var ErrUnknownKey = errors.New("field sealed with an unknown key")

// FieldCipher seals secrets kept in the store (TOTP keys) with AES-256-GCM. Field keys
// are derived from master keys with HKDF-SHA256 and named by a key id, so a rotation
// can add a new master key and still open fields sealed under the old one. The
// associated data binds a ciphertext to its row (tenant, user, purpose): a sealed
// value copied into another row does not open.
type FieldCipher struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewFieldCipher derives field keys from the master keys; the first one seals new
// values, all of them open.
func NewFieldCipher(masters ...[]byte) (*FieldCipher, error) {
	if len(masters) == 0 {
		return nil, errors.New("no master key")
	}
	fc := &FieldCipher{aeads: map[string]cipher.AEAD{}}
	for i, m := range masters {
		if len(m) != MasterKeySize {
			return nil, fmt.Errorf("master key %d: %d bytes, want %d", i+1, len(m), MasterKeySize)
		}
		key, err := hkdf.Key(sha256.New, m, nil, "gatehouse field encryption v1", 32)
		if err != nil {
			return nil, fmt.Errorf("deriving field key: %w", err)
		}
		id := keyID(key)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		fc.aeads[id] = aead
		if i == 0 {
			fc.current = id
		}
	}
	return fc, nil
}

// keyID names a field key without revealing it: a truncated hash of the key.
func keyID(key []byte) string {
	h := sha256.Sum256(append([]byte("gatehouse key id\x00"), key...))
	return "k1-" + hex.EncodeToString(h[:6])
}

// Seal encrypts plaintext bound to ad; it returns nonce||ciphertext and the key id.
func (fc *FieldCipher) Seal(plaintext, ad []byte) ([]byte, string) {
	aead := fc.aeads[fc.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, ad), fc.current
}

// Open decrypts a value sealed by Seal under keyID with the same ad.
func (fc *FieldCipher) Open(sealed []byte, keyID string, ad []byte) ([]byte, error) {
	aead, ok := fc.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w (%s)", ErrUnknownKey, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed field too short")
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("opening sealed field: %w", err)
	}
	return pt, nil
}

// AD builds associated data from parts, unambiguously (length-prefixed).
func AD(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = fmt.Appendf(b, "%d:%s;", len(p), p)
	}
	return b
}

// DeriveKey derives a 32-byte key for one purpose (label) from the master key, with
// HKDF-SHA256: keys for different purposes are independent of each other.
func DeriveKey(master []byte, label string) ([]byte, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key: %d bytes, want %d", len(master), MasterKeySize)
	}
	return hkdf.Key(sha256.New, master, nil, "gatehouse "+label, 32)
}
