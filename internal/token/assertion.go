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

	mu sync.RWMutex
	m  map[assertionKey]*minted
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
	a.mu.RLock()
	m := a.m[k]
	a.mu.RUnlock()
	if m != nil && now.Before(m.until) && m.facts.Equal(f) {
		return m.token, nil
	}
	origin := site.Origin()
	tok, err := a.Keys.sign(claimsOf(f, origin, origin, now, AssertionTTL), TypeAssertion, now)
	if err != nil {
		return "", err
	}
	a.put(k, &minted{token: tok, facts: *f, until: now.Add(AssertionReuse)})
	return tok, nil
}

func (a *Assertions) put(k assertionKey, m *minted) {
	size := a.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[assertionKey]*minted)
	}
	if _, ok := a.m[k]; !ok && len(a.m) >= size {
		drop := max(size/8, 1)
		for old := range a.m {
			if drop == 0 {
				break
			}
			delete(a.m, old)
			drop--
		}
	}
	a.m[k] = m
}
