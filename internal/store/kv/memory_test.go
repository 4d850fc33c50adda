package kv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv/kvtest"
)

var ctx = context.Background()

var epoch = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func TestMemoryConformance(t *testing.T) {
	clk := clock.NewFake(epoch)
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return kv.NewMemory(clk, 0)
	}, kvtest.WithAdvance(clk.Advance))
}

// TestMemoryConformanceRealClock runs the suite once on the wall clock, which is how
// the gateway runs it, and which exercises the suite's polling path.
func TestMemoryConformanceRealClock(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return kv.NewMemory(nil, 0) })
}

func TestMemoryEvictsExpiredFirst(t *testing.T) {
	clk := clock.NewFake(epoch)
	m := kv.NewMemory(clk, 3)
	mustDo(t, m.SetInt(ctx, "short", 1, time.Second))
	mustDo(t, m.SetInt(ctx, "soon", 1, time.Minute))
	mustDo(t, m.SetInt(ctx, "forever", 1, 0))
	clk.Advance(2 * time.Second) // "short" has expired but is still held
	mustDo(t, m.SetInt(ctx, "new", 1, time.Hour))
	wantKeys(t, m, map[string]bool{"short": false, "soon": true, "forever": true, "new": true})
}

func TestMemoryEvictsClosestToExpiry(t *testing.T) {
	clk := clock.NewFake(epoch)
	m := kv.NewMemory(clk, 3)
	mustDo(t, m.SetInt(ctx, "forever", 1, 0))
	mustDo(t, m.SetInt(ctx, "hour", 1, time.Hour))
	mustDo(t, m.SetInt(ctx, "minute", 1, time.Minute))
	if _, err := m.Incr(ctx, "new", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, m, map[string]bool{"minute": false, "hour": true, "forever": true, "new": true})
	// Keys without expiry go last, but they do go: the bound holds.
	mustDo(t, m.Put(ctx, "a", []byte("x"), 0))
	mustDo(t, m.Put(ctx, "b", []byte("x"), 0))
	mustDo(t, m.Put(ctx, "c", []byte("x"), 0))
	if n := m.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestMemoryOverwriteDoesNotEvict(t *testing.T) {
	m := kv.NewMemory(clock.NewFake(epoch), 2)
	mustDo(t, m.SetInt(ctx, "a", 1, time.Second))
	mustDo(t, m.SetInt(ctx, "b", 1, time.Minute))
	mustDo(t, m.SetInt(ctx, "a", 2, time.Hour)) // a now outlives b
	mustDo(t, m.SetInt(ctx, "b", 2, time.Minute))
	mustDo(t, m.SetInt(ctx, "c", 1, time.Minute))
	wantKeys(t, m, map[string]bool{"a": true, "b": false, "c": true})
}

func TestMemoryDropsExpiredOnWrite(t *testing.T) {
	// Expired keys do not pile up until the store is full.
	clk := clock.NewFake(epoch)
	m := kv.NewMemory(clk, 1000)
	for i := range 100 {
		mustDo(t, m.Put(ctx, fmt.Sprint("k", i), []byte("x"), time.Second))
	}
	clk.Advance(time.Second)
	mustDo(t, m.Put(ctx, "fresh", []byte("x"), time.Second))
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d after the others expired, want 1", n)
	}
}

func TestMemoryIncrOverflow(t *testing.T) {
	m := kv.NewMemory(nil, 0)
	mustDo(t, m.SetInt(ctx, "n", 1<<63-1, 0))
	if _, err := m.Incr(ctx, "n", 0); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("Incr past MaxInt64 = %v, want an error wrapping ErrUnavailable", err)
	}
}

func BenchmarkMemoryIncr(b *testing.B) {
	m := kv.NewMemory(nil, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Incr(ctx, "n", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantKeys checks which of the counters are present.
func wantKeys(t *testing.T, m *kv.Memory, want map[string]bool) {
	t.Helper()
	for k, present := range want {
		n, err := m.GetInt(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got := n != 0; got != present {
			t.Errorf("key %q present = %v, want %v", k, got, present)
		}
	}
}
