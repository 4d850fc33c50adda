package exportcrypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

var updateFixture = flag.Bool("update-fixture", false, "encrypt testdata/export.json again into testdata/export.json.enc")

// The fuzz fixture: a real tenant export (testdata/export.json, written by
// admin.TenantExport from a seeded workspace) encrypted under the tests' password with
// the fewest iterations a reader accepts and the smallest chunk size, so that its three
// chunks give the fuzzer chunk boundaries to play with.
const fixtureChunk = MinChunkSize

func fixture(tb testing.TB) (plain, file []byte) {
	tb.Helper()
	plain, err := os.ReadFile("testdata/export.json")
	if err != nil {
		tb.Fatal(err)
	}
	if *updateFixture {
		if err := os.WriteFile("testdata/export.json.enc", seal(tb, plain, fixtureChunk, 1000), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if file, err = os.ReadFile("testdata/export.json.enc"); err != nil {
		tb.Fatal(err)
	}
	return plain, file
}

// TestFixtureDecrypts: the fuzz fixture is a valid export of three chunks (so that
// FuzzReader starts from a file that decrypts).
func TestFixtureDecrypts(t *testing.T) {
	plain, file := fixture(t)
	if got, err := open(file, password); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if _, cs := chunks(file, fixtureChunk); len(cs) != 3 {
		t.Fatalf("%d chunks", len(cs))
	}
}

// FuzzReader feeds the decryptor any file. When reseal is set, the file's header gets
// the fixture's salt and iteration count and a correct password check and checksum, so
// that the fuzzer reaches the chunks with any chunk size and nonce prefix it likes
// (without it, every changed header stops at the checksum).
//
// The promises: it never panics; it allocates for a chunk no more than the largest
// chunk size a header may give; everything it returns is a prefix of the genuine
// plaintext (no altered, truncated, reordered or foreign chunk ever yields a byte);
// reading to the end succeeds only for the fixture exactly; and every failure after
// the header is ErrCorrupt.
func FuzzReader(f *testing.F) {
	plain, file := fixture(f)
	hdr, cs := chunks(file, fixtureChunk)
	f.Add(file, false)
	f.Add(file[:len(file)-1], false)
	f.Add(file[:HeaderSize+fixtureChunk+tagSize], false)
	f.Add(join(hdr, cs[1], cs[0], cs[2]), false)
	f.Add(join(hdr, cs[0], cs[2]), false)
	f.Add(append(bytes.Clone(file), 0), false)
	f.Add(file[:HeaderSize], false)
	for _, size := range []uint32{0, MinChunkSize - 1, MaxChunkSize, MaxChunkSize + 1, 1 << 31, 0xFFFFFFFF} {
		h := bytes.Clone(hdr)
		binary.BigEndian.PutUint32(h[offChunk:], size)
		f.Add(join(h, cs...), true)
	}
	orig, err := parseHeader(hdr)
	if err != nil {
		f.Fatal(err)
	}
	aead, err := orig.cipher(password)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte, reseal bool) {
		if reseal && len(in) >= HeaderSize {
			in = bytes.Clone(in)
			h := &header{}
			copy(h.raw[:], in)
			copy(h.raw[offIter:offChunk], hdr[offIter:offChunk]) // iterations and salt
			h.slice()
			h.seal(aead)
			copy(in, h.raw[:])
		}
		r, err := NewReader(iotest.HalfReader(bytes.NewReader(in)), password)
		if err != nil {
			return
		}
		if x := r.(*reader); cap(x.buf) > MaxChunkSize+tagSize+1 || cap(x.out) > MaxChunkSize {
			t.Fatalf("buffers of %d and %d bytes", cap(x.buf), cap(x.out))
		}
		got, err := io.ReadAll(r)
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("returned %d bytes that are not the start of the plaintext (err %v)", len(got), err)
		}
		switch {
		case err == nil && !bytes.Equal(in, file):
			t.Fatalf("a file of %d bytes that is not the fixture decrypted without error", len(in))
		case err == nil && !bytes.Equal(got, plain):
			t.Fatalf("the fixture decrypted to %d bytes, want %d", len(got), len(plain))
		case err != nil && !errors.Is(err, ErrCorrupt):
			t.Fatalf("a failure after the header is not ErrCorrupt: %v", err)
		}
	})
}
