package identity

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fast is the hasher tests use: bcrypt's minimum cost.
var fast = Hasher{Cost: bcrypt.MinCost}

func mustHash(t *testing.T, h Hasher, pw string) string {
	t.Helper()
	s, err := h.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"correct horse battery staple", "", " ", "pässwörd with ümlauts", "\U0001F642 emoji", "nul\x00inside"} {
		h := mustHash(t, fast, pw)
		if !strings.HasPrefix(h, "$gh-bcrypt-sha256$v1$2a$04$") {
			t.Errorf("hash %q lacks the self-describing prefix", h)
		}
		if ok, rehash := fast.Verify(h, pw); !ok || rehash {
			t.Errorf("Verify(Hash(%q)) = %v, %v; want true, false", pw, ok, rehash)
		}
		if ok, rehash := fast.Verify(h, pw+"x"); ok || rehash {
			t.Errorf("Verify with a wrong password = %v, %v", ok, rehash)
		}
	}
	a, b := mustHash(t, fast, "same password"), mustHash(t, fast, "same password")
	if a == b {
		t.Error("two hashes of one password are equal: no salt")
	}
}

// TestNoTruncation proves that every byte counts beyond bcrypt's 72-byte limit: long
// passwords that differ only in their last character do not verify against each other.
func TestNoTruncation(t *testing.T) {
	t.Parallel()
	ascii := strings.Repeat("0123456789", 10) // 100 bytes
	multi := strings.Repeat("é€", 60)         // 300 bytes (2+3 bytes a pair), 120 code points
	if len(ascii) != 100 || len(multi) != 300 {
		t.Fatalf("lengths %d, %d", len(ascii), len(multi))
	}
	cases := []struct{ pw, changed string }{
		{ascii, ascii[:99] + "x"},
		{multi, strings.TrimSuffix(multi, "€") + "$"},
		{multi, strings.TrimSuffix(multi, "€") + "¢"},
	}
	for _, c := range cases {
		h := mustHash(t, fast, c.pw)
		if ok, _ := fast.Verify(h, c.pw); !ok {
			t.Errorf("%d-byte password does not verify", len(c.pw))
		}
		if ok, _ := fast.Verify(h, c.changed); ok {
			t.Errorf("%d-byte password verified with only its last character changed: truncated", len(c.pw))
		}
		if ok, _ := fast.Verify(h, c.pw[:72]); ok {
			t.Errorf("%d-byte password verified with its first 72 bytes", len(c.pw))
		}
	}
	// What bcrypt is given is short and NUL-free whatever the password.
	for _, pw := range []string{"", ascii, multi, strings.Repeat("\x00", 100)} {
		in := preHashPassword(pw)
		if len(in) != 44 || strings.IndexByte(string(in), 0) >= 0 {
			t.Errorf("pre-hash of a %d-byte password: %q", len(pw), in)
		}
	}
}

func TestNFKCEquivalence(t *testing.T) {
	t.Parallel()
	cases := []struct{ typed, other string }{
		{"\ufb01re and ice, forever", "fire and ice, forever"},    // "ﬁ" ligature
		{"ＦＵＬＬＷＩＤＴＨ password", "FULLWIDTH password"},              // fullwidth letters
		{"caf\u00e9 au lait please", "cafe\u0301 au lait please"}, // composed vs combining accent
		{"x\u00b2 plus y\u00b2", "x2 plus y2"},                    // superscript two
	}
	for _, c := range cases {
		h := mustHash(t, fast, c.typed)
		if ok, _ := fast.Verify(h, c.other); !ok {
			t.Errorf("%q does not verify against the hash of %q", c.other, c.typed)
		}
	}
	if ok, _ := fast.Verify(mustHash(t, fast, "Case Matters"), "case matters"); ok {
		t.Error("normalisation must not fold case")
	}
}

func TestNeedsRehashOnCostChange(t *testing.T) {
	t.Parallel()
	h := mustHash(t, fast, "a long enough password")
	if ok, rehash := (Hasher{Cost: 5}).Verify(h, "a long enough password"); !ok || !rehash {
		t.Errorf("cost 4 hash checked by a cost-5 hasher: %v, %v; want true, true", ok, rehash)
	}
	if ok, rehash := (Hasher{Cost: 5}).Verify(h, "wrong"); ok || rehash {
		t.Errorf("wrong password: %v, %v; want false, false", ok, rehash)
	}
	if ok, rehash := fast.Verify(h, "a long enough password"); !ok || rehash {
		t.Errorf("same cost: %v, %v; want true, false", ok, rehash)
	}
	// The zero Hasher means the default cost.
	if ok, rehash := (Hasher{}).Verify(h, "a long enough password"); !ok || !rehash {
		t.Errorf("default cost: %v, %v; want true, true", ok, rehash)
	}
}

func TestHashRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, cost := range []int{-1, 1, 3, 32} {
		if _, err := (Hasher{Cost: cost}).Hash("password"); err == nil {
			t.Errorf("cost %d accepted", cost)
		}
	}
	huge := strings.Repeat("a", MaxPasswordBytes+1)
	if _, err := fast.Hash(huge); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of %d bytes: %v", len(huge), err)
	}
	h := mustHash(t, fast, huge[:MaxPasswordBytes])
	if ok, _ := fast.Verify(h, huge); ok {
		t.Error("a password over MaxPasswordBytes verified")
	}
}

func TestVerifyFormats(t *testing.T) {
	t.Parallel()
	legacy, err := bcrypt.GenerateFromPassword([]byte("imported password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash := fast.Verify(string(legacy), "imported password"); !ok || !rehash {
		t.Errorf("plain bcrypt: %v, %v; want true, true (upgrade on sign-in)", ok, rehash)
	}
	if ok, _ := fast.Verify(string(legacy), "imported passwor"); ok {
		t.Error("plain bcrypt verified a wrong password")
	}
	// A plain bcrypt hash never compares a password over 72 bytes (it would be
	// compared truncated).
	long := strings.Repeat("p", 72)
	legacyLong, _ := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if ok, _ := fast.Verify(string(legacyLong), long); !ok {
		t.Error("plain bcrypt of 72 bytes does not verify")
	}
	if ok, _ := fast.Verify(string(legacyLong), long+"extra"); ok {
		t.Error("plain bcrypt verified a longer password by truncation")
	}

	ours := mustHash(t, fast, "pw")
	for _, bad := range []string{
		"",
		"pw",
		"$gh-bcrypt-sha256$v2" + strings.TrimPrefix(ours, "$gh-bcrypt-sha256$v1"),
		strings.TrimPrefix(ours, "$gh-bcrypt-sha256$v1") + "x",
		"$gh-bcrypt-sha256$v1$garbage",
		"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		ours[:len(ours)-1] + "A",
	} {
		if ok, rehash := fast.Verify(bad, "pw"); ok || rehash {
			t.Errorf("Verify(%q) = %v, %v; want false, false", bad, ok, rehash)
		}
	}
}

func TestDummyHash(t *testing.T) {
	t.Parallel()
	h := Hasher{Cost: 5}
	d := h.DummyHash()
	if !strings.HasPrefix(d, passwordHashPrefix+"$") {
		t.Fatalf("dummy hash %q is not in Gatehouse's format", d)
	}
	cost, err := bcrypt.Cost([]byte(strings.TrimPrefix(d, passwordHashPrefix)))
	if err != nil || cost != 5 {
		t.Errorf("dummy hash cost = %d, %v; want the configured 5 (same work as a real check)", cost, err)
	}
	if h.DummyHash() != d {
		t.Error("dummy hash is recomputed on every call")
	}
	if fast.DummyHash() == d {
		t.Error("dummy hash shared between costs")
	}
	for _, pw := range []string{"", "password", d} {
		if ok, _ := h.Verify(d, pw); ok {
			t.Errorf("dummy hash verified %q", pw)
		}
	}
	h.EqualiseTiming("whatever")
}

func TestDefaultCost(t *testing.T) {
	t.Parallel()
	h, err := Hasher{}.Hash("the default cost is twelve")
	if err != nil {
		t.Fatal(err)
	}
	cost, err := bcrypt.Cost([]byte(strings.TrimPrefix(h, passwordHashPrefix)))
	if err != nil || cost != DefaultBcryptCost || DefaultBcryptCost != 12 {
		t.Errorf("default cost = %d, %v; want 12", cost, err)
	}
}

// TestFailedCheckOfOlderCostTakesConfiguredTime: after the configured cost was raised,
// a wrong password for an account still hashed at the old cost takes as long as one
// for an unknown e-mail (a dummy check at the new cost).
func TestFailedCheckOfOlderCostTakesConfiguredTime(t *testing.T) {
	t.Parallel()
	old, err := Hasher{Cost: 6}.Hash("the account's real passphrase")
	if err != nil {
		t.Fatal(err)
	}
	h := Hasher{Cost: 9}
	h.DummyHash()
	Hasher{Cost: 6}.DummyHash()
	Hasher{Cost: 7}.DummyHash()
	Hasher{Cost: 8}.DummyHash()
	// Interleaved, so that load on the machine affects both alike.
	var ws, us []time.Duration
	for range 9 {
		start := time.Now()
		h.Verify(old, "a wrong guess")
		ws = append(ws, time.Since(start))
		start = time.Now()
		h.EqualiseTiming("a wrong guess")
		us = append(us, time.Since(start))
	}
	// The fastest of each: load on the machine only ever adds time, so the minimum
	// is the estimate of the work done that noise disturbs least.
	wrong, unknown := slices.Min(ws), slices.Min(us)
	t.Logf("wrong password at old cost %v, unknown e-mail %v", wrong, unknown)
	if wrong < unknown*3/4 {
		t.Fatalf("a failed check of an old-cost hash takes %v, an unknown e-mail %v", wrong, unknown)
	}
	if ok, rehash := h.Verify(old, "the account's real passphrase"); !ok || !rehash {
		t.Fatal("the old-cost hash no longer verifies or is not marked for re-hashing")
	}
}
