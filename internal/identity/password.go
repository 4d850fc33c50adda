package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// DefaultBcryptCost is the bcrypt cost when Hasher.Cost is 0.
const DefaultBcryptCost = 12

// MaxPasswordBytes bounds the input of Hash and Verify (before normalisation), so that
// a huge "password" cannot make the server normalise and hash megabytes. It is far
// above what CheckPassword accepts (at most 1024 code points).
const MaxPasswordBytes = 16 << 10

// ErrPasswordTooLong is returned by Hash for input over MaxPasswordBytes.
var ErrPasswordTooLong = errors.New("password exceeds the maximum size")

// passwordHashPrefix marks Gatehouse's password hashes: "$gh-bcrypt-sha256$v1" followed
// by a standard bcrypt hash ("$2a$12$…") of the pre-hashed password. The version lets
// the scheme change later; Verify flags other versions for re-hashing.
const passwordHashPrefix = "$gh-bcrypt-sha256$v1"

// preHashKey keys the HMAC that pre-hashes passwords. It is not a secret: it makes the
// pre-hash specific to Gatehouse, so that unsalted SHA-256 password hashes leaked
// elsewhere cannot be fed to our bcrypt directly ("password shucking").
var preHashKey = []byte("gatehouse password pre-hash v1")

// Hasher hashes and verifies passwords with bcrypt.
//
// bcrypt reads at most 72 bytes of its input (and stops at a NUL in some
// implementations), so long passwords would be silently truncated. Hasher never
// gives bcrypt the password itself: it normalises it to NFKC (so that the same
// password typed on another keyboard, e.g. with the "ﬁ" ligature or fullwidth
// characters, verifies), computes HMAC-SHA256 of it and gives bcrypt the 44-byte
// base64 of that. Every byte of the password counts, at any length.
//
// The zero value uses DefaultBcryptCost. A Hasher is safe for concurrent use. Bounding
// how many hashes run at once (SPEC §13) is the caller's job.
type Hasher struct {
	// Cost is the bcrypt cost, from 4 (bcrypt.MinCost; tests only) to 31. Default: 12.
	// Verify reports hashes made with another cost as needing a re-hash, so a changed
	// cost takes effect at each user's next sign-in.
	Cost int
}

func (h Hasher) cost() int {
	if h.Cost == 0 {
		return DefaultBcryptCost
	}
	return h.Cost
}

// Hash returns the storable hash of pw. It does not judge the password; call
// CheckPassword first when the password is being chosen.
func (h Hasher) Hash(pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	cost := h.cost()
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		// bcrypt would silently use its default for a cost below the minimum.
		return "", fmt.Errorf("bcrypt cost %d is outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	b, err := bcrypt.GenerateFromPassword(preHashPassword(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return passwordHashPrefix + string(b), nil
}

// Verify reports whether pw matches the stored hash, and whether the hash should be
// replaced by Hash(pw) now that the password is known (its cost differs from the
// configured one, or it is a legacy format). needsRehash is false when ok is false.
//
// Besides Gatehouse's own format, Verify accepts plain bcrypt hashes ("$2a$", "$2b$",
// "$2y$") imported from another system, for passwords of at most 72 bytes (a longer one
// would have been truncated there, so it is refused rather than compared truncated);
// they always need a re-hash. An unknown format never verifies, after the same work as
// a real check.
func (h Hasher) Verify(hash, pw string) (ok bool, needsRehash bool) {
	ok, needsRehash = h.verify(hash, pw)
	if !ok {
		h.topUp(hash)
	}
	return ok, needsRehash
}

// topUp makes a failed check against a hash of a lower cost than the configured one
// (stored before the cost was raised, or imported) take as long as a check at the
// configured cost, so the answer's timing does not tell such accounts from unknown
// e-mails. bcrypt's work doubles per cost step: dummy checks at costs low … high-1
// add exactly the missing 2^high − 2^low.
func (h Hasher) topUp(hash string) {
	b := strings.TrimPrefix(hash, passwordHashPrefix)
	low, err := bcrypt.Cost([]byte(b))
	if err != nil {
		return
	}
	for c := low; c < h.cost(); c++ {
		dummy := strings.TrimPrefix(Hasher{Cost: c}.DummyHash(), passwordHashPrefix)
		_ = bcrypt.CompareHashAndPassword([]byte(dummy), []byte("not the password"))
	}
}

func (h Hasher) verify(hash, pw string) (ok bool, needsRehash bool) {
	switch {
	case strings.HasPrefix(hash, passwordHashPrefix+"$"):
		b := []byte(hash[len(passwordHashPrefix):])
		if len(pw) > MaxPasswordBytes {
			_ = bcrypt.CompareHashAndPassword(b, preHashPassword("")) // same work, ignored
			return false, false
		}
		if bcrypt.CompareHashAndPassword(b, preHashPassword(pw)) != nil {
			return false, false
		}
		cost, err := bcrypt.Cost(b)
		return true, err != nil || cost != h.cost()
	case isPlainBcrypt(hash):
		if len(pw) > 72 {
			_ = bcrypt.CompareHashAndPassword([]byte(hash), nil) // same work, ignored
			return false, false
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
			return false, false
		}
		return true, true
	default:
		h.EqualiseTiming(pw)
		return false, false
	}
}

func isPlainBcrypt(hash string) bool {
	return len(hash) == 60 && (strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$"))
}

// preHashPassword returns what bcrypt hashes: base64(HMAC-SHA256(key, NFKC(pw))),
// 44 bytes without NUL.
func preHashPassword(pw string) []byte {
	mac := hmac.New(sha256.New, preHashKey)
	mac.Write([]byte(norm.NFKC.String(pw)))
	sum := mac.Sum(nil)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum)
	return out
}

// dummyHashes caches one hash of a random password per cost (see DummyHash).
var dummyHashes struct {
	sync.Mutex
	m map[int]string
}

// DummyHash returns a hash, at the configured cost, of a random password nobody
// knows. Verifying against it costs exactly what verifying a real user's password
// costs, so a sign-in attempt for an unknown user (or one without a password) takes
// as long as a wrong password and does not reveal which accounts exist.
//
// It is computed on first use (once per cost, for the process); call it at start-up
// so that the first such attempt is not slower than the others.
func (h Hasher) DummyHash() string {
	cost := h.cost()
	dummyHashes.Lock()
	defer dummyHashes.Unlock()
	if s, ok := dummyHashes.m[cost]; ok {
		return s
	}
	s, err := h.Hash(secret.NewToken())
	if err != nil {
		// Invalid cost: Hash will fail for real users too; still spend real work.
		s, _ = Hasher{}.Hash(secret.NewToken())
	}
	if dummyHashes.m == nil {
		dummyHashes.m = make(map[int]string)
	}
	dummyHashes.m[cost] = s
	return s
}

// EqualiseTiming does the work of verifying pw against a real hash and discards the
// result: call it when there is no hash to check (unknown user, no password set).
func (h Hasher) EqualiseTiming(pw string) {
	_, _ = h.Verify(h.DummyHash(), pw)
}
