package totp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Parameters of every Gatehouse TOTP key.
const (
	Period = 30 * time.Second
	Digits = 6
	Skew   = 1 // steps accepted either side of the current one
)

// Key is a new TOTP key to show during enrolment.
type Key struct {
	Secret string // base32, no padding: what a person types into an app
	URL    string // otpauth://totp/...
	QRPNG  []byte // the URL as a QR code
}

// Generate makes a new 160-bit key for account at issuer.
func Generate(issuer, account string) (Key, error) {
	return generate(issuer, account, nil)
}

// FromSecret rebuilds the Key (URL and QR code) of an existing base32 secret, so an
// enrolment can be shown again — after a mistyped code — without a new scan.
func FromSecret(issuer, account, secret string) (Key, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return Key{}, fmt.Errorf("decoding TOTP secret: %w", err)
	}
	return generate(issuer, account, raw)
}

func generate(issuer, account string, secret []byte) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: uint(Period / time.Second),
		SecretSize: 20, Secret: secret, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Key{}, fmt.Errorf("generating TOTP key: %w", err)
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return Key{}, fmt.Errorf("drawing QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Key{}, fmt.Errorf("encoding QR code: %w", err)
	}
	return Key{Secret: k.Secret(), URL: k.URL(), QRPNG: buf.Bytes()}, nil
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Match checks code against secret at now, accepting steps now-Skew … now+Skew. It
// returns the matched step; ok is false for a wrong or malformed code. Every candidate
// is computed and compared in constant time, so timing does not tell which step (or
// how much of the code) was right.
func Match(secret, code string, now time.Time) (step int64, ok bool) {
	return match(secret, code, now, Digits)
}

func match(secret, code string, now time.Time, digits int) (int64, bool) {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "="))); err != nil {
		return 0, false
	}
	center := Step(now)
	var found int64
	matched := 0
	for d := int64(-Skew); d <= Skew; d++ {
		s := center + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*int64(Period/time.Second), 0), totp.ValidateOpts{
			Period: uint(Period / time.Second), Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched == 0 {
			found, matched = s, 1
		}
	}
	return found, matched == 1
}
