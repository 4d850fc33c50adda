package totp

import (
	"encoding/base32"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// RFC 6238 Appendix B, SHA-1 rows (8 digits, secret "12345678901234567890").
func TestRFC6238AppendixB(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		now := time.Unix(v.unix, 0)
		step, ok := match(secret, v.code, now, 8)
		if !ok || step != Step(now) {
			t.Errorf("T=%d: code %s not accepted at its own step (ok=%v step=%d)", v.unix, v.code, ok, step)
		}
		// The 6-digit code Gatehouse uses is the last six digits.
		if _, ok := Match(secret, v.code[2:], now); !ok {
			t.Errorf("T=%d: 6-digit code %s refused", v.unix, v.code[2:])
		}
	}
}

func TestSkewOneAcceptedTwoRefused(t *testing.T) {
	k, err := Generate("Gatehouse", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.QRPNG) < 100 || k.URL == "" || len(k.Secret) != 32 {
		t.Fatalf("key: %+v", k)
	}
	base := time.Date(2026, 11, 26, 10, 0, 15, 0, time.UTC)
	code, _ := totp.GenerateCode(k.Secret, base)
	for _, c := range []struct {
		offset time.Duration
		ok     bool
	}{{0, true}, {30 * time.Second, true}, {-30 * time.Second, true}, {60 * time.Second, false}, {-60 * time.Second, false}} {
		step, ok := Match(k.Secret, code, base.Add(c.offset))
		if ok != c.ok {
			t.Errorf("offset %v: ok=%v, want %v", c.offset, ok, c.ok)
		}
		if ok && step != Step(base) {
			t.Errorf("offset %v: matched step %d, want the code's own step %d", c.offset, step, Step(base))
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12 34 5x"} {
		if _, ok := Match(k.Secret, bad, base); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := Match("not base32!", code, base); ok {
		t.Error("bad secret accepted")
	}
}

// TestFromSecretShowsTheSameKey: showing an enrolment again gives the same secret (the
// app the user scanned keeps working) and a URL that names it.
func TestFromSecretShowsTheSameKey(t *testing.T) {
	k, err := Generate("Acme", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	again, err := FromSecret("Acme", "ann@example.com", k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if again.Secret != k.Secret || again.URL != k.URL || len(again.QRPNG) == 0 {
		t.Fatalf("shown again: %q %q, first %q %q", again.Secret, again.URL, k.Secret, k.URL)
	}
	if _, err := FromSecret("Acme", "ann@example.com", "not base32!"); err == nil {
		t.Fatal("a malformed secret was accepted")
	}
}
