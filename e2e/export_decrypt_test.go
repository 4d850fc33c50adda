package e2e

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
)

// decryptWithBinary runs `gatehouse export decrypt --password-stdin args...` with
// stdin and returns stdout, stderr and the exit code.
func decryptWithBinary(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"export", "decrypt", "--password-stdin"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// The built binary decrypts a password-protected export, and refuses a wrong password
// or a truncated file with exit 1, the reason, and no output file.
func TestExportDecryptBinary(t *testing.T) {
	const pw = "export passphrase for the e2e test"
	plain := make([]byte, 300_000)
	rand.Read(plain)
	var enc bytes.Buffer
	w, err := exportcrypt.NewWriter(&enc, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "acme.enc"), filepath.Join(dir, "acme.json")
	if err := os.WriteFile(in, enc.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := decryptWithBinary(t, []byte(pw+"\n"), "-i", in, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes: %v", len(got), err)
	}
	os.Remove(out)

	cut := filepath.Join(dir, "cut.enc")
	if err := os.WriteFile(cut, enc.Bytes()[:exportcrypt.HeaderSize+2*(exportcrypt.ChunkSize+16)], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, pw, in, why string }{
		{"wrong password", "guess", in, "wrong password"},
		{"truncated", pw, cut, "the encrypted export is truncated"},
	} {
		stdout, stderr, code := decryptWithBinary(t, []byte(c.pw+"\n"), "-i", c.in, "-o", out)
		if code != 1 || !strings.Contains(stderr, c.why) || stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, want exit 1 and %q", c.name, code, stderr, c.why)
		}
		if es, _ := os.ReadDir(dir); len(es) != 2 {
			t.Errorf("%s: left behind: %v", c.name, es)
		}
	}

	help, _, code := runBinary(t, "export", "--help")
	if code != 0 || !strings.Contains(help, "decrypt") {
		t.Errorf("export --help (exit %d) does not list decrypt:\n%s", code, help)
	}
}
