package session

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// cachedBytesPerSession signs n users in (one session each, a browser's User-Agent,
// two roles, a team), validates every session once so that it is cached, and returns
// the heap the cache holds per session, measured after a full GC before and after.
func cachedBytesPerSession(t testing.TB, n int) float64 {
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{CacheTTL: time.Hour})
	const ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	toks := make([]string, n)
	for i := range n {
		u := store.User{ID: secret.NewID(), Email: fmt.Sprintf("person%06d@clinic.example.com", i), DisplayName: fmt.Sprintf("Person %d", i),
			Status: store.UserActive, Roles: []string{"member", "billing"}, CreatedAt: e.clk.Now()}
		if err := e.th.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, _, err := m.Create(ctx, e.th, u, []string{"pwd", "otp"}, "203.0.113.7", ua)
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, tok := range toks {
		if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := m.cache.len(); got != n {
		t.Fatalf("%d sessions cached, want %d", got, n)
	}
	runtime.KeepAlive(m)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestCachedSessionSize: SPEC §13 — 100,000 active sessions cached in at most 200 MB,
// so a cached session may hold at most 2,000 bytes (measured on 2,000).
func TestCachedSessionSize(t *testing.T) {
	per := cachedBytesPerSession(t, 2000)
	t.Logf("%.0f bytes per cached session: 100,000 = %.0f MB", per, per*100_000/1e6)
	if per > 2000 {
		t.Fatalf("a cached session holds %.0f bytes: 100,000 would take %.0f MB (SPEC §13: at most 200 MB)", per, per*100_000/1e6)
	}
}

// TestSweepCacheForgetsExpiredEntries: sessions whose cache time is over leave memory
// at the next sweep instead of staying until the cache is full; live ones stay.
func TestSweepCacheForgetsExpiredEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		m := NewManager(nil, clk, Options{})
		now := clk.Now()
		for i, ttl := range []time.Duration{time.Second, time.Hour, 2 * time.Second} {
			e := &Entry{Session: store.Session{ID: fmt.Sprint("s", i)}, User: store.User{ID: "u"}, expires: now.Add(ttl), loaded: now}
			e.key[0] = byte(i + 1)
			if !m.cache.put(e) {
				t.Fatal("put refused")
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		swept := make(chan int)
		go func() { swept <- m.SweepCache(ctx, 15*time.Second) }()
		clk.Advance(5 * time.Second) // s0 and s2 are past their cache time
		time.Sleep(16 * time.Second) // the first sweep
		synctest.Wait()
		if m.cache.len() != 1 || m.cache.getID("s1") == nil || m.cache.getID("s0") != nil || m.cache.getID("s2") != nil {
			t.Fatalf("after the sweep: %d entries cached, s1 %v", m.cache.len(), m.cache.getID("s1") != nil)
		}
		cancel()
		if n := <-swept; n != 2 {
			t.Fatalf("swept %d, want 2", n)
		}
	})
}
