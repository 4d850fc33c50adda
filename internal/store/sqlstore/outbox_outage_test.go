package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/outboxtest"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

type outageSender func(context.Context, notify.Message) error

func (f outageSender) Send(ctx context.Context, m notify.Message) error { return f(ctx, m) }

// TestOutboxDeliveryRecordedAcrossPostgresOutage is the known failure of issue 13:
// PostgreSQL stops right after a mail is handed to SMTP, before the worker records it.
// The worker must retry the record (not the send) until the database is back, so the
// mail is delivered once — also after the claim lease has run out.
func TestOutboxDeliveryRecordedAcrossPostgresOutage(t *testing.T) {
	pg := testpg.Private(t)
	st, err := Open(t.Context(), pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ob := st.Outbox()
	if err := ob.Enqueue(t.Context(), outboxtest.Msg(1)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sends []string
	restarted := make(chan struct{})
	s := outageSender(func(_ context.Context, m notify.Message) error {
		mu.Lock()
		sends = append(sends, m.ID)
		first := len(sends) == 1
		mu.Unlock()
		if first { // the server has the mail; now the database goes away for a while
			pg.Stop()
			go func() {
				defer close(restarted)
				time.Sleep(2 * time.Second)
				pg.Start()
			}()
		}
		return nil
	})
	clk := clock.NewFake(time.Now())
	w, err := notify.NewWorker(ob, s, clk, notify.WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := w.RunOnce(t.Context())
	<-restarted
	if sent != 1 || err != nil {
		t.Fatalf("RunOnce across the outage = %d, %v; want the delivery recorded once the database is back", sent, err)
	}
	clk.Advance(notify.DefaultWorkerLease + time.Minute) // the claim would have ended
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n, err := w.Depth(t.Context()); len(sends) != 1 || err != nil || n != 0 {
		t.Fatalf("sends %v, depth %d (%v); want one send and an empty outbox", sends, n, err)
	}
}
