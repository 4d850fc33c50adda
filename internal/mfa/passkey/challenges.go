package passkey

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// ChallengeStore keeps ceremony state between Begin and Finish. Implementations are
// safe for concurrent use and shared by every instance behind a load balancer (the
// memory one serves a single instance; a Redis one serves a cluster).
type ChallengeStore interface {
	// Put stores data under id for ttl, replacing an earlier value.
	Put(ctx context.Context, id string, data []byte, ttl time.Duration) error
	// Take atomically gets and deletes the value: of concurrent Takes of one id at most
	// one succeeds. It returns ErrChallengeNotFound (possibly wrapped) for an unknown,
	// expired or already taken id.
	Take(ctx context.Context, id string) ([]byte, error)
}

// DefaultMaxChallenges bounds a MemoryChallenges made by NewMemoryChallenges. At five
// minutes per ceremony it allows a sustained 33 ceremonies per second.
const DefaultMaxChallenges = 10000

// MemoryChallenges is an in-process ChallengeStore with a bounded size. When full, Put
// drops expired entries and then the oldest ones: a flood of Begin calls (which the
// endpoint rate limits should prevent) delays legitimate ceremonies but cannot grow
// memory without bound.
type MemoryChallenges struct {
	clock clock.Clock
	max   int

	mu    sync.Mutex
	items map[string]*list.Element // of *memChallenge
	order *list.List               // insertion order, oldest first
}

type memChallenge struct {
	id      string
	data    []byte
	expires time.Time
}

// NewMemoryChallenges returns a MemoryChallenges holding at most DefaultMaxChallenges
// entries. clk decides expiry (nil: the wall clock).
func NewMemoryChallenges(clk clock.Clock) *MemoryChallenges {
	return NewMemoryChallengesLimit(clk, DefaultMaxChallenges)
}

// NewMemoryChallengesLimit is NewMemoryChallenges with a custom bound (minimum 1).
func NewMemoryChallengesLimit(clk clock.Clock, maxEntries int) *MemoryChallenges {
	if clk == nil {
		clk = clock.Real{}
	}
	return &MemoryChallenges{
		clock: clk,
		max:   max(maxEntries, 1),
		items: make(map[string]*list.Element),
		order: list.New(),
	}
}

// Put stores a copy of data under id until now+ttl.
func (m *MemoryChallenges) Put(_ context.Context, id string, data []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("passkey: challenge ttl must be positive")
	}
	now := m.clock.Now()
	c := &memChallenge{id: id, data: append([]byte(nil), data...), expires: now.Add(ttl)}

	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[id]; ok {
		m.order.Remove(el)
		delete(m.items, id)
	}
	// Entries share one TTL in practice, so the oldest are the first to expire.
	for el := m.order.Front(); el != nil && !now.Before(el.Value.(*memChallenge).expires); el = m.order.Front() {
		m.remove(el)
	}
	for m.order.Len() >= m.max {
		m.remove(m.order.Front())
	}
	m.items[id] = m.order.PushBack(c)
	return nil
}

// Take returns and deletes the value under id.
func (m *MemoryChallenges) Take(_ context.Context, id string) ([]byte, error) {
	now := m.clock.Now()
	m.mu.Lock()
	el, ok := m.items[id]
	if ok {
		m.remove(el)
	}
	m.mu.Unlock()
	if !ok {
		return nil, ErrChallengeNotFound
	}
	c := el.Value.(*memChallenge)
	if !now.Before(c.expires) {
		return nil, ErrChallengeNotFound
	}
	return c.data, nil
}

// Len returns the number of entries held, expired ones not yet dropped included.
func (m *MemoryChallenges) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *MemoryChallenges) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.items, el.Value.(*memChallenge).id)
}

// Interface guards
var _ ChallengeStore = (*MemoryChallenges)(nil)
