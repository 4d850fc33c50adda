package kvtest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// counterTests cover Incr, GetInt and SetInt: the lockout and rate counters.
var counterTests = []test{
	{"IncrCountsFromOne", func(t *testing.T, _ *suite, st kv.Store) {
		for want := int64(1); want <= 3; want++ {
			mustIncr(t, st, "c", time.Minute, want)
		}
		mustInt(t, st, "c", 3)
	}},
	{"IncrKeepsFirstTTL", func(t *testing.T, _ *suite, st kv.Store) {
		// A lockout window must not slide: later failures do not extend it.
		mustIncr(t, st, "c", 10*time.Second, 1)
		mustIncr(t, st, "c", time.Hour, 2)
		mustIncr(t, st, "c", 0, 3)
		mustTTLIn(t, st, "c", 0, 10*time.Second)
	}},
	{"IncrWithoutTTL", func(t *testing.T, _ *suite, st kv.Store) {
		mustIncr(t, st, "c", 0, 1)
		if d := mustTTL(t, st, "c"); d != 0 {
			t.Fatalf("TTL after Incr without ttl = %s, want 0 (no expiry)", d)
		}
	}},
	{"IncrKeepsNoExpiry", func(t *testing.T, _ *suite, st kv.Store) {
		// "An existing key keeps its expiry" includes having none.
		must(t, st.SetInt(ctx, "c", 5, 0))
		mustIncr(t, st, "c", time.Minute, 6)
		if d := mustTTL(t, st, "c"); d != 0 {
			t.Fatalf("TTL = %s, want 0: Incr gave an existing key a TTL", d)
		}
	}},
	{"ConcurrentIncr", func(t *testing.T, _ *suite, st kv.Store) {
		// 100 racing failures must see 100 distinct counts, or a lockout after n
		// failures lets more than n guesses through.
		concurrentIncr(t, []kv.Store{st}, 100)
	}},
	{"DecrStopsAtZeroAndKeepsTTL", func(t *testing.T, _ *suite, st kv.Store) {
		// In-flight counts (lockout) go up and down; an expired key must not come back
		// negative, or the count would let extra attempts through.
		mustIncr(t, st, "c", 10*time.Second, 1)
		mustIncr(t, st, "c", 0, 2)
		mustDecr(t, st, "c", 1)
		mustTTLIn(t, st, "c", 0, 10*time.Second)
		mustDecr(t, st, "c", 0) // reaching 0 removes the key…
		mustDecr(t, st, "c", 0)
		mustInt(t, st, "c", 0)
		mustIncr(t, st, "c", time.Hour, 1) // … so the next Incr starts a new expiry
		mustTTLIn(t, st, "c", 10*time.Second, time.Hour)
		mustDecr(t, st, "missing", 0)
		if d := mustTTL(t, st, "missing"); d != 0 {
			t.Fatalf("Decr created a missing key (TTL %s)", d)
		}
		mustIncr(t, st, "missing", time.Minute, 1)
	}},
	{"ConcurrentIncrDecr", func(t *testing.T, _ *suite, st kv.Store) {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := st.Incr(ctx, "c", time.Minute); err != nil {
					t.Error(err)
				}
				if _, err := st.Decr(ctx, "c"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		mustInt(t, st, "c", 0)
	}},
	{"GetIntMissingIsZero", func(t *testing.T, _ *suite, st kv.Store) {
		mustInt(t, st, "missing", 0)
	}},
	{"SetInt", func(t *testing.T, _ *suite, st kv.Store) {
		must(t, st.SetInt(ctx, "c", 42, time.Minute))
		mustInt(t, st, "c", 42)
		mustTTLIn(t, st, "c", 0, time.Minute)
		mustIncr(t, st, "c", time.Hour, 43)
		mustTTLIn(t, st, "c", 0, time.Minute)
		// Like SET, SetInt replaces the expiry too.
		must(t, st.SetInt(ctx, "c", -7, 0))
		mustInt(t, st, "c", -7)
		if d := mustTTL(t, st, "c"); d != 0 {
			t.Fatalf("TTL after SetInt without ttl = %s, want 0", d)
		}
		mustIncr(t, st, "c", time.Minute, -6)
	}},
	{"NotAnInteger", func(t *testing.T, _ *suite, st kv.Store) {
		// A blob is not a counter; the store cannot answer, so the caller fails closed.
		must(t, st.Put(ctx, "b", []byte("abc"), time.Minute))
		if n, err := st.Incr(ctx, "b", time.Minute); !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("Incr on a blob = %d, %v; want an error wrapping ErrUnavailable", n, err)
		}
		if n, err := st.GetInt(ctx, "b"); !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("GetInt on a blob = %d, %v; want an error wrapping ErrUnavailable", n, err)
		}
	}},
}

// concurrentIncr increments one key n times from n goroutines, spread over stores,
// and checks that every value 1..n came back exactly once.
func concurrentIncr(t *testing.T, stores []kv.Store, n int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  []int64
		errs []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			v, err := stores[i%len(stores)].Incr(ctx, "race", time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got = append(got, v)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Incr: %v", err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("concurrent Incr values = %v, want 1..%d each exactly once", got, n)
		}
	}
	mustInt(t, stores[0], "race", int64(n))
}
