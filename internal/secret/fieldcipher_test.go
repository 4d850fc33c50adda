package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	k1, err := LoadOrCreateMasterKeys(path)
	if err != nil || len(k1) != 1 || len(k1[0].Key) != 32 || k1[0].Version != 1 {
		t.Fatal(k1, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateMasterKeys(path)
	if err != nil || !bytes.Equal(k1[0].Key, k2[0].Key) {
		t.Fatal("key not stable across loads")
	}
	// A rotation adds a version atomically; the file keeps its mode.
	nk := NewMasterKey(k2)
	if nk.Version != 2 || bytes.Equal(nk.Key, k1[0].Key) {
		t.Fatalf("new key %d", nk.Version)
	}
	if err := WriteMasterKeyFile(path, append(k2, nk)); err != nil {
		t.Fatal(err)
	}
	k3, err := ReadMasterKeyFile(path)
	if err != nil || len(k3) != 2 || k3[0].Version != 2 || !bytes.Equal(k3[0].Key, nk.Key) || !bytes.Equal(k3[1].Key, k1[0].Key) {
		t.Fatalf("after rotation: %v %v", k3, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rewrite %v", fi.Mode().Perm())
	}
	_ = os.Chmod(path, 0o644)
	if _, err := LoadOrCreateMasterKeys(path); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}

func TestParseMasterKeys(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	// The format before rotation: one bare key, version 1.
	if ks, err := ParseMasterKeys(a + "\n"); err != nil || len(ks) != 1 || ks[0].Version != 1 {
		t.Fatal(ks, err)
	}
	// Versions in any order, comments, commas (a configured value): newest first.
	ks, err := ParseMasterKeys("# keys\nv1:" + a + ", v2:" + b + " # newest\n")
	if err != nil || len(ks) != 2 || ks[0].Version != 2 || ks[0].Key[0] != 2 {
		t.Fatal(ks, err)
	}
	for _, bad := range []string{"", "v1:" + a + " v1:" + b, a + " v2:" + b, "v0:" + a, "x1:" + a, "v1:" + a[:10], "v1:!!"} {
		if _, err := ParseMasterKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// The error names the line.
	if _, err := ParseMasterKeys("v1:" + a + "\nv2:short"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v", err)
	}
}

func TestLockMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	unlock, err := LockMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockMasterKeyFile(path); err == nil {
		t.Fatal("second lock taken while the first is held")
	}
	unlock()
	unlock2, err := LockMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

// A cipher following its key file opens a value sealed under a version added after it
// started (another instance, or keys rotate) at once, and seals under the newest
// version once its interval has passed.
func TestFieldCipherFollowsKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v1, err := LoadOrCreateMasterKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	running, _ := NewVersionedFieldCipher(v1)
	running.WithReload(func() ([]MasterKey, error) { return ReadMasterKeyFile(path) }, time.Hour)
	_, before := running.Seal([]byte("x"), nil)

	v2 := append([]MasterKey{NewMasterKey(v1)}, v1...)
	if err := WriteMasterKeyFile(path, v2); err != nil {
		t.Fatal(err)
	}
	rotator, _ := NewVersionedFieldCipher(v2)
	sealed, kid := rotator.Seal([]byte("secret"), AD("row"))
	if kid == before {
		t.Fatal("the new version seals under the old key id")
	}
	if pt, err := running.Open(sealed, kid, AD("row")); err != nil || string(pt) != "secret" {
		t.Fatalf("running cipher does not open a value sealed under the new version: %v", err)
	}
	if running.Current() != kid {
		t.Fatal("after reading the file again the new version does not seal")
	}
	// Without reload: an unknown key stays unknown.
	fixed, _ := NewVersionedFieldCipher(v1)
	if _, err := fixed.Open(sealed, kid, AD("row")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("fixed cipher: %v", err)
	}
	// Seal looks at the file again once the interval has passed.
	lazy, _ := NewVersionedFieldCipher(v1)
	lazy.WithReload(func() ([]MasterKey, error) { return ReadMasterKeyFile(path) }, 0)
	if _, kid2 := lazy.Seal([]byte("y"), nil); kid2 != kid {
		t.Fatal("Seal did not pick up the new version after the interval")
	}
}
