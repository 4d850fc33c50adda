package caddymodule

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
)

// encryptExport writes plain as a password-protected export.
func encryptExport(t *testing.T, plain []byte, pw string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := exportcrypt.NewWriter(&b, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// runExport runs `export <args>` as the CLI would, with stdin; it returns stdout,
// stderr and the error.
func runExport(stdin []byte, args ...string) (string, string, error) {
	cmd := exportCmd()
	var out, errw bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(bytes.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errw)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), errw.String(), err
}

// entries lists dir, to see that a failed decryption left nothing behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestExportDecryptCommand(t *testing.T) {
	const pw = "tenant export passphrase"
	plain := make([]byte, 200_000) // several chunks
	rand.Read(plain)
	enc := encryptExport(t, plain, pw)
	dir := t.TempDir()
	in := filepath.Join(dir, "acme.json.enc")
	if err := os.WriteFile(in, enc, 0o600); err != nil {
		t.Fatal(err)
	}

	// File to file, the password on stdin: the plaintext, 0600, nothing else left.
	out := filepath.Join(dir, "acme.json")
	_, stderr, err := runExport([]byte(pw+"\n"), "decrypt", "--password-stdin", "-i", in, "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes, equal %v: %v", len(got), bytes.Equal(got, plain), err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("output mode %v", fi.Mode())
	}
	if want := "decrypted " + in + " to " + out + " (200000 bytes)\n"; stderr != want {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
	if es := entries(t, dir); len(es) != 2 {
		t.Fatalf("left in the directory: %q", es)
	}

	// Standard input (after the password line) to standard output; CRLF line ending.
	stdout, _, err := runExport(append([]byte(pw+"\r\n"), enc...), "decrypt", "--password-stdin")
	if err != nil || stdout != string(plain) {
		t.Fatalf("stdin to stdout: %d bytes, %v", len(stdout), err)
	}
}

// A wrong password or a damaged file fails with the reason and writes nothing: no
// output file (an existing one is left as it was), no temporary file, nothing on
// standard output.
func TestExportDecryptRefuses(t *testing.T) {
	const pw = "tenant export passphrase"
	plain := bytes.Repeat([]byte("member,alice@example.com\n"), 10_000)
	enc := encryptExport(t, plain, pw)
	flipped := bytes.Clone(enc)
	flipped[len(flipped)-100] ^= 1
	for _, c := range []struct {
		name, pw, why string
		file          []byte
	}{
		{"wrong password", "not the passphrase", "wrong password", enc},
		{"truncated at a chunk boundary", pw, "truncated", enc[:exportcrypt.HeaderSize+exportcrypt.ChunkSize+16]},
		{"truncated mid-chunk", pw, "does not authenticate", enc[:len(enc)-1]},
		{"a flipped byte", pw, "does not authenticate", flipped},
		{"appended data", pw, "damaged or was altered", append(bytes.Clone(enc), 'x')},
		{"not an encrypted export", pw, "not a password-protected Gatehouse export", plain},
		{"empty password line", "", "the first line of standard input is empty", enc},
	} {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.enc"), filepath.Join(dir, "out.json")
		if err := os.WriteFile(in, c.file, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := runExport([]byte(c.pw+"\n"), "decrypt", "--password-stdin", "-i", in, "-o", out)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want %q", c.name, err, c.why)
		}
		if es := entries(t, dir); len(es) != 1 {
			t.Errorf("%s: left in the directory: %q", c.name, es)
		}

		if err := os.WriteFile(out, []byte("previous"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := runExport([]byte(c.pw+"\n"), "decrypt", "--password-stdin", "-i", in, "-o", out); err == nil {
			t.Errorf("%s: over an existing file: no error", c.name)
		}
		if b, _ := os.ReadFile(out); string(b) != "previous" {
			t.Errorf("%s: the existing output file was changed", c.name)
		}

		stdout, _, err := runExport(append([]byte(c.pw+"\n"), c.file...), "decrypt", "--password-stdin")
		if err == nil || stdout != "" {
			t.Errorf("%s: to standard output: %d bytes written, %v", c.name, len(stdout), err)
		}
	}
}
