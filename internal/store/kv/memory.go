package kv

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// DefaultMaxKeys bounds a Memory store when NewMemory is given maxKeys <= 0. Each key
// costs a few hundred bytes, so the default stays in the tens of megabytes even when
// an attacker sprays lockout counters for made-up e-mail addresses.
const DefaultMaxKeys = 100_000

// Memory is the single-instance Store: a map guarded by one mutex, with expiry read
// from an injected clock so tests move time instead of sleeping.
//
// It is bounded because every key it holds can be created by an unauthenticated
// client (a failed sign-in for any e-mail makes a counter). When full, it first drops
// expired keys and then the keys closest to expiry: those have the least protective
// value left, while a key without expiry is dropped last.
//
// Values are kept as bytes, counters as their decimal text, exactly as Redis keeps
// them, so both backends agree on every mixed use (Incr on a blob fails in both).
type Memory struct {
	clk clock.Clock
	max int

	mu     sync.Mutex
	items  map[string]*item
	expiry expiryHeap
	closed bool
}

// item is one key. expires is zero for a key without expiry.
type item struct {
	key     string
	val     []byte
	expires time.Time
	index   int // position in Memory.expiry
}

// Compile-time check that Memory is a Store.
var _ Store = (*Memory)(nil)

// NewMemory returns an empty store that keeps at most maxKeys keys (DefaultMaxKeys
// when maxKeys <= 0). A nil clk means the wall clock.
func NewMemory(clk clock.Clock, maxKeys int) *Memory {
	if clk == nil {
		clk = clock.Real{}
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{clk: clk, max: maxKeys, items: make(map[string]*item)}
}

// Incr implements Store.
func (m *Memory) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	now, err := m.lock(ctx, "incr")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	it := m.get(key, now)
	if it == nil {
		m.insert(key, []byte("1"), expiresAt(now, ttl), now)
		return 1, nil
	}
	n, err := parseInt(it.val)
	if err != nil {
		return 0, memFail("incr", err)
	}
	if n == math.MaxInt64 {
		return 0, memFail("incr", fmt.Errorf("increment would overflow"))
	}
	n++
	it.val = strconv.AppendInt(it.val[:0], n, 10) // keeps it.expires: the window does not slide
	return n, nil
}

// Decr implements Store.
func (m *Memory) Decr(ctx context.Context, key string) (int64, error) {
	now, err := m.lock(ctx, "decr")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	it := m.get(key, now)
	if it == nil {
		return 0, nil
	}
	n, err := parseInt(it.val)
	if err != nil {
		return 0, memFail("decr", err)
	}
	if n <= 1 {
		m.remove(it)
		return 0, nil
	}
	n--
	it.val = strconv.AppendInt(it.val[:0], n, 10)
	return n, nil
}

// GetInt implements Store.
func (m *Memory) GetInt(ctx context.Context, key string) (int64, error) {
	now, err := m.lock(ctx, "get")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	it := m.get(key, now)
	if it == nil {
		return 0, nil
	}
	n, err := parseInt(it.val)
	if err != nil {
		return 0, memFail("get", err)
	}
	return n, nil
}

// SetInt implements Store. Like Redis SET, it replaces any expiry the key had.
func (m *Memory) SetInt(ctx context.Context, key string, v int64, ttl time.Duration) error {
	now, err := m.lock(ctx, "set")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.set(key, strconv.AppendInt(nil, v, 10), expiresAt(now, ttl), now)
	return nil
}

// TTL implements Store.
func (m *Memory) TTL(ctx context.Context, key string) (time.Duration, error) {
	now, err := m.lock(ctx, "ttl")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	it := m.get(key, now)
	if it == nil || it.expires.IsZero() {
		return 0, nil
	}
	return it.expires.Sub(now), nil
}

// Del implements Store.
func (m *Memory) Del(ctx context.Context, keys ...string) error {
	if _, err := m.lock(ctx, "del"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for _, k := range keys {
		if it, ok := m.items[k]; ok {
			m.remove(it)
		}
	}
	return nil
}

// Put implements Store. It copies data, so the caller may reuse its buffer.
func (m *Memory) Put(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	now, err := m.lock(ctx, "put")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.set(key, append([]byte{}, data...), expiresAt(now, ttl), now)
	return nil
}

// Take implements Store. Lookup and removal happen under one lock, which is what
// makes a single-use value single-use.
func (m *Memory) Take(ctx context.Context, key string) ([]byte, error) {
	now, err := m.lock(ctx, "take")
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	it := m.get(key, now)
	if it == nil {
		return nil, ErrNotFound
	}
	m.remove(it)
	return it.val, nil // no longer reachable from the map: safe to hand out
}

// Ping implements Store: a memory store is available until it is closed.
func (m *Memory) Ping(ctx context.Context) error {
	if _, err := m.lock(ctx, "ping"); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Close implements Store. It drops every key; later calls fail with ErrUnavailable,
// as they would on a closed Redis client.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.items = nil
	m.expiry = nil
	return nil
}

// Len returns the number of keys held, expired ones not yet dropped included. It is
// meant for metrics and tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// lock takes the mutex and reads the clock once, so that one operation sees one
// instant. It refuses a done context or a closed store without taking the lock.
func (m *Memory) lock(ctx context.Context, op string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, memFail(op, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return time.Time{}, memFail(op, errClosed)
	}
	return m.clk.Now(), nil
}

// errClosed is the cause reported by a closed Memory.
var errClosed = fmt.Errorf("store is closed")

// memFail wraps a failure so that callers need one check, errors.Is(err,
// ErrUnavailable), to fail closed — the same rule the Redis backend follows.
func memFail(op string, cause error) error {
	return fmt.Errorf("kv memory: %s: %w: %w", op, ErrUnavailable, cause)
}

// parseInt reads a counter the way Redis does: base-10 int64 text, nothing else.
func parseInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value is not an integer or out of range")
	}
	return n, nil
}

// expiresAt turns a ttl into a deadline; ttl <= 0 means no expiry (the zero time).
func expiresAt(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}
