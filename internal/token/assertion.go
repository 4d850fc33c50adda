package token

import (
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// Assertion lifetimes: each assertion lives AssertionTTL and is sent again for
// AssertionReuse, so an upstream always gets one with a minute or more to run, and a
// session costs one signature per AssertionReuse, not one per request.
const (
	AssertionTTL   = 5 * time.Minute
	AssertionReuse = 4 * time.Minute
)

// Assertions mints the X-Gatehouse-Assertion of signed-in requests: an ES256 JWT with
// the same facts as the plain headers, for the site's origin. Minted ones are reused
// from a bounded cache, per session and site, while the facts stay the same.
type Assertions struct {
	Keys  *KeyRing
	Size  int // cache bound; default DefaultCacheSize
	Clock clock.Clock

	once  sync.Once
	cache bounded[assertionKey, *minted]
}

type assertionKey struct {
	sid, host string
	https     bool
}

type minted struct {
	token string
	facts identity.Facts
	until time.Time // reuse until then
}

// For returns the assertion for the session's facts on site (its origin is the
// audience and the issuer).
func (a *Assertions) For(f *identity.Facts, site Site) (string, error) {
	now := a.Clock.Now()
	k := assertionKey{sid: f.SessionID, host: site.Host, https: site.HTTPS}
	a.once.Do(func() { a.cache.size = a.Size })
	m, _ := a.cache.get(k)
	if m != nil && now.Before(m.until) && m.facts.Equal(f) {
		return m.token, nil
	}
	origin := site.Origin()
	tok, err := a.Keys.sign(claimsOf(f, origin, origin, now, AssertionTTL), TypeAssertion, now)
	if err != nil {
		return "", err
	}
	a.cache.put(k, &minted{token: tok, facts: *f, until: now.Add(AssertionReuse)})
	return tok, nil
}
