package authn

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy: too many password checks are running; the caller answers 503 with
// Retry-After instead of queueing without bound.
var ErrBusy = errors.New("too many concurrent password checks")

// Gate bounds concurrent password hashing (SPEC §13: about 2 × cores), so a flood of
// sign-in attempts cannot starve proxied traffic of CPU or grow memory without bound.
// A caller waits at most Wait for a slot.
type Gate struct {
	slots     chan struct{}
	wait      time.Duration
	evaluated atomic.Int64
}

// Evaluated counts the hashes run through the gate (for metrics and tests).
func (g *Gate) Evaluated() int64 { return g.evaluated.Load() }

// NewGate allows n concurrent hashes (n <= 0: 2 × GOMAXPROCS); callers wait at most wait.
func NewGate(n int, wait time.Duration) *Gate {
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	return &Gate{slots: make(chan struct{}, n), wait: wait}
}

// Do runs fn when a slot is free, or returns ErrBusy after the wait (or ctx's end).
func (g *Gate) Do(ctx context.Context, fn func()) error {
	if g == nil {
		fn()
		return nil
	}
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return ErrBusy
		}
	}
	defer func() { <-g.slots }()
	g.evaluated.Add(1)
	fn()
	return nil
}
