package token

import "sync"

// bounded is a concurrent map that never holds more than size entries: when full, an
// eighth of them, arbitrary ones (map order), make room — amortised O(1) per insert,
// whatever a flood sends. Readers share a read lock.
type bounded[K comparable, V any] struct {
	mu   sync.RWMutex
	m    map[K]V
	size int // 0: DefaultCacheSize
}

func (b *bounded[K, V]) get(k K) (V, bool) {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	return v, ok
}

func (b *bounded[K, V]) put(k K, v V) {
	size := b.size
	if size <= 0 {
		size = DefaultCacheSize
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= size {
		drop := max(size/8, 1)
		for old := range b.m {
			if drop == 0 {
				break
			}
			delete(b.m, old)
			drop--
		}
	}
	b.m[k] = v
}

func (b *bounded[K, V]) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
