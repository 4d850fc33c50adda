package notify_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/outboxtest"
)

func TestMemoryOutboxConformance(t *testing.T) {
	t.Parallel()
	outboxtest.Run(t, func(*testing.T) notify.Outbox { return notify.NewMemoryOutbox(0) })
}

// TestMemoryOutboxClaimExclusive races two claimers for each of many messages, one
// at a time, so that both are inside ClaimDue for the same message: exactly one of
// them gets it every time.
func TestMemoryOutboxClaimExclusive(t *testing.T) {
	t.Parallel()
	o := notify.NewMemoryOutbox(0)
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	for i := range 500 {
		m := outboxtest.Msg(i)
		if err := o.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   [2][]notify.Message
			errs  [2]error
		)
		for g := range 2 {
			wg.Go(func() {
				<-start
				got[g], errs[g] = o.ClaimDue(t.Context(), now.Add(time.Hour), time.Minute, 10)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatal(err)
		}
		if n := len(got[0]) + len(got[1]); n != 1 {
			t.Fatalf("round %d: the two claimers got %d and %d messages, want 1 in all", i, len(got[0]), len(got[1]))
		}
		for _, g := range got {
			if len(g) == 1 && g[0].ID != m.ID {
				t.Fatalf("round %d: claimed %s, want %s", i, g[0].ID, m.ID)
			}
		}
	}
}

func TestMemoryOutboxBounded(t *testing.T) {
	t.Parallel()
	o := notify.NewMemoryOutbox(2)
	for i := 1; i <= 2; i++ {
		if err := o.Enqueue(t.Context(), outboxtest.Msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Enqueue(t.Context(), outboxtest.Msg(3)); !errors.Is(err, notify.ErrOutboxFull) {
		t.Fatalf("Enqueue past the bound = %v, want ErrOutboxFull", err)
	}
	if err := o.MarkSent(t.Context(), outboxtest.Msg(1).ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(t.Context(), outboxtest.Msg(3)); err != nil {
		t.Fatalf("Enqueue after a message left: %v", err)
	}
	if err := o.Enqueue(t.Context(), notify.Message{}); err == nil {
		t.Fatal("Enqueue accepted a message without an id")
	}
}

func TestMemoryOutboxPending(t *testing.T) {
	t.Parallel()
	o := notify.NewMemoryOutbox(0)
	for _, i := range []int{2, 1} {
		if err := o.Enqueue(t.Context(), outboxtest.Msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	p := o.Pending()
	if len(p) != 2 || p[0].ID != outboxtest.Msg(1).ID || p[1].ID != outboxtest.Msg(2).ID {
		t.Fatalf("Pending() = %+v, want messages 1 and 2 in creation order", p)
	}
	p[0].Subject = "changed"
	if o.Pending()[0].Subject == "changed" {
		t.Fatal("Pending returned the outbox's own messages, not copies")
	}
}
