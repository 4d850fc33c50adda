package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateMasterKey reads a base64 master key from path, creating the file (0600,
// directory 0700) with a new random key when it does not exist. A file readable by
// others is refused: it protects every sealed secret in the store.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating master key directory: %w", err)
		}
		key := make([]byte, MasterKeySize)
		_, _ = rand.Read(key)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) { // another process created it first
			return LoadOrCreateMasterKey(path)
		}
		if err != nil {
			return nil, fmt.Errorf("creating master key file: %w", err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("writing master key file: %w", werr)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading master key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is accessible by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return ParseMasterKey(string(b))
}

// ParseMasterKey decodes a base64 master key (from a file or the environment).
func ParseMasterKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, base64-encoded", MasterKeySize)
	}
	return key, nil
}
