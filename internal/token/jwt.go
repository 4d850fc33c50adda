package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Token types (the JWT header's typ): an access token (RFC 9068) is accepted as a
// bearer credential; an assertion only tells an upstream who is calling — a leaked
// assertion is not a key to anything.
const (
	TypeAccess    = "at+jwt"
	TypeAssertion = "JWT"
)

// Leeway is the clock skew allowed when checking exp, nbf and iat.
const Leeway = 30 * time.Second

// Claims are what Gatehouse's tokens say: the verified identity, as in the
// X-Gatehouse-* headers.
type Claims struct {
	jwt.RegisteredClaims
	TenantID  string   `json:"tid"`
	Tenant    string   `json:"tenant"`
	Email     string   `json:"email,omitempty"`
	Name      string   `json:"name,omitempty"`
	Roles     []string `json:"roles"`
	Teams     []string `json:"teams,omitempty"`
	SessionID string   `json:"sid"`
	AMR       []string `json:"amr"`
}

// claimsOf builds the claims of f for audience, valid for ttl from now.
func claimsOf(f *identity.Facts, issuer, audience string, now time.Time, ttl time.Duration) Claims {
	roles := f.Roles
	if roles == nil {
		roles = []string{}
	}
	amr := f.AuthMethods
	if amr == nil {
		amr = []string{}
	}
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: f.UserID, Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: secret.NewID(),
		},
		TenantID: f.TenantID, Tenant: f.TenantSlug, Email: f.Email, Name: f.Name,
		Roles: roles, Teams: f.Teams, SessionID: f.SessionID, AMR: amr,
	}
}

// sign makes a compact ES256 JWT of claims with the ring's current key.
func (k *KeyRing) sign(c Claims, typ string, now time.Time) (string, error) {
	kk := k.signing(now)
	if kk == nil {
		return "", ErrNoSigningKey
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = kk.kid
	t.Header["typ"] = typ
	return t.SignedString(kk.priv)
}

// ErrInvalidToken: the token is not one of ours, or not valid here and now. Errors
// that wrap it say why, for logs and for operators (token inspect).
var ErrInvalidToken = errors.New("invalid token")

// parse verifies a compact JWT of type typ against the ring's public keys: ES256 only
// (alg none, HS256 keyed with a public key and every other algorithm are refused),
// a known kid, the signature, and exp/nbf/iat with Leeway. Issuer, audience and
// tenant are the caller's to check. A token has one spelling: only base64url
// characters and dots (Go's base64 decoder skips CR and LF, so a signature with one
// inserted would still verify), decoded strictly (a character's unused low bits must
// be zero; a lenient decoder accepts 15 other spellings of every signature).
func (k *KeyRing) parse(raw, typ string, now time.Time) (*Claims, error) {
	if err := compactSpelling(raw); err != nil {
		return nil, errors.Join(ErrInvalidToken, err)
	}
	c := new(Claims)
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithLeeway(Leeway), jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	_, err := p.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		if got, _ := t.Header["typ"].(string); got != typ {
			return nil, errors.New("wrong token type")
		}
		kid, _ := t.Header["kid"].(string)
		kk := k.public(kid)
		if kk == nil {
			return nil, errors.New("unknown key id")
		}
		return kk.pub, nil
	})
	if err != nil {
		return nil, errors.Join(ErrInvalidToken, err)
	}
	return c, nil
}

// compactSpelling refuses a token with a character outside base64url and '.', the
// only ones a compact JWS is written with.
func compactSpelling(raw string) error {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("character %q at %d: a token is base64url and dots", c, i)
		}
	}
	return nil
}
