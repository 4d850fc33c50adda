package notify

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// TestWorkerDropsMailPastRetention: while SMTP refuses a message, it waits in the
// outbox with its address and body for at most the retention; then the running
// worker drops it. A message younger than the retention stays.
func TestWorkerDropsMailPastRetention(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{failures: 1 << 30} // SMTP never comes back
		w, ob, n := newTestWorker(t, s, clock.Real{}, WorkerConfig{Retention: 2 * time.Hour})
		notifyLocked(t, n)
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		time.Sleep(time.Hour)
		younger := notifyLocked(t, n) // one hour younger
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if got := ob.Pending(); len(got) != 2 || got[0].To != "ada@example.com" {
			t.Fatalf("before the retention: %d pending, want both", len(got))
		}
		time.Sleep(2 * time.Minute) // the first passes 2h; the worker drops it within a minute
		synctest.Wait()
		if got := ob.Pending(); len(got) != 1 || got[0].ID != younger {
			t.Fatalf("after the retention of the first: %+v, want only the younger one", got)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := ob.Pending(); len(got) != 0 {
			t.Fatalf("after both retentions: %d pending, want none", len(got))
		}
		if calls, _ := s.snapshot(); calls < 3 {
			t.Errorf("the worker tried %d times: it should have kept retrying until the retention", calls)
		}
	})
}
