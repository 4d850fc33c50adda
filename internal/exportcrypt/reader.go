package exportcrypt

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// reader decrypts and authenticates an encrypted export chunk by chunk (see
// NewReader).
type reader struct {
	r     io.Reader
	h     *header
	aead  cipher.AEAD
	buf   []byte // a chunk's ciphertext and tag plus one byte of look-ahead
	ahead int    // bytes of the next chunk already in buf[0:ahead]
	out   []byte // the current chunk's plaintext
	plain []byte // the part of out not yet returned
	index uint32
	err   error // sticky: io.EOF after the final chunk, or the failure
}

// NewReader reads the header of an encrypted export from r, derives the key from
// password and checks it, and returns a reader of the plaintext. A wrong password is
// ErrWrongPassword; anything but an encrypted export is ErrNotEncrypted; a damaged
// header, out-of-bounds parameters (an iteration count outside 100,000 to 10,000,000,
// a chunk size outside 1 KiB to 4 MiB) are ErrCorrupt.
//
// Reading then fails with ErrCorrupt on any altered, reordered, dropped or appended
// chunk and ErrTruncated (which is also ErrCorrupt) on a file cut short. The reader
// returns each chunk's plaintext as soon as it is authenticated, before the end of
// the file is reached: only a read that ends with io.EOF proves the whole file
// intact.
func NewReader(r io.Reader, password []byte) (io.Reader, error) {
	raw := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, raw)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if n < len(Magic) || string(raw[:len(Magic)]) != Magic {
			return nil, ErrNotEncrypted
		}
		return nil, fmt.Errorf("%w: the file ends inside its header (%d of %d bytes)", ErrTruncated, n, HeaderSize)
	case err != nil:
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return nil, err
	}
	aead, err := h.cipher(password)
	if err != nil {
		return nil, err
	}
	if err := h.verifyPassword(aead); err != nil {
		return nil, err
	}
	return &reader{r: r, h: h, aead: aead, buf: make([]byte, h.chunkSize+tagSize+1), out: make([]byte, 0, h.chunkSize)}, nil
}

// Read returns the plaintext of the chunks authenticated so far, reading the next
// chunk when it has none left.
func (x *reader) Read(p []byte) (int, error) {
	for len(x.plain) == 0 {
		if x.err != nil {
			return 0, x.err
		}
		x.err = x.next()
	}
	n := copy(p, x.plain)
	x.plain = x.plain[n:]
	return n, nil
}

// next reads, authenticates and decrypts one chunk into x.plain. A chunk is the
// final one when the file ends with it: it is read with one byte of look-ahead. It
// returns io.EOF after the final chunk (x.plain may hold its plaintext).
func (x *reader) next() error {
	full := x.h.chunkSize + tagSize
	n, err := io.ReadFull(x.r, x.buf[x.ahead:])
	n += x.ahead
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading chunk %d: %w", x.index, err)
	}
	final := n <= full
	size := min(n, full)
	if x.index == maxChunks {
		return fmt.Errorf("%w: more than %d chunks", ErrCorrupt, maxChunks)
	}
	if size < tagSize {
		if x.index == 0 {
			return fmt.Errorf("%w: the file ends after its header (there is no chunk)", ErrTruncated)
		}
		return fmt.Errorf("%w: chunk %d is %d bytes, shorter than a tag", ErrTruncated, x.index, size)
	}
	chunk := x.buf[:size]
	plain, err := x.aead.Open(x.out[:0], x.h.nonce(x.index), chunk, x.h.aad(x.index, final))
	if err != nil {
		return x.diagnose(chunk, final)
	}
	x.plain = plain
	x.index++
	if final {
		return io.EOF
	}
	// Keep the look-ahead byte: it starts the next chunk.
	x.buf[0] = x.buf[full]
	x.ahead = 1
	return nil
}

// diagnose names why chunk did not authenticate. A chunk that authenticates with the
// other final flag is genuine, in its place: the file was cut after it (read as final,
// written as not) or has data after the end (read as not final, written as final).
func (x *reader) diagnose(chunk []byte, final bool) error {
	if _, err := x.aead.Open(nil, x.h.nonce(x.index), chunk, x.h.aad(x.index, !final)); err == nil {
		if final {
			return fmt.Errorf("%w: the file ends after chunk %d, which is not the final one", ErrTruncated, x.index)
		}
		return fmt.Errorf("%w: there is data after the final chunk (%d)", ErrCorrupt, x.index)
	}
	return fmt.Errorf("%w: chunk %d does not authenticate (altered, cut short, reordered or from another file)", ErrCorrupt, x.index)
}
