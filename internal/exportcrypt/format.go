package exportcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// The format's constants; the README's "Password-protected exports" describes them.
const (
	// Magic opens every file: "GHEXPENC" (Gatehouse export, encrypted).
	Magic = "GHEXPENC"
	// Version is the format version this package writes and reads.
	Version = 1
	// Iterations is the PBKDF2 iteration count NewWriter uses.
	Iterations = 200_000
	// MinIterations and MaxIterations bound the count a reader accepts from a header:
	// fewer would be a weakened file, more would let a hostile file make us spin.
	MinIterations, MaxIterations = 100_000, 10_000_000
	// ChunkSize is the plaintext bytes per chunk NewWriter uses (64 KiB).
	ChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound the chunk size a reader accepts from a
	// header (and so the memory a hostile file can make it allocate).
	MinChunkSize, MaxChunkSize = 1 << 10, 4 << 20
	// HeaderSize is the length of the header in bytes.
	HeaderSize = offChecksum + sha256.Size

	saltSize    = 16
	prefixSize  = 8 // the random nonce prefix; the nonce's last 4 bytes are the chunk index
	tagSize     = 16
	keySize     = 32
	checkIndex  = 0xFFFFFFFF // the nonce index of the password check: never a chunk's
	maxChunks   = checkIndex // chunk indexes run from 0 to maxChunks-1
	offVersion  = len(Magic)
	offIter     = offVersion + 1
	offSalt     = offIter + 4
	offChunk    = offSalt + saltSize
	offPrefix   = offChunk + 4
	offCheck    = offPrefix + prefixSize
	offChecksum = offCheck + tagSize
)

// The errors a reader returns (wrapped, with details); test them with errors.Is.
// Every way a file can be damaged or tampered with is ErrCorrupt; ErrTruncated is
// also ErrCorrupt.
var (
	ErrNotEncrypted  = errors.New("not a password-protected Gatehouse export (it does not start with " + Magic + ")")
	ErrUnsupported   = errors.New("unsupported export format version (written by a newer Gatehouse?)")
	ErrWrongPassword = errors.New("wrong password")
	ErrCorrupt       = errors.New("the encrypted export is damaged or was altered")
	ErrTruncated     = error(&corruptError{"the encrypted export is truncated"})
	ErrEmptyPassword = errors.New("the password is empty")
)

// corruptError is a more precise kind of ErrCorrupt.
type corruptError struct{ msg string }

func (e *corruptError) Error() string        { return e.msg }
func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

// header is the decoded header of a file.
type header struct {
	raw        [HeaderSize]byte // as written: every chunk's associated data starts with it
	iterations uint32
	salt       []byte
	chunkSize  int
	prefix     []byte
	check      []byte
}

// newHeader lays out a header for the given parameters; the password check and the
// checksum are filled in by seal.
func newHeader(iterations uint32, salt, prefix []byte, chunkSize int) *header {
	h := &header{}
	copy(h.raw[:], Magic)
	h.raw[offVersion] = Version
	binary.BigEndian.PutUint32(h.raw[offIter:], iterations)
	copy(h.raw[offSalt:offChunk], salt)
	binary.BigEndian.PutUint32(h.raw[offChunk:], uint32(chunkSize))
	copy(h.raw[offPrefix:offCheck], prefix)
	h.slice()
	return h
}

// slice points the decoded fields into raw.
func (h *header) slice() {
	h.iterations = binary.BigEndian.Uint32(h.raw[offIter:])
	h.salt = h.raw[offSalt:offChunk]
	h.chunkSize = int(binary.BigEndian.Uint32(h.raw[offChunk:]))
	h.prefix = h.raw[offPrefix:offCheck]
	h.check = h.raw[offCheck:offChecksum]
}

// seal fills in the password check (the GCM tag of nothing under the key, with the
// nonce index 0xFFFFFFFF and the header's first 41 bytes as associated data) and the
// checksum (SHA-256 of the header's first 57 bytes).
func (h *header) seal(aead cipher.AEAD) {
	tag := aead.Seal(nil, h.nonce(checkIndex), nil, h.raw[:offCheck])
	copy(h.raw[offCheck:offChecksum], tag)
	sum := sha256.Sum256(h.raw[:offChecksum])
	copy(h.raw[offChecksum:], sum[:])
}

// parseHeader decodes and checks a header read from a file (without the password).
func parseHeader(raw []byte) (*header, error) {
	h := &header{}
	copy(h.raw[:], raw)
	if string(h.raw[:len(Magic)]) != Magic {
		return nil, ErrNotEncrypted
	}
	if v := h.raw[offVersion]; v != Version {
		return nil, fmt.Errorf("%w: version %d, this Gatehouse reads version %d", ErrUnsupported, v, Version)
	}
	sum := sha256.Sum256(h.raw[:offChecksum])
	if subtle.ConstantTimeCompare(sum[:], h.raw[offChecksum:]) != 1 {
		return nil, fmt.Errorf("%w: the header's checksum does not match (the header is damaged)", ErrCorrupt)
	}
	h.slice()
	if h.iterations < MinIterations || h.iterations > MaxIterations {
		return nil, fmt.Errorf("%w: %d PBKDF2 iterations in the header, outside the accepted %d to %d",
			ErrCorrupt, h.iterations, MinIterations, MaxIterations)
	}
	if h.chunkSize < MinChunkSize || h.chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d in the header, outside the accepted %d to %d",
			ErrCorrupt, h.chunkSize, MinChunkSize, MaxChunkSize)
	}
	return h, nil
}

// deriveKey is PBKDF2-HMAC-SHA256 for a 32-byte key (a variable so that the tests
// can remember keys: PBKDF2 is slow under the race detector).
var deriveKey = func(password, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, string(password), salt, iterations, keySize)
}

// cipher derives the key from password and returns the AES-256-GCM AEAD.
func (h *header) cipher(password []byte) (cipher.AEAD, error) {
	key, err := deriveKey(password, h.salt, int(h.iterations))
	if err != nil {
		return nil, fmt.Errorf("deriving the key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating the cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating the cipher: %w", err)
	}
	return aead, nil
}

// verifyPassword checks the header's password check under aead.
func (h *header) verifyPassword(aead cipher.AEAD) error {
	if _, err := aead.Open(nil, h.nonce(checkIndex), h.check, h.raw[:offCheck]); err != nil {
		return ErrWrongPassword
	}
	return nil
}

// nonce is the GCM nonce of chunk index i: the header's 8-byte prefix, then i as a
// big-endian uint32.
func (h *header) nonce(i uint32) []byte {
	n := make([]byte, prefixSize+4)
	copy(n, h.prefix)
	binary.BigEndian.PutUint32(n[prefixSize:], i)
	return n
}

// aad is the associated data of chunk i: the whole header, i as a big-endian
// uint32, and 1 for the final chunk or 0 for any other.
func (h *header) aad(i uint32, final bool) []byte {
	a := make([]byte, HeaderSize+5)
	copy(a, h.raw[:])
	binary.BigEndian.PutUint32(a[HeaderSize:], i)
	if final {
		a[HeaderSize+4] = 1
	}
	return a
}
