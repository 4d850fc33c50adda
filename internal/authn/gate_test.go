package authn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGateBoundsConcurrency(t *testing.T) {
	g := NewGate(3, 20*time.Millisecond)
	var running, peak, busy atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			err := g.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				running.Add(-1)
			})
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the waiters give up after 20 ms
	close(release)
	wg.Wait()
	if peak.Load() != 3 || busy.Load() != 7 {
		t.Fatalf("peak %d concurrent (want 3), %d refused (want 7)", peak.Load(), busy.Load())
	}
}
