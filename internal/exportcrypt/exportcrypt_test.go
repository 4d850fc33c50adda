package exportcrypt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

var password = []byte("correct horse battery staple")

// TestMain remembers derived keys: the tests open the same files again and again, and
// PBKDF2 with 100,000 iterations or more takes most of a second under the race
// detector. Every key is still derived by PBKDF2 once (and the interop tests check the
// derivation against Python's).
func TestMain(m *testing.M) {
	var mu sync.Mutex
	keys := map[string][]byte{}
	derive := deriveKey
	deriveKey = func(password, salt []byte, iterations int) ([]byte, error) {
		id := fmt.Sprintf("%x/%x/%d", password, salt, iterations)
		mu.Lock()
		defer mu.Unlock()
		if k, ok := keys[id]; ok {
			return k, nil
		}
		k, err := derive(password, salt, iterations)
		if err == nil {
			keys[id] = k
		}
		return k, err
	}
	os.Exit(m.Run())
}

// small is the chunk size of the tests that work on chunk boundaries: many chunks
// in little data.
const small = MinChunkSize

// seal encrypts plain with the given chunk size (the fewest iterations a reader
// accepts, to keep the tests fast), writing it in pieces of write bytes.
func seal(t testing.TB, plain []byte, chunkSize, write int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := newWriter(&out, password, MinIterations, chunkSize)
	if err != nil {
		t.Fatal(err)
	}
	for p := plain; len(p) > 0; {
		n := min(write, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// open decrypts a whole file.
func open(file, pw []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(file), pw)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// chunks cuts a file into its header and its chunks.
func chunks(file []byte, chunkSize int) (header []byte, cs [][]byte) {
	header, rest := file[:HeaderSize], file[HeaderSize:]
	for len(rest) > 0 {
		n := min(len(rest), chunkSize+tagSize)
		cs, rest = append(cs, rest[:n]), rest[n:]
	}
	return header, cs
}

func join(header []byte, cs ...[]byte) []byte {
	return bytes.Join(append([][]byte{header}, cs...), nil)
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3 * ChunkSize, 5<<20 + 7} {
		plain := randomBytes(n)
		var file bytes.Buffer
		// NewWriter's 200,000 iterations for the small sizes; the fewest accepted for
		// the rest (the race detector makes PBKDF2 slow).
		var w io.WriteCloser
		var err error
		iterations := uint32(Iterations)
		if n <= 1 {
			w, err = NewWriter(&file, password)
		} else {
			iterations = MinIterations
			w, err = newWriter(&file, password, MinIterations, ChunkSize)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Odd-sized writes cross chunk boundaries anywhere.
		if _, err := io.CopyBuffer(w, bytes.NewReader(plain), make([]byte, 10007)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// Header, then ceil(n/C) chunks (at least one) of C+16 bytes but the last.
		nChunks := max(1, (n+ChunkSize-1)/ChunkSize)
		if want := HeaderSize + n + nChunks*tagSize; file.Len() != want {
			t.Fatalf("%d bytes: file is %d bytes, want %d", n, file.Len(), want)
		}
		h, err := parseHeader(file.Bytes()[:HeaderSize])
		if err != nil || h.iterations != iterations || h.chunkSize != 65536 {
			t.Fatalf("%d bytes: header %+v %v", n, h, err)
		}
		if n >= 64 && bytes.Contains(file.Bytes(), plain[:64]) {
			t.Fatalf("%d bytes: the plaintext shows in the file", n)
		}
		// Read back through a reader that returns little at a time.
		r, err := NewReader(iotest.HalfReader(&file), password)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 100)))
		if err == nil {
			var rest []byte
			rest, err = io.ReadAll(r)
			got = append(got, rest...)
		}
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: read back %d bytes, equal %v, err %v", n, len(got), bytes.Equal(got, plain), err)
		}
	}
}

func TestSaltAndNonceAreFresh(t *testing.T) {
	plain := []byte("the same export twice")
	a, b := seal(t, plain, small, 100), seal(t, plain, small, 100)
	if bytes.Equal(a[offSalt:offChunk], b[offSalt:offChunk]) || bytes.Equal(a[offPrefix:offCheck], b[offPrefix:offCheck]) ||
		bytes.Equal(a[HeaderSize:], b[HeaderSize:]) {
		t.Fatal("two encryptions share a salt, a nonce prefix or a ciphertext")
	}
}

