package recovery

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	codes, hashes := Generate()
	if len(codes) != Count || len(hashes) != Count {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 14 || strings.Count(c, "-") != 2 || seen[c] || !LooksLikeCode(c) {
			t.Errorf("code %q", c)
		}
		seen[c] = true
		if !bytes.Equal(Hash(c), hashes[i]) || bytes.Contains(hashes[i], []byte(c)) {
			t.Errorf("hash of %q", c)
		}
		// What people type: upper case, no dashes, spaces.
		typed := strings.ToUpper(strings.ReplaceAll(c, "-", " "))
		if !bytes.Equal(Hash(typed), hashes[i]) {
			t.Errorf("typed form %q does not match", typed)
		}
	}
	if LooksLikeCode("123456") {
		t.Error("a TOTP code looks like a recovery code")
	}
}
