package authn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy: password checking is over its budget or its slots are all taken; the caller
// answers 503 with Retry-After at once instead of queueing without bound.
var ErrBusy = errors.New("password checking is at capacity")

// OverloadError is ErrBusy with the time after which budget is back.
type OverloadError struct{ RetryAfter time.Duration }

func (e *OverloadError) Error() string {
	return fmt.Sprintf("password checking is at capacity; retry after %v", e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrBusy) hold.
func (e *OverloadError) Unwrap() error { return ErrBusy }

// GateConfig sizes a Gate; zero fields take the defaults.
type GateConfig struct {
	// Share is the fraction of the machine's CPU that password hashing may use over
	// time (default 0.15). A login flood from rotating addresses — which per-IP limits
	// never see — then leaves at least the rest to proxied traffic.
	Share float64
	// Burst is how many seconds of the budget may be spent at once after a quiet
	// period (default 10 s: at Share 0.15 on 2 cores, 3 s of hashing, about a dozen
	// sign-ins at bcrypt cost 12 arriving together).
	Burst time.Duration
	// Slots is how many hashes may run at once (default: one fewer than the cores,
	// at least 1), so hashing never occupies every core even for a moment.
	Slots int
	// Wait is how long an attempt with budget waits for a free slot (default 2 s).
	Wait time.Duration
	// Procs is the number of cores (default GOMAXPROCS).
	Procs int
}

// Gate bounds password hashing, the one deliberately slow thing an unauthenticated
// client can make the gateway do (SPEC §13: a login flood must not starve proxied
// traffic of CPU or grow memory without bound). It keeps a token bucket of hashing
// time: it fills at Share × Procs seconds per second up to Burst × that rate, each hash
// takes its measured duration out of it, and while it is empty attempts are refused at
// once (an *OverloadError with the time until it refills) — never queued behind the
// hashes already running.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
	rate  float64 // seconds of hashing per second
	cap   float64 // seconds

	mu     sync.Mutex
	tokens float64 // seconds; negative: debt from hashes that ran past the budget
	last   time.Time

	evaluated atomic.Int64
	refused   atomic.Int64
	spent     atomic.Int64 // nanoseconds of hashing
}

// NewGate returns a Gate sized by c.
func NewGate(c GateConfig) *Gate {
	if c.Procs <= 0 {
		c.Procs = runtime.GOMAXPROCS(0)
	}
	if c.Share <= 0 {
		c.Share = 0.15
	}
	if c.Burst <= 0 {
		c.Burst = 10 * time.Second
	}
	if c.Slots <= 0 {
		c.Slots = max(1, c.Procs-1)
	}
	if c.Wait <= 0 {
		c.Wait = 2 * time.Second
	}
	rate := c.Share * float64(c.Procs)
	g := &Gate{slots: make(chan struct{}, c.Slots), wait: c.Wait, rate: rate, cap: rate * c.Burst.Seconds()}
	g.tokens, g.last = g.cap, time.Now()
	return g
}

// Evaluated counts the hashes run through the gate.
func (g *Gate) Evaluated() int64 { return g.evaluated.Load() }

// Refused counts attempts refused for want of budget or a slot.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// Spent is the total time spent hashing.
func (g *Gate) Spent() time.Duration { return time.Duration(g.spent.Load()) }

// Admit tells whether there is budget for a hash now, without taking any: callers
// check it before doing other work for an attempt (such as taking a lockout place), so
// that a flood is refused as cheaply as possible.
func (g *Gate) Admit() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.checkLocked()
}

func (g *Gate) checkLocked() error {
	now := time.Now()
	g.tokens = math.Min(g.cap, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	g.last = now
	if g.tokens > 0 {
		return nil
	}
	g.refused.Add(1)
	retry := time.Duration(-g.tokens / g.rate * float64(time.Second))
	return &OverloadError{RetryAfter: max(retry, time.Second).Round(time.Second)}
}

// Do runs fn (one password hash) when there is budget and a free slot, charging its
// duration to the budget; otherwise it returns an *OverloadError without running fn.
func (g *Gate) Do(ctx context.Context, fn func()) error {
	if g == nil {
		fn()
		return nil
	}
	if err := g.Admit(); err != nil {
		return err
	}
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.refused.Add(1)
			return &OverloadError{RetryAfter: time.Second}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	start := time.Now()
	fn()
	d := time.Since(start)
	g.evaluated.Add(1)
	g.spent.Add(int64(d))
	g.mu.Lock()
	g.tokens -= d.Seconds()
	g.mu.Unlock()
	return nil
}
