package kv_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

// failFast is how long a store may take to report a dead Redis. Sign-in paths wait
// this long before answering 503, so it is part of the contract, not a tuning knob.
const failFast = time.Second

// TestRedisKilled kills a private Redis under an open store: every operation must
// fail with ErrUnavailable, quickly, and the store must work again once Redis is
// back, without being reopened.
func TestRedisKilled(t *testing.T) {
	r := kvtest.StartPrivateRedis(t)
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	warmPool(t, st)
	if _, err := st.Incr(ctx, "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	mustDo(t, st.Put(ctx, "n:blob", []byte("x"), time.Minute))

	r.Stop()
	// The first round meets the pooled connections Redis dropped, the later ones a
	// refused port and then go-redis's dial circuit breaker: all must fail closed.
	for range 3 {
		wantUnavailable(t, st)
	}
	wantConcurrentUnavailable(t, st)

	r.Start()
	waitRecovered(t, st)
	// A restarted Redis without persistence is empty: counting starts over.
	if n, err := st.Incr(ctx, "n", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr after the restart = %d, %v; want 1", n, err)
	}
	wantWorking(t, st)
}

// TestRedisHung freezes a private Redis: connections open but nothing answers, so
// the store meets timeouts, not refusals — and must still fail fast.
func TestRedisHung(t *testing.T) {
	r := kvtest.StartPrivateRedis(t)
	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{})
	warmPool(t, st)

	r.Pause()
	wantUnavailable(t, st)
	wantConcurrentUnavailable(t, st)

	r.Resume()
	waitRecovered(t, st)
	wantWorking(t, st)
}

// TestRedisDownAtOpen: OpenRedis reports a dead Redis at once, unless Lazy, which
// lets the gateway start and fail closed until Redis comes up.
func TestRedisDownAtOpen(t *testing.T) {
	r := kvtest.StartPrivateRedis(t)
	r.Stop()

	start := time.Now()
	err := openErr(t, r.URL(), kv.RedisOptions{})
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("OpenRedis on a dead Redis = %v, want an error wrapping ErrUnavailable", err)
	}
	if el := time.Since(start); el > failFast {
		t.Fatalf("OpenRedis took %s to report a dead Redis, want at most %s", el, failFast)
	}

	st := kvtest.OpenRedis(t, r.URL(), kv.RedisOptions{Lazy: true})
	wantUnavailable(t, st)
	r.Start()
	waitRecovered(t, st)
	wantWorking(t, st)
}

// warmPool fills the connection pool, so that an outage finds several open
// connections to go stale.
func warmPool(t *testing.T, st kv.Store) {
	t.Helper()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := st.Ping(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// wantUnavailable calls every operation once and checks each fails with
// ErrUnavailable — never ErrNotFound, never a zero value — within failFast.
func wantUnavailable(t *testing.T, st kv.Store) {
	t.Helper()
	for _, c := range kvtest.CallEach(ctx, st, "n") {
		t.Logf("%s failed after %s: %v", c.Op, c.Elapsed, c.Err)
		if !errors.Is(c.Err, kv.ErrUnavailable) || errors.Is(c.Err, kv.ErrNotFound) {
			t.Errorf("%s while Redis is down = %v; want an error wrapping ErrUnavailable", c.Op, c.Err)
		}
		if c.Elapsed > failFast {
			t.Errorf("%s took %s to fail, want at most %s", c.Op, c.Elapsed, failFast)
		}
	}
}

// wantConcurrentUnavailable checks that a burst of callers — a login flood during
// the outage — all fail within failFast, not one after another.
func wantConcurrentUnavailable(t *testing.T, st kv.Store) {
	t.Helper()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			start := time.Now()
			_, err := st.Incr(ctx, "flood", time.Minute)
			el := time.Since(start)
			if !errors.Is(err, kv.ErrUnavailable) {
				t.Errorf("concurrent Incr while Redis is down = %v; want ErrUnavailable", err)
			}
			if el > failFast {
				t.Errorf("concurrent Incr took %s to fail, want at most %s", el, failFast)
			}
		})
	}
	wg.Wait()
}

// waitRecovered waits for the same store to answer again.
func waitRecovered(t *testing.T, st kv.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := st.Ping(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover within 10s of Redis coming back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantWorking checks every operation succeeds (Take finds the value CallEach put).
func wantWorking(t *testing.T, st kv.Store) {
	t.Helper()
	for _, c := range kvtest.CallEach(ctx, st, "w") {
		if c.Err != nil {
			t.Errorf("%s after recovery: %v", c.Op, c.Err)
		}
	}
}
