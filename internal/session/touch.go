package session

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// touch is one last-activity write: session id of tenant seen at from ip.
type touch struct {
	tenant store.TenantHandle
	id     string
	at     time.Time
	ip     string
}

// toucher writes last-activity times in the background, so requests never wait for
// them. Writes for the same session are coalesced (only the newest is kept) and the
// backlog is bounded: when it is full, the oldest pending write is dropped — the next
// request of that session queues a fresh one a minute later. It starts with the first
// write and stops on close.
type toucher struct {
	mu      sync.Mutex
	pending map[string]touch // by session id
	wake    chan struct{}
	done    chan struct{}
	waiters []chan struct{} // flushes waiting for the next batch to be written
	started bool
	closed  bool
}

// maxPendingTouches bounds the backlog (a store outage must not grow memory).
const maxPendingTouches = 10_000

func newToucher() *toucher {
	return &toucher{pending: make(map[string]touch), wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (t *toucher) queue(w touch) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	if _, ok := t.pending[w.id]; !ok && len(t.pending) >= maxPendingTouches {
		for id := range t.pending { // drop one arbitrary pending write
			delete(t.pending, id)
			break
		}
	}
	t.pending[w.id] = w
	if !t.started {
		t.started = true
		go t.run()
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *toucher) run() {
	defer close(t.done)
	for {
		<-t.wake
		t.mu.Lock()
		batch, closed, waiters := t.pending, t.closed, t.waiters
		t.pending, t.waiters = make(map[string]touch), nil
		t.mu.Unlock()
		for _, w := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = w.tenant.Sessions().TouchSession(ctx, w.id, w.at, w.ip) // best effort: activity is informational
			cancel()
		}
		for _, ch := range waiters {
			close(ch)
		}
		if closed {
			return
		}
	}
}

// flush returns once every write queued before it has been made.
func (t *toucher) flush() {
	t.mu.Lock()
	if !t.started || t.closed {
		t.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	t.waiters = append(t.waiters, ch)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	<-ch
}

// close writes what is pending and stops the writer.
func (t *toucher) close() {
	t.mu.Lock()
	started := t.started && !t.closed
	t.closed = true
	t.mu.Unlock()
	if !started {
		return
	}
	select {
	case t.wake <- struct{}{}:
	default:
	}
	<-t.done
}
