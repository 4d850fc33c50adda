package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFieldCipherBindsRowAndKey(t *testing.T) {
	m1, m2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	fc, err := NewFieldCipher(m1)
	if err != nil {
		t.Fatal(err)
	}
	ad := AD("tenant-a", "user-1", "totp")
	sealed, kid := fc.Seal([]byte("JBSWY3DPEHPK3PXP"), ad)
	if bytes.Contains(sealed, []byte("JBSWY3DP")) {
		t.Fatal("plaintext visible in sealed value")
	}
	if pt, err := fc.Open(sealed, kid, ad); err != nil || string(pt) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open: %q %v", pt, err)
	}
	// Copied to another row: refused.
	if _, err := fc.Open(sealed, kid, AD("tenant-a", "user-2", "totp")); err == nil {
		t.Fatal("sealed value opened under another row's associated data")
	}
	// Tampered: refused.
	bad := append([]byte(nil), sealed...)
	bad[len(bad)-1] ^= 1
	if _, err := fc.Open(bad, kid, ad); err == nil {
		t.Fatal("tampered value opened")
	}
	// Rotation: a cipher with a new current key still opens old values.
	rotated, _ := NewFieldCipher(m2, m1)
	if pt, err := rotated.Open(sealed, kid, ad); err != nil || string(pt) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("rotated cipher cannot open old value: %v", err)
	}
	if _, kid2 := rotated.Seal([]byte("x"), ad); kid2 == kid {
		t.Fatal("new values sealed under the old key")
	}
	other, _ := NewFieldCipher(m2)
	if _, err := other.Open(sealed, kid, ad); err == nil {
		t.Fatal("opened without the key")
	}
	if AD("ab", "c") == nil || bytes.Equal(AD("ab", "c"), AD("a", "bc")) {
		t.Fatal("AD is ambiguous")
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	k1, err := LoadOrCreateMasterKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("key not stable across loads")
	}
	_ = os.Chmod(path, 0o644)
	if _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}
