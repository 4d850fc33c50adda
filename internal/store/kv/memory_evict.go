package kv

import (
	"container/heap"
	"time"
)

// This file holds Memory's bookkeeping: every key sits both in the map (for lookup)
// and in a min-heap ordered by expiry (for dropping expired keys and, when the store
// is full, the keys closest to expiry). Keys without expiry sort last. The heap keeps
// each write O(log n) and needs no background goroutine: expired keys are dropped
// from the top of the heap on every write, and lazily on read.
//
// All functions here expect m.mu to be held.

// get returns the live item at key, dropping it first if it has expired.
func (m *Memory) get(key string, now time.Time) *item {
	it, ok := m.items[key]
	if !ok {
		return nil
	}
	if expired(it, now) {
		m.remove(it)
		return nil
	}
	return it
}

// set stores val at key with the given deadline, replacing value and expiry.
func (m *Memory) set(key string, val []byte, expires, now time.Time) {
	if it := m.get(key, now); it != nil {
		it.val = val
		it.expires = expires
		heap.Fix(&m.expiry, it.index)
		m.sweep(now)
		return
	}
	m.insert(key, val, expires, now)
}

// insert adds a key that is not in the map, making room first when the store is full.
func (m *Memory) insert(key string, val []byte, expires, now time.Time) {
	m.sweep(now)
	for len(m.items) >= m.max && len(m.expiry) > 0 {
		m.remove(m.expiry[0]) // closest to expiry: the least protection lost
	}
	it := &item{key: key, val: val, expires: expires}
	m.items[key] = it
	heap.Push(&m.expiry, it)
}

// sweep drops expired keys from the top of the heap.
func (m *Memory) sweep(now time.Time) {
	for len(m.expiry) > 0 && expired(m.expiry[0], now) {
		m.remove(m.expiry[0])
	}
}

// remove deletes it from both the map and the heap.
func (m *Memory) remove(it *item) {
	delete(m.items, it.key)
	heap.Remove(&m.expiry, it.index)
}

// expired reports whether it has a deadline that is not in the future.
func expired(it *item, now time.Time) bool {
	return !it.expires.IsZero() && !now.Before(it.expires)
}

// expiryHeap implements heap.Interface over items by deadline, zero (never) last.
type expiryHeap []*item

func (h expiryHeap) Len() int { return len(h) }

func (h expiryHeap) Less(i, j int) bool {
	a, b := h[i].expires, h[j].expires
	switch {
	case a.IsZero():
		return false
	case b.IsZero():
		return true
	default:
		return a.Before(b)
	}
}

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expiryHeap) Push(x any) {
	it := x.(*item) // only insert pushes, always an *item
	it.index = len(*h)
	*h = append(*h, it)
}

func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil // let the item be collected
	*h = old[:n-1]
	it.index = -1
	return it
}
