package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// wallTime measures by the (in a bubble: fake) clock.
func wallTime(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// hash stands in for one bcrypt evaluation: it holds the CPU for d (in a synctest
// bubble, fake time passes instead).
func hash(d time.Duration) func() { return func() { time.Sleep(d) } }

// TestGateBoundsConcurrency: never more hashes at once than slots; attempts that find
// every slot taken wait, then are refused rather than queued without bound.
func TestGateBoundsConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(GateConfig{Slots: 3, Wait: 20 * time.Millisecond, Share: 1, Procs: 8, Burst: time.Hour, Measure: wallTime})
		var running, peak, busy atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				err := g.Do(context.Background(), func() {
					n := running.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(time.Second)
					running.Add(-1)
				})
				if errors.Is(err, ErrBusy) {
					busy.Add(1)
				}
			})
		}
		wg.Wait()
		if peak.Load() != 3 || busy.Load() != 7 {
			t.Fatalf("peak %d concurrent (want 3), %d refused (want 7)", peak.Load(), busy.Load())
		}
	})
}

// TestGateDefaultsLeaveACore: by default hashing never takes every core.
func TestGateDefaultsLeaveACore(t *testing.T) {
	t.Parallel()
	for procs, want := range map[int]int{1: 1, 2: 1, 4: 3, 16: 15} {
		if got := cap(NewGate(GateConfig{Procs: procs}).slots); got != want {
			t.Errorf("%d cores: %d slots, want %d", procs, got, want)
		}
	}
}

// TestGateCPUBudget: a flood of attempts gets at most Share of the CPU over time; the
// rest are refused at once, with a Retry-After, and the budget comes back.
func TestGateCPUBudget(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// 2 cores at 15 %: 0.3 s of hashing per second, at most 3 s (10 s) at once.
		g := NewGate(GateConfig{Procs: 2, Share: 0.15, Burst: 10 * time.Second, Slots: 1, Measure: wallTime})
		const cost = 250 * time.Millisecond // about bcrypt cost 12 here
		start := time.Now()
		var ok, refused int
		var retry time.Duration
		for time.Since(start) < time.Minute { // a client sending back to back for a minute
			err := g.Do(context.Background(), hash(cost))
			var oe *OverloadError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &oe):
				refused++
				retry = oe.RetryAfter
				time.Sleep(time.Millisecond) // a refusal costs the client a round trip
			default:
				t.Fatal(err)
			}
		}
		spent := g.Spent()
		// Budget: the 3 s burst plus 0.3 s/s for 60 s = 21 s.
		if spent > 21*time.Second || spent < 20*time.Second {
			t.Fatalf("hashing took %v of a minute, want about 21 s (15 %% of 2 cores plus the burst)", spent)
		}
		if refused == 0 || retry < time.Second {
			t.Fatalf("%d refused, retry after %v", refused, retry)
		}
		t.Logf("%d hashes, %d refused, %v hashing", ok, refused, spent)
		// Quiet for a while: the budget refills and sign-ins work again at once.
		time.Sleep(10 * time.Second)
		for range 12 {
			if err := g.Do(context.Background(), hash(cost)); err != nil {
				t.Fatalf("after a quiet period: %v", err)
			}
		}
	})
}

// TestGateWaitersCannotOverdraw: attempts that pass the budget check while others are
// hashing reserve their expected cost, so eight clients at once cannot spend more than
// the budget (they used to all pass the check before the first hash was charged).
func TestGateWaitersCannotOverdraw(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(GateConfig{Procs: 1, Share: 0.15, Burst: 10 * time.Second, Slots: 1, Wait: 5 * time.Second,
			Estimate: 300 * time.Millisecond, Measure: wallTime})
		const cost = 300 * time.Millisecond
		stop := time.Now().Add(30 * time.Second)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					if err := g.Do(context.Background(), hash(cost)); err != nil {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		// 1.5 s burst + 0.15 s/s × 30 s = 6 s, give or take one hash in flight.
		if spent := g.Spent(); spent > 6*time.Second+cost {
			t.Fatalf("eight clients spent %v hashing in 30 s; the budget is 6 s", spent)
		}
	})
}

// TestGateMeasuresCPUTime: by default a hash is charged the CPU time its thread spent,
// not the time it waited (a sleeping "hash" costs nothing, a busy one its work).
func TestGateMeasuresCPUTime(t *testing.T) {
	t.Parallel()
	if d := cpuTime(func() { time.Sleep(50 * time.Millisecond) }); d > 10*time.Millisecond {
		t.Errorf("a 50 ms sleep was charged %v of CPU", d)
	}
	buf := make([]byte, 1<<20)
	work := func() { // a fixed amount of work, whatever the load: 64 MB of SHA-256
		for range 64 {
			sum := sha256.Sum256(buf)
			buf[0] = sum[0]
		}
	}
	if d := cpuTime(work); d < 20*time.Millisecond {
		t.Errorf("hashing 64 MB was charged %v of CPU", d)
	}
}
