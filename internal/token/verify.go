package token

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// DefaultCacheSize bounds the verified-token cache (token_cache_size).
const DefaultCacheSize = 10_000

// maxTokenLen refuses absurd tokens before any work (ours are well under 1 KiB).
const maxTokenLen = 4096

// Site is where a token is presented or minted for: its origin (scheme and host, as
// the request came) and the audience tokens for it must name ("" means the origin).
type Site struct {
	HTTPS    bool
	Host     string // r.Host
	Audience string
}

// Origin is the site's origin, e.g. "https://app.example.com".
func (s Site) Origin() string {
	if s.HTTPS {
		return "https://" + s.Host
	}
	return "http://" + s.Host
}

// isOrigin tells whether v is the site's origin, without building it.
func (s Site) isOrigin(v string) bool {
	scheme := "http://"
	if s.HTTPS {
		scheme = "https://"
	}
	return len(v) == len(scheme)+len(s.Host) && strings.HasPrefix(v, scheme) && v[len(scheme):] == s.Host
}

func (s Site) isAudience(v string) bool {
	if s.Audience != "" {
		return v == s.Audience
	}
	return s.isOrigin(v)
}

// Verifier checks bearer access tokens. A token is verified (ECDSA) once and then kept
// in a bounded cache: a flood of distinct tokens, valid or not, costs bounded memory
// (invalid tokens are never cached), and a client's next requests cost a map lookup.
type Verifier struct {
	Keys  *KeyRing
	Size  int // default DefaultCacheSize
	Clock clock.Clock

	once  sync.Once
	cache bounded[string, *verified]
}

// verified is what a checked token proves.
type verified struct {
	iss, tid, sid string
	aud           []string
	nbf, exp      time.Time
}

// Verify checks an access token presented at site for the tenant tenantID and returns
// its session id. Refused (ErrInvalidToken): anything not ES256-signed by a key of the
// ring, of another type (an assertion), expired or not yet valid (beyond Leeway), of
// another issuer, audience or tenant. The session itself is the caller's to check.
func (v *Verifier) Verify(raw string, site Site, tenantID string) (string, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return "", ErrInvalidToken
	}
	now := v.Clock.Now()
	v.once.Do(func() { v.cache.size = v.Size })
	t, _ := v.cache.get(raw)
	if t == nil {
		c, err := v.Keys.parse(raw, TypeAccess, now)
		if err != nil {
			return "", err
		}
		t = &verified{iss: c.Issuer, tid: c.TenantID, sid: c.SessionID, aud: c.Audience}
		if c.NotBefore != nil {
			t.nbf = c.NotBefore.Time
		}
		t.exp = c.ExpiresAt.Time // required by parse
		v.cache.put(raw, t)
	}
	switch {
	case now.After(t.exp.Add(Leeway)):
		return "", errors.Join(ErrInvalidToken, errors.New("token has expired"))
	case now.Before(t.nbf.Add(-Leeway)):
		return "", errors.Join(ErrInvalidToken, errors.New("token is not valid yet"))
	case !site.isOrigin(t.iss):
		return "", errors.Join(ErrInvalidToken, errors.New("issued for another site"))
	case !audienceOK(t.aud, site):
		return "", errors.Join(ErrInvalidToken, errors.New("meant for another audience"))
	case t.tid != tenantID:
		return "", errors.Join(ErrInvalidToken, errors.New("of another tenant"))
	case t.sid == "":
		return "", errors.Join(ErrInvalidToken, errors.New("names no session"))
	}
	return t.sid, nil
}

func audienceOK(aud []string, site Site) bool {
	for _, a := range aud {
		if site.isAudience(a) {
			return true
		}
	}
	return false
}

// Len is how many verified tokens are cached.
func (v *Verifier) Len() int { return v.cache.len() }
