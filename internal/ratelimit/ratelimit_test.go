package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

func TestIPKeyGroupsIPv6By64(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"::ffff:192.0.2.7":         "192.0.2.7",
		"2001:db8:1:2:aaaa::1":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":          "2001:db8:1:3::/64",
		"not an ip":                "invalid",
	}
	for in, want := range cases {
		if got := IPKey(in); got != want {
			t.Errorf("IPKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPerIPAndPerUserLimits(t *testing.T) {
	l := New(nil, map[Class]Rule{Login: {PerIP: perMinute(5), PerUser: perMinute(3)}})
	ctx := context.Background()
	// Three tries at one account from rotating IPv6 addresses of one /64: the fourth is refused.
	for i, ip := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"} {
		if r := l.Allow(ctx, Login, ip, "victim@example.com"); !r.Allowed {
			t.Fatalf("try %d refused", i+1)
		}
	}
	r := l.Allow(ctx, Login, "2001:db8::4", "victim@example.com")
	if r.Allowed || r.RetryAfter <= 0 || r.Remaining != 0 {
		t.Fatalf("4th try at one user: %+v", r)
	}
	// Spraying other accounts from the same /64: the per-IP limit (5 a minute, counting
	// the refused try) stops the 6th.
	if r := l.Allow(ctx, Login, "2001:db8::5", "other@example.com"); !r.Allowed {
		t.Fatal("5th try from one /64 refused")
	}
	if r := l.Allow(ctx, Login, "2001:db8::6", "another@example.com"); r.Allowed {
		t.Fatal("6th try from one /64 allowed")
	}
	// Another network is unaffected.
	if r := l.Allow(ctx, Login, "2001:db8:0:1::9", "third@example.com"); !r.Allowed {
		t.Fatal("another /64 refused")
	}
}

type brokenStore struct{ limiter.Store }

func (brokenStore) Get(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.New("connection refused")
}

func TestFallsBackToMemoryWhenSharedStoreFails(t *testing.T) {
	l := New(brokenStore{}, map[Class]Rule{API: {PerIP: perMinute(2)}})
	var events []bool
	l.OnDegraded = func(d bool, _ error) { events = append(events, d) }
	ctx := context.Background()
	if !l.Allow(ctx, API, "192.0.2.1", "").Allowed || !l.Allow(ctx, API, "192.0.2.1", "").Allowed {
		t.Fatal("requests within the limit refused while degraded")
	}
	if l.Allow(ctx, API, "192.0.2.1", "").Allowed {
		t.Fatal("the fallback does not limit")
	}
	if !l.Degraded() || len(events) != 1 || !events[0] {
		t.Fatalf("degraded %v, events %v", l.Degraded(), events)
	}
}

// TestRecoversWhenSharedStoreReturns: after a failure the limiter retries the shared
// store at most every retryShared, and leaves degraded mode when it answers.
func TestRecoversWhenSharedStoreReturns(t *testing.T) {
	fs := &flakyStore{Store: memory.NewStore()}
	l := New(fs, map[Class]Rule{API: {PerIP: perMinute(100)}})
	var events []bool
	l.OnDegraded = func(d bool, _ error) { events = append(events, d) }
	ctx := context.Background()
	fs.down.Store(true)
	l.Allow(ctx, API, "192.0.2.1", "")
	l.Allow(ctx, API, "192.0.2.1", "")
	if fs.calls.Load() != 1 {
		t.Fatalf("shared store tried %d times within the retry interval, want 1", fs.calls.Load())
	}
	fs.down.Store(false)
	l.failedAt.Store(time.Now().Add(-retryShared).UnixNano())
	l.Allow(ctx, API, "192.0.2.1", "")
	if l.Degraded() || len(events) != 2 || events[1] {
		t.Fatalf("not recovered: degraded %v, events %v", l.Degraded(), events)
	}
}

type flakyStore struct {
	limiter.Store
	down  atomic.Bool
	calls atomic.Int32
}

func (f *flakyStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return limiter.Context{}, errors.New("i/o timeout")
	}
	return f.Store.Get(ctx, key, rate)
}
