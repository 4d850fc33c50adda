package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// TestWatchFollowsRedisWithoutTraffic: with no rate-limited request at all, the
// background probe reports a private Redis going away and coming back (the
// gatehouse_redis_degraded gauge hangs on OnDegraded).
func TestWatchFollowsRedisWithoutTraffic(t *testing.T) {
	rd := kvtest.StartPrivateRedis(t)
	rs := ratelimit.NewRedisStore(kvtest.OpenRedis(t, rd.URL(), kv.RedisOptions{}).Client(), "probe-test:")
	l := ratelimit.New(rs, nil)
	var mu sync.Mutex
	var events []bool
	l.OnDegraded = func(degraded bool, _ error) {
		mu.Lock()
		events = append(events, degraded)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Watch(ctx, 100*time.Millisecond); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})

	waitDegraded := func(want bool, what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second) // generous: a loaded machine
		for l.Degraded() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Degraded() still %v after 15 s without traffic", what, !want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // a few probes while Redis answers
	if l.Degraded() {
		t.Fatal("degraded while Redis answers")
	}
	rd.Stop()
	waitDegraded(true, "Redis stopped")
	rd.Start()
	waitDegraded(false, "Redis started again")
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || !events[0] || events[1] {
		t.Fatalf("OnDegraded calls %v, want [true false]", events)
	}
}

// TestWatchMemoryOnlyReturns: without a shared store there is nothing to probe, and
// Watch must not keep a goroutine.
func TestWatchMemoryOnlyReturns(t *testing.T) {
	done := make(chan struct{})
	go func() { ratelimit.New(nil, nil).Watch(context.Background(), time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch on a memory-only limiter did not return")
	}
}
