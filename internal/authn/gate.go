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

	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// ErrBusy: password checking is over its budget or its slots are all taken; the caller
// answers 503 with Retry-After instead of queueing without bound.
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
	// never see — then leaves the rest to proxied traffic.
	Share float64
	// Burst is how many seconds of the budget may be spent at once after a quiet
	// period (default 10 s: at Share 0.15 on 2 cores, 3 s of hashing, about ten
	// sign-ins at bcrypt cost 12 arriving together).
	Burst time.Duration
	// Slots is how many hashes may run at once (default: one fewer than the cores,
	// at least 1), so hashing never occupies every core even for a moment.
	Slots int
	// Wait is how long an attempt with budget waits for a free slot (default 2 s).
	Wait time.Duration
	// Procs is the number of cores (default GOMAXPROCS).
	Procs int
	// Estimate is what one hash is expected to cost before any was measured (default
	// 250 ms; the gateway measures one at start).
	Estimate time.Duration
	// Measure runs fn and reports its cost (default: the CPU time of the thread that
	// ran it). Tests in a synctest bubble measure fake wall time instead.
	Measure func(fn func()) time.Duration
}

// Gate bounds password hashing, the one deliberately slow thing an unauthenticated
// client can make the gateway do (SPEC §13: a login flood must not starve proxied
// traffic of CPU or grow memory without bound). It keeps a token bucket of hashing
// time: it fills at Share × Procs seconds per second up to Burst × that rate. An
// attempt reserves what a hash is expected to cost before it may run (so attempts
// waiting for a slot cannot overdraw the budget together) and is charged what it really
// cost when it is done (its thread's CPU time). While the bucket cannot cover the next
// hash, attempts are refused at once with the time until it can (*OverloadError) —
// never queued behind the hashes already running.
type Gate struct {
	slots   chan struct{}
	wait    time.Duration
	rate    float64 // seconds of hashing per second
	cap     float64 // seconds
	measure func(func()) time.Duration

	mu     sync.Mutex
	tokens float64 // seconds; negative: debt from hashes that cost more than expected
	last   time.Time
	est    float64 // expected seconds per hash (moving average of measured ones)

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
	if c.Estimate <= 0 {
		c.Estimate = 250 * time.Millisecond
	}
	if c.Measure == nil {
		c.Measure = cpuTime
	}
	rate := c.Share * float64(c.Procs)
	g := &Gate{slots: make(chan struct{}, c.Slots), wait: c.Wait, rate: rate, cap: rate * c.Burst.Seconds(),
		measure: c.Measure, est: c.Estimate.Seconds()}
	g.tokens, g.last = g.cap, time.Now()
	return g
}

// Evaluated counts the hashes run through the gate.
func (g *Gate) Evaluated() int64 { return g.evaluated.Load() }

// Refused counts attempts refused for want of budget or a slot.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// Spent is the total measured cost of the hashes run.
func (g *Gate) Spent() time.Duration { return time.Duration(g.spent.Load()) }

// Admit tells whether the budget covers a hash now, without reserving it: callers
// check it before doing other work for an attempt (such as taking a lockout place), so
// that a flood is refused as cheaply as possible.
func (g *Gate) Admit() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.coverLocked()
}

// coverLocked refills the bucket and refuses when it cannot cover the expected cost
// of a hash (a full bucket always covers one, however expensive hashes are).
func (g *Gate) coverLocked() error {
	now := time.Now()
	g.tokens = math.Min(g.cap, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	g.last = now
	need := math.Min(g.est, g.cap)
	if g.tokens >= need {
		return nil
	}
	g.refused.Add(1)
	retry := time.Duration((need - g.tokens) / g.rate * float64(time.Second))
	return &OverloadError{RetryAfter: max(retry, time.Second).Round(time.Second)}
}

// Do runs fn (one password hash) when the budget covers it and a slot is free, and
// charges its measured cost; otherwise it returns an *OverloadError without running fn.
func (g *Gate) Do(ctx context.Context, fn func()) error {
	if g == nil {
		fn()
		return nil
	}
	g.mu.Lock()
	if err := g.coverLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	reserved := g.est
	g.tokens -= reserved
	g.mu.Unlock()
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.settle(reserved, 0)
			g.refused.Add(1)
			return &OverloadError{RetryAfter: time.Second}
		case <-ctx.Done():
			g.settle(reserved, 0)
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	d := g.measure(fn)
	g.evaluated.Add(1)
	g.spent.Add(int64(d))
	g.settle(reserved, d.Seconds())
	return nil
}

// settle replaces a reservation by what was spent and updates the expected cost.
func (g *Gate) settle(reserved, spent float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens += reserved - spent
	if spent > 0 {
		g.est = 0.8*g.est + 0.2*spent
	}
}

// MeasureHash returns what one password check costs with h (its CPU time), to seed a
// Gate's Estimate.
func MeasureHash(h *identity.Hasher) time.Duration {
	h.DummyHash() // computed and cached first: it is a hash of its own
	return cpuTime(func() { h.EqualiseTiming("a password nobody has") })
}
