// Package recovery makes single-use recovery codes: 10 per set, shown once, stored
// only as SHA-256 (each code carries 60 random bits, so a fast hash is enough: the
// codes are not guessable the way passwords are, and guessing is also rate-limited).
package recovery

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// Count is the number of codes in a set.
const Count = 10

// alphabet avoids look-alike characters (0/o, 1/l/i).
const alphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Generate returns a new set of codes (formatted "xxxx-xxxx-xxxx") and their hashes.
func Generate() (codes []string, hashes [][]byte) {
	for range Count {
		var b strings.Builder
		for i := range 12 {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(alphabet[randIndex(len(alphabet))])
		}
		c := b.String()
		codes = append(codes, c)
		hashes = append(hashes, Hash(c))
	}
	return codes, hashes
}

// randIndex returns a uniform index below n from crypto/rand (rejection sampling).
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// Normalize accepts what people type: any case, spaces and dashes anywhere.
func Normalize(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if r != '-' && r != ' ' && r != '\t' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Hash is the stored form of a code (normalised first).
func Hash(code string) []byte {
	h := sha256.Sum256([]byte("gatehouse-recovery-v1:" + Normalize(code)))
	return h[:]
}

// LooksLikeCode tells a recovery code from a TOTP code by shape.
func LooksLikeCode(s string) bool {
	n := Normalize(s)
	if len(n) != 12 {
		return false
	}
	return strings.Trim(n, alphabet) == ""
}
