package exportcrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// writer encrypts a stream into chunks (see NewWriter).
type writer struct {
	w     io.Writer
	h     *header
	aead  cipher.AEAD
	buf   []byte // the pending chunk's plaintext, then (sealed in place) its ciphertext
	index uint32
	err   error // sticky: after a failure, or once closed
}

// errClosed is the error of a Write or Close after Close.
var errClosed = errors.New("exportcrypt: the writer is closed")

// NewWriter returns a writer that encrypts what is written to it under password and
// writes the encrypted export to w: the header at once, then a chunk every 64 KiB of
// plaintext. Close writes the final chunk (the file is incomplete without it, and a
// reader refuses it); it does not close w. The key comes from PBKDF2-HMAC-SHA256 with
// 200,000 iterations and a random salt, which takes a noticeable fraction of a second.
func NewWriter(w io.Writer, password []byte) (io.WriteCloser, error) {
	return newWriter(w, password, Iterations, ChunkSize)
}

// newWriter is NewWriter with the iteration count and chunk size as parameters (the
// tests write small chunks with it).
func newWriter(w io.Writer, password []byte, iterations uint32, chunkSize int) (*writer, error) {
	if len(password) == 0 {
		return nil, ErrEmptyPassword
	}
	random := make([]byte, saltSize+prefixSize)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("generating the salt: %w", err)
	}
	h := newHeader(iterations, random[:saltSize], random[saltSize:], chunkSize)
	aead, err := h.cipher(password)
	if err != nil {
		return nil, err
	}
	h.seal(aead)
	if _, err := w.Write(h.raw[:]); err != nil {
		return nil, fmt.Errorf("writing the header: %w", err)
	}
	return &writer{w: w, h: h, aead: aead, buf: make([]byte, 0, chunkSize+tagSize)}, nil
}

// Write encrypts p. A full chunk is written only once more data follows it, since
// only Close knows which chunk is the final one.
func (x *writer) Write(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n := 0
	for len(p) > 0 {
		if len(x.buf) == x.h.chunkSize {
			if err := x.flush(false); err != nil {
				return n, err
			}
		}
		c := copy(x.buf[len(x.buf):x.h.chunkSize], p)
		x.buf = x.buf[:len(x.buf)+c]
		p, n = p[c:], n+c
	}
	return n, nil
}

// Close writes the final chunk (holding the last 0 to 64 KiB of plaintext). It does
// not close the underlying writer. Closing again returns an error.
func (x *writer) Close() error {
	if x.err != nil {
		return x.err
	}
	if err := x.flush(true); err != nil {
		return err
	}
	x.err = errClosed
	return nil
}

// flush seals the pending chunk in place and writes it.
func (x *writer) flush(final bool) error {
	if x.index == maxChunks {
		x.err = fmt.Errorf("exportcrypt: writing chunk %d: the format holds at most %d chunks", x.index, maxChunks)
		return x.err
	}
	ct := x.aead.Seal(x.buf[:0], x.h.nonce(x.index), x.buf, x.h.aad(x.index, final))
	if _, err := x.w.Write(ct); err != nil {
		x.err = fmt.Errorf("exportcrypt: writing chunk %d: %w", x.index, err)
		return x.err
	}
	x.index++
	x.buf = x.buf[:0]
	return nil
}
