package session

import (
	"crypto/sha256"
	"sync"
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
}

func newCache(max int) *cache {
	return &cache{max: max, byKey: make(map[[sha256.Size]byte]*Entry), byID: make(map[string][sha256.Size]byte)}
}

func (c *cache) get(k [sha256.Size]byte) *Entry {
	c.mu.RLock()
	e := c.byKey[k]
	c.mu.RUnlock()
	return e
}

func (c *cache) put(e *Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[e.key]; !ok && len(c.byKey) >= c.max {
		for k, old := range c.byKey {
			delete(c.byKey, k)
			delete(c.byID, old.Session.ID)
			break
		}
	}
	c.byKey[e.key] = e
	c.byID[e.Session.ID] = e.key
}

func (c *cache) delete(k [sha256.Size]byte) {
	c.mu.Lock()
	if e, ok := c.byKey[k]; ok {
		delete(c.byID, e.Session.ID)
		delete(c.byKey, k)
	}
	c.mu.Unlock()
}

func (c *cache) deleteSession(id string) {
	c.mu.Lock()
	if k, ok := c.byID[id]; ok {
		delete(c.byKey, k)
		delete(c.byID, id)
	}
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byKey)
}
