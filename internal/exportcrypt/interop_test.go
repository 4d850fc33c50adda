package exportcrypt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The interop tests run testdata/exportcrypt.py, a decrypter and encrypter written
// from the README's description of the format alone, with Debian's python3 and its
// python3-cryptography package (not whatever python3 is first on PATH).
const python = "/usr/bin/python3"

// needPython stops the test when the interpreter or the cryptography package is
// missing (a failure in CI).
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		testenv.Need(t, python+" (Debian's python3) is not installed")
	}
	if out, err := exec.Command(python, "-c", "import cryptography.hazmat.primitives.ciphers.aead").CombinedOutput(); err != nil {
		testenv.Need(t, python+" lacks the cryptography package (apt-get install python3-cryptography): "+strings.TrimSpace(string(out)))
	}
}

// runPython runs exportcrypt.py mode in out with the password on stdin; it returns
// the error and stderr.
func runPython(t *testing.T, mode, in, out string, pw []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"testdata/exportcrypt.py", mode, in, out}, args...)...)
	cmd.Stdin = bytes.NewReader(append(bytes.Clone(pw), '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func TestPythonDecryptsGoExport(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 5, 1 << 20} {
		plain := randomBytes(n)
		var file bytes.Buffer
		w, err := NewWriter(&file, password) // the real parameters: 200,000 iterations, 64 KiB
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		in, out := filepath.Join(dir, "export.enc"), filepath.Join(dir, "export.json")
		if err := os.WriteFile(in, file.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if stderr, err := runPython(t, "decrypt", in, out, password); err != nil {
			t.Fatalf("%d bytes: python refused Gatehouse's file: %v %s", n, err, stderr)
		}
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: python decrypted %d bytes (equal %v), %v", n, len(got), bytes.Equal(got, plain), err)
		}
		os.Remove(out)
	}
}

// The format itself makes damage detectable: a reader written from the README alone
// refuses a wrong password and a truncated, reordered, altered or extended file.
func TestPythonRefusesDamagedGoExport(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	var file bytes.Buffer
	w, err := NewWriter(&file, password)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(3*ChunkSize + 100))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := file.Bytes()
	header, cs := chunks(good, ChunkSize)
	flipped := bytes.Clone(good)
	flipped[HeaderSize+(ChunkSize+tagSize)+7] ^= 0x80 // in chunk 1
	for _, c := range []struct {
		name, why string
		file      []byte
		pw        []byte
	}{
		{"wrong password", "wrong password", good, []byte("not the password")},
		{"truncated at a chunk boundary", "chunk 2 does not authenticate", join(header, cs[:3]...), password},
		{"truncated mid-chunk", "chunk 3 does not authenticate", good[:len(good)-50], password},
		{"reordered", "chunk 1 does not authenticate", join(header, cs[0], cs[2], cs[1], cs[3]), password},
		{"a flipped byte", "chunk 1 does not authenticate", flipped, password},
		{"appended data", "chunk 3 does not authenticate", append(bytes.Clone(good), "more"...), password},
	} {
		in, out := filepath.Join(dir, "damaged.enc"), filepath.Join(dir, "damaged.out")
		if err := os.WriteFile(in, c.file, 0o600); err != nil {
			t.Fatal(err)
		}
		stderr, err := runPython(t, "decrypt", in, out, c.pw)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr, c.why) {
			t.Errorf("%s: python said %v %q, want exit 1 and %q", c.name, err, stderr, c.why)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: python left an output file", c.name)
		}
	}
}

func TestGoDecryptsPythonExport(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	for _, c := range []struct{ n, chunk int }{{0, ChunkSize}, {ChunkSize, ChunkSize}, {2*ChunkSize + 1, ChunkSize}, {10000, MinChunkSize}} {
		plain := randomBytes(c.n)
		in, out := filepath.Join(dir, "plain"), filepath.Join(dir, "python.enc")
		if err := os.WriteFile(in, plain, 0o600); err != nil {
			t.Fatal(err)
		}
		if stderr, err := runPython(t, "encrypt", in, out, password, itoa(c.chunk)); err != nil {
			t.Fatalf("python encrypt: %v %s", err, stderr)
		}
		file, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := open(file, password)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes in chunks of %d: Gatehouse read %d bytes (equal %v): %v", c.n, c.chunk, len(got), bytes.Equal(got, plain), err)
		}
		if _, err := open(file[:len(file)-1], password); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("python's file cut short: %v", err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
