package risk

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Devices are recognised by a long-lived random cookie rather than by fingerprinting:
// a cookie is explicit, needs no invasive signals, and a user who clears it simply
// looks like a new device (an e-mail, not a lock-out).

// NewDeviceID returns a fresh device cookie value: 256 bits from crypto/rand,
// base64url without padding. The caller sets it as a long-lived, HttpOnly cookie.
func NewDeviceID() string {
	return secret.NewToken()
}

// deviceIDLen is the length of every ID NewDeviceID issues.
var deviceIDLen = base64.RawURLEncoding.EncodedLen(secret.TokenBytes)

// ValidDeviceID reports whether id has the shape NewDeviceID produces. The cookie
// comes from the client, so callers should replace anything else with a fresh ID
// instead of storing attacker-chosen strings.
func ValidDeviceID(id string) bool {
	if len(id) != deviceIDLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

// deviceKeyDomain separates these hashes from any other SHA-256 Gatehouse computes,
// and versions the derivation should it ever change.
const deviceKeyDomain = "gatehouse/risk/device-key/v1"

// DeviceKey is what the store keeps to recognise a device: the SHA-256 (hex) of the
// device cookie and the coarse DeviceLabel together. Hashing means a leaked store
// does not hand out cookies that would make an attacker's browser look familiar;
// binding the label means an old cookie replayed from a different browser or OS
// still counts as a new device.
//
// An empty deviceID yields "": every cookie-less sign-in would otherwise share one
// key, and the first one seen would make all later ones look known.
func DeviceKey(deviceID, label string) string {
	if deviceID == "" {
		return ""
	}
	h := sha256.New()
	// Length prefixes keep the encoding unambiguous: ("ab","c") and ("a","bc")
	// must not hash alike.
	for _, part := range []string{deviceKeyDomain, deviceID, label} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}
