package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// MasterKey is one version of the operator's master key. Rotation adds a version; the
// highest one seals new values, every one still opens what it sealed.
type MasterKey struct {
	Version int
	Key     []byte
}

// KeyID names the field key derived from this master key: the id stored beside
// every value it seals.
func (m MasterKey) KeyID() string {
	key, err := fieldKey(m.Key)
	if err != nil {
		return ""
	}
	return keyID(key)
}

// keyFileHeader starts every key file Gatehouse writes.
const keyFileHeader = "# Gatehouse master keys. The highest version seals, every version opens what it sealed.\n" +
	"# Keep this file private (0600) and back it up apart from the database: without it\n" +
	"# nothing sealed in the database (TOTP secrets, signing keys) can be opened.\n"

// ParseMasterKeys reads master key versions from a key file or a configured value:
// entries "vN:BASE64" separated by white space or commas ('#' starts a comment that
// runs to the end of the line). A lone bare base64 key — the format before rotation
// existed — is version 1. Versions must be unique; the list comes back newest first.
func ParseMasterKeys(s string) ([]MasterKey, error) {
	var keys []MasterKey
	bare := 0
	for ln, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, tok := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			v, b64 := 1, tok
			if ver, rest, ok := strings.Cut(tok, ":"); ok {
				n, err := strconv.Atoi(strings.TrimPrefix(ver, "v"))
				if !strings.HasPrefix(ver, "v") || err != nil || n < 1 {
					return nil, fmt.Errorf("line %d: %q: a key version is v1, v2, …", ln+1, ver)
				}
				v, b64 = n, rest
			} else {
				bare++
			}
			key, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(key) != MasterKeySize {
				return nil, fmt.Errorf("line %d: master key v%d must be %d bytes, base64-encoded", ln+1, v, MasterKeySize)
			}
			keys = append(keys, MasterKey{Version: v, Key: key})
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no master key")
	}
	if bare > 0 && len(keys) > 1 {
		return nil, errors.New("several master keys: give each its version (v1:KEY v2:KEY)")
	}
	slices.SortFunc(keys, func(a, b MasterKey) int { return b.Version - a.Version })
	for i := 1; i < len(keys); i++ {
		if keys[i].Version == keys[i-1].Version {
			return nil, fmt.Errorf("master key v%d is given twice", keys[i].Version)
		}
	}
	return keys, nil
}

// FormatMasterKeys writes keys in the key-file format, newest first.
func FormatMasterKeys(keys []MasterKey) string {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b MasterKey) int { return b.Version - a.Version })
	var b strings.Builder
	b.WriteString(keyFileHeader)
	for _, k := range keys {
		fmt.Fprintf(&b, "v%d:%s\n", k.Version, base64.StdEncoding.EncodeToString(k.Key))
	}
	return b.String()
}

// NewMasterKey returns a random master key one version above the newest of keys.
func NewMasterKey(keys []MasterKey) MasterKey {
	v := 1
	for _, k := range keys {
		v = max(v, k.Version+1)
	}
	key := make([]byte, MasterKeySize)
	_, _ = rand.Read(key)
	return MasterKey{Version: v, Key: key}
}

// LoadOrCreateMasterKeys reads the key file at path, creating it (0600, directory
// 0700) with one new random key when it does not exist. A file readable by others is
// refused: it protects every sealed secret in the store.
func LoadOrCreateMasterKeys(path string) ([]MasterKey, error) {
	keys, err := ReadMasterKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating master key directory: %w", err)
	}
	keys = []MasterKey{NewMasterKey(nil)}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return ReadMasterKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating master key file: %w", err)
	}
	_, werr := f.WriteString(FormatMasterKeys(keys))
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("writing master key file: %w", werr)
	}
	return keys, nil
}

// ReadMasterKeyFile reads an existing key file (fs.ErrNotExist when there is none).
func ReadMasterKeyFile(path string) ([]MasterKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading master key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is accessible by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	keys, err := ParseMasterKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return keys, nil
}

// WriteMasterKeyFile replaces the key file at path with keys, atomically: a reader
// (a running gateway reloading it) sees the old file or the new one, never a part;
// after a crash the file is one of the two.
func WriteMasterKeyFile(path string, keys []MasterKey) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".masterkey-*")
	if err != nil {
		return fmt.Errorf("writing master key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing there
	_, werr := tmp.WriteString(FormatMasterKeys(keys))
	if err := tmp.Chmod(0o600); werr == nil {
		werr = err
	}
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		return fmt.Errorf("writing master key file: %w", werr)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // the rename itself durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LockMasterKeyFile takes an exclusive lock beside the key file (path + ".lock") so
// that two rotations do not both add a version; unlock releases it.
func LockMasterKeyFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the master key file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("the master key file is locked by another gatehouse keys command (%s.lock)", path)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
