package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Inspection is what an operator learns of a token (gatehouse token inspect).
type Inspection struct {
	Header map[string]any
	Claims map[string]any
	// Verified: an ES256 signature of a key in the store, whatever the claims say.
	Verified bool
	// Problem says why the token would be refused ("" when it would not, as far as
	// keys, type and times go; issuer, audience, tenant and session are checked where
	// it is presented).
	Problem string
	Expires time.Time
}

// Inspect decodes a token and checks it against the ring's keys and now.
func (k *KeyRing) Inspect(raw string, now time.Time) (Inspection, error) {
	var in Inspection
	p := jwt.NewParser()
	t, _, err := p.ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return in, fmt.Errorf("not a JWT: %w", err)
	}
	in.Header, in.Claims = t.Header, map[string]any(t.Claims.(jwt.MapClaims))
	if exp, err := t.Claims.GetExpirationTime(); err == nil && exp != nil {
		in.Expires = exp.Time
	}
	typ, _ := t.Header["typ"].(string)
	if typ != TypeAccess && typ != TypeAssertion {
		in.Problem = fmt.Sprintf("type %q is none of Gatehouse's (%s, %s)", typ, TypeAccess, TypeAssertion)
		return in, nil
	}
	// The signature alone, so that an expired token still shows whose it is; spelled
	// as signed (see parse).
	if err := compactSpelling(raw); err != nil {
		in.Problem = err.Error()
		return in, nil
	}
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding()).
		Parse(raw, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			if kk := k.public(kid); kk != nil {
				return kk.pub, nil
			}
			return nil, errors.New("unknown key id: not a key of this deployment")
		})
	in.Verified = err == nil
	if err != nil {
		in.Problem = err.Error()
		return in, nil
	}
	if _, err := k.parse(raw, typ, now); err != nil {
		in.Problem = reason(err)
	}
	return in, nil
}

// reason is what a refusal says beyond "invalid token".
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+"\n")
}

// String renders claims as indented JSON.
func (in Inspection) String() string {
	b, _ := json.MarshalIndent(struct {
		Header map[string]any `json:"header"`
		Claims map[string]any `json:"claims"`
	}{in.Header, in.Claims}, "", "  ")
	return string(b)
}
