package risk

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewDeviceID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := NewDeviceID()
		if !ValidDeviceID(id) {
			t.Fatalf("NewDeviceID() = %q is not valid", id)
		}
		if seen[id] {
			t.Fatalf("NewDeviceID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidDeviceID(t *testing.T) {
	t.Parallel()
	good := NewDeviceID()
	for _, id := range []string{
		"",
		"short",
		good[:len(good)-1],
		good + "A",
		strings.Repeat("!", len(good)), // right length, not base64url
		strings.Repeat("+", len(good)), // standard base64, not the URL alphabet
		"; Path=/" + good[8:],
	} {
		if ValidDeviceID(id) {
			t.Errorf("ValidDeviceID(%q) = true", id)
		}
	}
}

func TestDeviceKey(t *testing.T) {
	t.Parallel()
	id := NewDeviceID()
	k := DeviceKey(id, "Chrome on Linux")
	if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
		t.Fatalf("DeviceKey = %q, want 64 hex digits (SHA-256)", k)
	}
	if strings.Contains(k, id) {
		t.Error("the key must not contain the cookie")
	}
	if DeviceKey(id, "Chrome on Linux") != k {
		t.Error("DeviceKey is not deterministic")
	}
	if DeviceKey(id, "Firefox on Windows") == k {
		t.Error("an old cookie from another browser/OS must be a new device")
	}
	if DeviceKey(NewDeviceID(), "Chrome on Linux") == k {
		t.Error("another cookie with the same browser must be a new device")
	}
	if DeviceKey("ab", "c") == DeviceKey("a", "bc") {
		t.Error("the encoding of (id, label) is ambiguous")
	}
	if DeviceKey("", "Chrome on Linux") != "" {
		t.Error("an empty cookie must not produce a key every cookie-less browser shares")
	}
}
