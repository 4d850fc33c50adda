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
	"sync"
	"sync/atomic"
	"time"
)

// MasterKeySize is the size of the operator's master key.
const MasterKeySize = 32

// ErrUnknownKey: a sealed field names a key id this process does not have.
var ErrUnknownKey = errors.New("field sealed with an unknown key")

// FieldCipher seals secrets kept in the store (TOTP keys, signing keys) with
// AES-256-GCM. Field keys are derived from master keys with HKDF-SHA256 and named by
// a key id, so a rotation can add a new master key and still open fields sealed under
// the old one. The associated data binds a ciphertext to its row (tenant, user,
// purpose): a sealed value copied into another row does not open.
//
// A cipher made WithReload follows its key file: a value sealed under a key id it
// does not know makes it read the file again (another instance or `gatehouse keys
// rotate` added a version), and Seal looks at the file at most every interval, so
// that a new version seals everywhere soon after it is added.
type FieldCipher struct {
	keys atomic.Pointer[fieldKeys]

	reload   func() ([]MasterKey, error)
	interval time.Duration
	mu       sync.Mutex // serialises reloads
	checked  atomic.Int64
}

// fieldKeys is one immutable set of field keys.
type fieldKeys struct {
	current string
	aeads   map[string]cipher.AEAD
	ids     []string // newest first
}

// NewFieldCipher derives field keys from the master keys; the first one seals new
// values, all of them open.
func NewFieldCipher(masters ...[]byte) (*FieldCipher, error) {
	keys := make([]MasterKey, len(masters))
	for i, m := range masters {
		keys[i] = MasterKey{Version: len(masters) - i, Key: m}
	}
	return NewVersionedFieldCipher(keys)
}

// NewVersionedFieldCipher derives field keys from master key versions; the highest
// version seals.
func NewVersionedFieldCipher(keys []MasterKey) (*FieldCipher, error) {
	fk, err := deriveFieldKeys(keys)
	if err != nil {
		return nil, err
	}
	fc := &FieldCipher{}
	fc.keys.Store(fk)
	return fc, nil
}

func deriveFieldKeys(keys []MasterKey) (*fieldKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("no master key")
	}
	fk := &fieldKeys{aeads: map[string]cipher.AEAD{}}
	newest := -1
	for _, m := range keys {
		if len(m.Key) != MasterKeySize {
			return nil, fmt.Errorf("master key v%d: %d bytes, want %d", m.Version, len(m.Key), MasterKeySize)
		}
		key, err := fieldKey(m.Key)
		if err != nil {
			return nil, err
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
		fk.aeads[id] = aead
		fk.ids = append(fk.ids, id)
		if m.Version > newest {
			newest, fk.current = m.Version, id
		}
	}
	return fk, nil
}

// fieldKey derives the field-encryption key from a master key.
func fieldKey(master []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, master, nil, "gatehouse field encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving field key: %w", err)
	}
	return key, nil
}

// WithReload makes fc follow load (the key file): read again when a sealed value
// names an unknown key id, and before sealing once interval has passed since the last
// look. It returns fc.
func (fc *FieldCipher) WithReload(load func() ([]MasterKey, error), interval time.Duration) *FieldCipher {
	fc.reload, fc.interval = load, interval
	fc.checked.Store(time.Now().UnixNano())
	return fc
}

// Reload reads the keys again now (a no-op without WithReload). A failed read keeps
// the keys the cipher has.
func (fc *FieldCipher) Reload() error {
	if fc.reload == nil {
		return nil
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.checked.Store(time.Now().UnixNano())
	keys, err := fc.reload()
	if err != nil {
		return err
	}
	fk, err := deriveFieldKeys(keys)
	if err != nil {
		return err
	}
	fc.keys.Store(fk)
	return nil
}

// Current is the id of the key that seals new values.
func (fc *FieldCipher) Current() string { return fc.keys.Load().current }

// KeyIDs lists the ids of every key the cipher opens with.
func (fc *FieldCipher) KeyIDs() []string { return append([]string(nil), fc.keys.Load().ids...) }

// keyID names a field key without revealing it: a truncated hash of the key.
func keyID(key []byte) string {
	h := sha256.Sum256(append([]byte("gatehouse key id\x00"), key...))
	return "k1-" + hex.EncodeToString(h[:6])
}

// Seal encrypts plaintext bound to ad; it returns nonce||ciphertext and the key id.
func (fc *FieldCipher) Seal(plaintext, ad []byte) ([]byte, string) {
	if fc.reload != nil && time.Since(time.Unix(0, fc.checked.Load())) >= fc.interval {
		_ = fc.Reload() // unreadable for a moment: seal with the keys we have
	}
	fk := fc.keys.Load()
	aead := fk.aeads[fk.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, ad), fk.current
}

// Open decrypts a value sealed by Seal under keyID with the same ad.
func (fc *FieldCipher) Open(sealed []byte, keyID string, ad []byte) ([]byte, error) {
	aead, ok := fc.keys.Load().aeads[keyID]
	if !ok && fc.reload != nil {
		if err := fc.Reload(); err != nil {
			return nil, fmt.Errorf("%w (%s); reading the master keys again: %v", ErrUnknownKey, keyID, err)
		}
		aead, ok = fc.keys.Load().aeads[keyID]
	}
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
