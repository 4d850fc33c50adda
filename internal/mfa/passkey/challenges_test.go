package passkey

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

func TestMemoryChallenges(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	m := NewMemoryChallengesLimit(clk, 3)

	if err := m.Put(ctx, "a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := m.Take(ctx, "a")
	if err != nil || string(got) != "1" {
		t.Fatalf("Take = %q, %v", got, err)
	}
	if _, err := m.Take(ctx, "a"); err != ErrChallengeNotFound {
		t.Fatalf("second Take: %v", err)
	}
	if _, err := m.Take(ctx, "never"); err != ErrChallengeNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if err := m.Put(ctx, "z", []byte("1"), 0); err == nil {
		t.Fatal("zero ttl accepted")
	}

	// Expiry.
	_ = m.Put(ctx, "b", []byte("2"), time.Minute)
	clk.Advance(time.Minute)
	if _, err := m.Take(ctx, "b"); err != ErrChallengeNotFound {
		t.Fatalf("expired: %v", err)
	}

	// Bounded: expired entries go first, then the oldest.
	_ = m.Put(ctx, "c", nil, time.Minute)
	clk.Advance(2 * time.Minute)
	for _, id := range []string{"d", "e", "f", "g"} {
		_ = m.Put(ctx, id, []byte(id), time.Minute)
	}
	if n := m.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	if _, err := m.Take(ctx, "d"); err != ErrChallengeNotFound {
		t.Fatalf("oldest not evicted: %v", err)
	}
	for _, id := range []string{"e", "f", "g"} {
		if got, err := m.Take(ctx, id); err != nil || string(got) != id {
			t.Fatalf("Take(%s) = %q, %v", id, got, err)
		}
	}

	// The stored value is a copy.
	buf := []byte("x")
	_ = m.Put(ctx, "h", buf, time.Minute)
	buf[0] = 'y'
	if got, _ := m.Take(ctx, "h"); string(got) != "x" {
		t.Fatalf("value aliased: %q", got)
	}
}

func TestMemoryChallengesTakeOnce(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryChallenges(nil)
	for i := range 50 {
		id := fmt.Sprint(i)
		_ = m.Put(ctx, id, []byte(id), time.Minute)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := m.Take(ctx, id); err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("id %s taken %d times", id, wins.Load())
		}
	}
}