func TestWrongPassword(t *testing.T) {
	file := seal(t, []byte("secret members list"), small, 100)
	for _, pw := range [][]byte{[]byte("correct horse battery stapler"), []byte("Correct horse battery staple"), {}} {
		_, err := open(file, pw)
		if !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrCorrupt) || err.Error() != "wrong password" {
			t.Fatalf("password %q: %v", pw, err)
		}
	}
	if _, err := NewWriter(io.Discard, nil); !errors.Is(err, ErrEmptyPassword) {
		t.Fatalf("empty password for writing: %v", err)
	}
}

func TestTruncated(t *testing.T) {
	plain := randomBytes(4*small + 300) // five chunks, the last one of 300 bytes
	file := seal(t, plain, small, 777)
	header, cs := chunks(file, small)
	if len(cs) != 5 {
		t.Fatalf("%d chunks", len(cs))
	}
	// Cut at every chunk boundary: the chunk before the cut was not written as the last.
	for k := 0; k < len(cs); k++ {
		cut := join(header, cs[:k]...)
		got, err := open(cut, password)
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut after %d chunks: %v", k, err)
		}
		// What was handed out before the error is a prefix of the plaintext, never more.
		if !bytes.HasPrefix(plain, got) || len(got) > max(0, k-1)*small {
			t.Fatalf("cut after %d chunks: %d bytes read before the error", k, len(got))
		}
	}
	// Cut inside a chunk (in its ciphertext, in its tag, one byte short) and inside the header.
	for _, at := range []int{HeaderSize + 1, HeaderSize + 15, HeaderSize + small, HeaderSize + small + 15,
		HeaderSize + 2*(small+tagSize) + 500, len(file) - 1, len(file) - tagSize, len(file) - tagSize - 1} {
		if _, err := open(file[:at], password); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at byte %d: %v", at, err)
		}
	}
	for _, at := range []int{len(Magic), HeaderSize - 1} {
		if _, err := open(file[:at], password); !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut in the header at byte %d: %v", at, err)
		}
	}
}

