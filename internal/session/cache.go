package session

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cache is a bounded map of validated sessions. When full, it drops an arbitrary
// entry (Go's map iteration order), which is cheap and good enough: an evicted session
// is simply re-read from the store. A bounded size keeps a flood of valid-looking tokens
// from exhausting memory.
type cache struct {
	mu    sync.RWMutex
	max   int
	byKey map[[sha256.Size]byte]*Entry
	byID  map[string][sha256.Size]byte
	// revoked remembers sessions revoked through this instance for a while, so that a
	// validation that read the session just before the revocation cannot put it back;
	// revokedUsers does the same for "every session of this user but one".
	revoked      map[string]time.Time
	revokedUsers map[string]userRevocation
}

type userRevocation struct {
	at     time.Time
	except string
}

// revokedMemory is how long a revocation is remembered (well above any cache TTL).
const revokedMemory = 2 * time.Minute

func newCache(max int) *cache {
	return &cache{max: max, byKey: make(map[[sha256.Size]byte]*Entry), byID: make(map[string][sha256.Size]byte),
		revoked: make(map[string]time.Time), revokedUsers: make(map[string]userRevocation)}
}

func (c *cache) get(k [sha256.Size]byte) *Entry {
	c.mu.RLock()
	e := c.byKey[k]
	c.mu.RUnlock()
	return e
}

// put caches e unless its session was revoked meanwhile; it reports whether it did.
func (c *cache) put(e *Entry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, gone := c.revoked[e.Session.ID]; gone {
		return false
	}
	if ur, ok := c.revokedUsers[e.User.ID]; ok && e.Session.ID != ur.except && e.loaded.Before(ur.at.Add(time.Nanosecond)) {
		return false // read before its user's sessions were revoked
	}
	if _, ok := c.byKey[e.key]; !ok && len(c.byKey) >= c.max {
		for k, old := range c.byKey {
			delete(c.byKey, k)
			delete(c.byID, old.Session.ID)
			break
		}
	}
	c.byKey[e.key] = e
	c.byID[e.Session.ID] = e.key
	return true
}

// getID returns the cached entry of a session by its public id.
func (c *cache) getID(id string) *Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if k, ok := c.byID[id]; ok {
		return c.byKey[k]
	}
	return nil
}

func (c *cache) delete(k [sha256.Size]byte) {
	c.mu.Lock()
	if e, ok := c.byKey[k]; ok {
		delete(c.byID, e.Session.ID)
		delete(c.byKey, k)
	}
	c.mu.Unlock()
}

// deleteSession forgets a session (it stays valid).
func (c *cache) deleteSession(id string) {
	c.mu.Lock()
	if k, ok := c.byID[id]; ok {
		delete(c.byKey, k)
		delete(c.byID, id)
	}
	c.mu.Unlock()
}

// revoke forgets a session and remembers that it was revoked (at now).
func (c *cache) revoke(id string, now time.Time) {
	c.mu.Lock()
	if k, ok := c.byID[id]; ok {
		delete(c.byKey, k)
		delete(c.byID, id)
	}
	for old, at := range c.revoked {
		if now.Sub(at) > revokedMemory {
			delete(c.revoked, old)
		}
	}
	c.revoked[id] = now
	c.mu.Unlock()
}

// deleteUser forgets every session of a user (they stay valid).
func (c *cache) deleteUser(userID string) {
	c.mu.Lock()
	for k, e := range c.byKey {
		if e.User.ID == userID {
			delete(c.byKey, k)
			delete(c.byID, e.Session.ID)
		}
	}
	c.mu.Unlock()
}

// revokeUser forgets every session of a user but except and remembers the revocation.
func (c *cache) revokeUser(userID, except string, now time.Time) {
	c.mu.Lock()
	for k, e := range c.byKey {
		if e.User.ID == userID && e.Session.ID != except {
			delete(c.byKey, k)
			delete(c.byID, e.Session.ID)
		}
	}
	for u, r := range c.revokedUsers {
		if now.Sub(r.at) > revokedMemory {
			delete(c.revokedUsers, u)
		}
	}
	c.revokedUsers[userID] = userRevocation{at: now, except: except}
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byKey)
}

// sweepBatch is how many expired entries one write lock removes: a sweep never holds
// up the request path for long.
const sweepBatch = 512

// sweep forgets every entry whose cache time ended before now (it would be read from
// the store again anyway): without it, sessions used once would stay in memory until
// the cache is full. It looks under the read lock, which requests share, and deletes
// in short write-locked batches. It returns how many entries went.
func (c *cache) sweep(now time.Time) int {
	var old [][sha256.Size]byte
	c.mu.RLock()
	for k, e := range c.byKey {
		if !now.Before(e.expires) {
			old = append(old, k)
		}
	}
	c.mu.RUnlock()
	n := 0
	for len(old) > 0 {
		batch := old[:min(sweepBatch, len(old))]
		old = old[len(batch):]
		c.mu.Lock()
		for _, k := range batch {
			if e, ok := c.byKey[k]; ok && !now.Before(e.expires) { // not reloaded meanwhile
				delete(c.byID, e.Session.ID)
				delete(c.byKey, k)
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}