func TestReorderedDroppedRepeated(t *testing.T) {
	file := seal(t, randomBytes(4*small+300), small, 4096)
	header, cs := chunks(file, small)
	other := seal(t, randomBytes(4*small+300), small, 4096)
	_, ocs := chunks(other, small)
	for name, f := range map[string][]byte{
		"swapped 1 and 2":             join(header, cs[0], cs[2], cs[1], cs[3], cs[4]),
		"swapped 0 and 1":             join(header, cs[1], cs[0], cs[2], cs[3], cs[4]),
		"dropped 2":                   join(header, cs[0], cs[1], cs[3], cs[4]),
		"repeated 1":                  join(header, cs[0], cs[1], cs[1], cs[2], cs[3], cs[4]),
		"last moved first":            join(header, cs[4], cs[0], cs[1], cs[2], cs[3]),
		"chunk 2 from another file":   join(header, cs[0], cs[1], ocs[2], cs[3], cs[4]),
		"another file's header":       join(other[:HeaderSize], cs...),
		"last chunk of another file":  join(header, cs[0], cs[1], cs[2], cs[3], ocs[4]),
		"dropped the last full chunk": join(header, cs[0], cs[1], cs[2], cs[4]),
	} {
		if _, err := open(f, password); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFlippedByte(t *testing.T) {
	file := seal(t, randomBytes(2*small+100), small, 4096)
	flip := func(i int) []byte {
		f := bytes.Clone(file)
		f[i] ^= 0x01
		return f
	}
	// Every header byte: caught before any key is derived.
	for i := range HeaderSize {
		_, err := open(flip(i), password)
		var want error
		switch {
		case i < offVersion:
			want = ErrNotEncrypted
		case i == offVersion:
			want = ErrUnsupported
		default:
			want = ErrCorrupt
		}
		if !errors.Is(err, want) {
			t.Fatalf("header byte %d flipped: %v, want %v", i, err, want)
		}
	}
	// Ciphertext and tag bytes of every chunk.
	for _, i := range []int{HeaderSize, HeaderSize + 500, HeaderSize + small - 1, HeaderSize + small, HeaderSize + small + tagSize - 1,
		HeaderSize + small + tagSize, HeaderSize + 2*(small+tagSize) + 50, len(file) - tagSize, len(file) - 1} {
		if _, err := open(flip(i), password); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "does not authenticate") {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

// A header rewritten with a matching checksum (the attacker can compute it) fails the
// password check, which covers it: changed parameters cannot be slipped in.
func TestRewrittenHeader(t *testing.T) {
	file := seal(t, randomBytes(3*small), small, 4096)
	for name, edit := range map[string]func(h []byte){
		"chunk size": func(h []byte) { binary.BigEndian.PutUint32(h[offChunk:], 2*small) },
		"prefix":     func(h []byte) { h[offPrefix] ^= 1 },
		"iterations": func(h []byte) { binary.BigEndian.PutUint32(h[offIter:], MinIterations+1) },
	} {
		f := bytes.Clone(file)
		edit(f)
		sum := sha256.Sum256(f[:offChecksum])
		copy(f[offChecksum:HeaderSize], sum[:])
		if _, err := open(f, password); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAppended(t *testing.T) {
	file := seal(t, randomBytes(2*small+100), small, 4096)
	_, cs := chunks(file, small)
	for name, extra := range map[string][]byte{
		"one byte":             {0},
		"garbage":              randomBytes(100),
		"a whole chunk's size": randomBytes(small + tagSize),
		"the last chunk again": cs[len(cs)-1],
	} {
		if _, err := open(append(bytes.Clone(file), extra...), password); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s appended: %v", name, err)
		}
	}
	// A genuine full final chunk followed by anything is named as such.
	full := seal(t, randomBytes(2*small), small, 4096)
	_, err := open(append(full, randomBytes(100)...), password)
	if err == nil || !strings.Contains(err.Error(), "data after the final chunk") {
		t.Fatalf("appended: %v", err)
	}
}

// A hostile header cannot make the reader spin (iterations) or allocate without bound
// (chunk size): out-of-bounds values are refused before a key is derived.
func TestParameterBounds(t *testing.T) {
	file := seal(t, []byte("x"), small, 1)
	with := func(off int, v uint32) []byte {
		f := bytes.Clone(file)
		binary.BigEndian.PutUint32(f[off:], v)
		sum := sha256.Sum256(f[:offChecksum])
		copy(f[offChecksum:HeaderSize], sum[:])
		return f
	}
	for _, c := range []struct {
		off  int
		v    uint32
		what string
	}{
		{offIter, MinIterations - 1, "iterations"}, {offIter, MaxIterations + 1, "iterations"}, {offIter, 0xFFFFFFFF, "iterations"}, {offIter, 0, "iterations"},
		{offChunk, MinChunkSize - 1, "chunk size"}, {offChunk, MaxChunkSize + 1, "chunk size"}, {offChunk, 0, "chunk size"}, {offChunk, 0xFFFFFFFF, "chunk size"},
	} {
		_, err := NewReader(bytes.NewReader(with(c.off, c.v)), password)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s %d: %v", c.what, c.v, err)
		}
	}
}

func TestNotEncrypted(t *testing.T) {
	for _, f := range []string{"", "GHEX", `{"tenant": "acme"}`, "PK\x03\x04" + strings.Repeat("z", 200)} {
		if _, err := NewReader(strings.NewReader(f), password); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("%q: %v", f, err)
		}
	}
	if _, err := open(seal(t, nil, small, 1)[:HeaderSize], password); !errors.Is(err, ErrTruncated) {
		t.Errorf("header only: %v", err)
	}
}

func TestWriterAfterClose(t *testing.T) {
	w, err := newWriter(io.Discard, password, MinIterations, small)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("write after close")
	}
	if err := w.Close(); err == nil {
		t.Fatal("second close")
	}
}

// Writing and reading a large export allocates about one chunk's buffers, not the
// size of the data: memory stays flat however big a tenant is.
func TestFlatMemory(t *testing.T) {
	const size = 32 << 20
	pr, pw := io.Pipe()
	go func() {
		w, err := NewWriter(pw, password)
		if err == nil {
			_, err = io.CopyN(w, zeros{}, size)
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := NewReader(pr, password)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("streaming %d MiB allocated %d bytes", size>>20, alloc)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
