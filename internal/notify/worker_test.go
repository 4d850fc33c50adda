package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

var t0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// fakeSender fails its first failures sends, then delivers. With block set, a send
// waits for its context to end (a hung server).
type fakeSender struct {
	mu       sync.Mutex
	failures int
	block    bool
	calls    int
	sent     []Message
	entered  chan struct{}
}

func (f *fakeSender) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.calls++
	call, block := f.calls, f.block
	f.mu.Unlock()
	if block {
		if f.entered != nil {
			f.entered <- struct{}{}
		}
		<-ctx.Done()
		return ctx.Err()
	}
	if call <= f.failures {
		return fmt.Errorf("smtp down #%d", call)
	}
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
	return nil
}

func (f *fakeSender) snapshot() (calls int, sent []Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]Message(nil), f.sent...)
}

func newTestWorker(t *testing.T, s Sender, clk clock.Clock, cfg WorkerConfig) (*Worker, *MemoryOutbox, *Notifier) {
	t.Helper()
	ob := NewMemoryOutbox(0)
	w, err := NewWorker(ob, s, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, ob, NewNotifier(nil, ob, clk, w.Kick)
}

func notifyLocked(t *testing.T, n *Notifier) string {
	t.Helper()
	id, err := n.Notify(t.Context(), "tenant-1", "ada@example.com", KindAccountLocked, lockedData)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// signallingOutbox reports each outcome the worker records, so that a test whose
// worker runs outside a synctest bubble (it talks to a real server) waits for the
// event instead of polling the outbox.
type signallingOutbox struct {
	*MemoryOutbox
	outcomes chan string // "sent" or "failed", after the update
}

func newSignallingOutbox() *signallingOutbox {
	return &signallingOutbox{MemoryOutbox: NewMemoryOutbox(0), outcomes: make(chan string, 16)}
}

func (o *signallingOutbox) MarkSent(ctx context.Context, id string, at time.Time) error {
	err := o.MemoryOutbox.MarkSent(ctx, id, at)
	o.outcomes <- "sent"
	return err
}

func (o *signallingOutbox) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	err := o.MemoryOutbox.MarkFailed(ctx, id, errText, next)
	o.outcomes <- "failed"
	return err
}

// wantOutcome waits, within a bound, for the worker's next recorded outcome.
func (o *signallingOutbox) wantOutcome(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-o.outcomes:
		if got != want {
			t.Fatalf("the worker recorded the message %s, want %s", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for the worker to record the message %s", want)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for attempts, want := range map[int]time.Duration{
		0: 30 * time.Second, 1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute,
		4: 4 * time.Minute, 5: 8 * time.Minute, 6: 16 * time.Minute, 7: 32 * time.Minute,
		8: time.Hour, 9: time.Hour, 1000: time.Hour,
	} {
		if got := retryDelay(attempts, DefaultRetryBase, DefaultRetryMax); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", attempts, got, want)
		}
	}
}

// TestWorkerRetriesWithBackoff: a sender that fails three times; the message waits
// 30 s, 1 m, 2 m between attempts by the injected clock, records each error, and is
// delivered on the fourth attempt, unchanged.
func TestWorkerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	s := &fakeSender{failures: 3}
	w, ob, n := newTestWorker(t, s, clk, WorkerConfig{})
	id := notifyLocked(t, n)

	wantPending := func(attempts int, lastErr string, next time.Time) {
		t.Helper()
		p := ob.Pending()
		if len(p) != 1 || p[0].ID != id || p[0].Attempts != attempts || p[0].LastError != lastErr || !p[0].NextAttempt.Equal(next) {
			t.Fatalf("outbox = %+v\nwant %s with Attempts %d, LastError %q, NextAttempt %s", p, id, attempts, lastErr, next)
		}
	}
	run := func(wantCalls int) {
		t.Helper()
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if calls, _ := s.snapshot(); calls != wantCalls {
			t.Fatalf("sender called %d times, want %d", calls, wantCalls)
		}
	}

	run(1)
	wantPending(1, "smtp down #1", t0.Add(30*time.Second))
	run(1) // not due yet
	clk.Advance(29 * time.Second)
	run(1)
	clk.Advance(time.Second)
	run(2)
	wantPending(2, "smtp down #2", clk.Now().Add(time.Minute))
	clk.Advance(time.Minute)
	run(3)
	wantPending(3, "smtp down #3", clk.Now().Add(2*time.Minute))
	clk.Advance(2*time.Minute - time.Second)
	run(3)
	clk.Advance(time.Second)
	run(4)

	if d, err := w.Depth(t.Context()); err != nil || d != 0 {
		t.Fatalf("Depth = %d, %v after delivery; want 0", d, err)
	}
	_, sent := s.snapshot()
	if len(sent) != 1 || sent[0].ID != id || sent[0].Attempts != 4 || sent[0].LastError != "smtp down #3" ||
		!sent[0].CreatedAt.Equal(t0) || !strings.Contains(sent[0].Text, "203.0.113.7") {
		t.Fatalf("delivered %+v", sent)
	}
}

func TestWorkerRetryCap(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	s := &fakeSender{failures: 1000}
	w, ob, n := newTestWorker(t, s, clk, WorkerConfig{})
	notifyLocked(t, n)
	for range 12 {
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.Set(ob.Pending()[0].NextAttempt)
	}
	p := ob.Pending()[0]
	if d := p.NextAttempt.Sub(clk.Now()); d != 0 {
		t.Fatalf("clock not at the next attempt: %s", d)
	}
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := ob.Pending()[0].NextAttempt.Sub(clk.Now()); d != time.Hour {
		t.Fatalf("delay after 13 failures = %s, want the 1 h cap", d)
	}
}

// TestWorkerDrainsEveryBatch: one run sends everything due, batch after batch.
func TestWorkerDrainsEveryBatch(t *testing.T) {
	t.Parallel()
	s := &fakeSender{}
	w, _, n := newTestWorker(t, s, clock.NewFake(t0), WorkerConfig{Batch: 2})
	for range 5 {
		notifyLocked(t, n)
	}
	sent, err := w.RunOnce(t.Context())
	if err != nil || sent != 5 {
		t.Fatalf("RunOnce = %d, %v; want 5 sent", sent, err)
	}
}

func depth(t *testing.T, w *Worker) int {
	t.Helper()
	d, err := w.Depth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The tests that run the worker's goroutine do it in a synctest bubble: the fake
// sender and the memory outbox never block outside it, so synctest.Wait returns
// exactly when the worker has nothing left to do, and the worker's ticker and the
// batch and record timeouts run on the bubble's fake time.

// TestWorkerKick: with an interval far away, Notify's kick alone gets the mail out.
func TestWorkerKick(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{}
		w, _, n := newTestWorker(t, s, clock.NewFake(t0), WorkerConfig{Interval: time.Hour})
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		if err := w.Start(t.Context()); err == nil {
			t.Error("a second Start succeeded")
		}
		synctest.Wait() // the first run, on an empty outbox, is over: only a kick sends now
		for i := range 3 {
			notifyLocked(t, n)
			synctest.Wait()
			if _, sent := s.snapshot(); len(sent) != i+1 || depth(t, w) != 0 {
				t.Fatalf("after Notify #%d: %d sent, Depth %d; want %d sent and an empty outbox", i+1, len(sent), depth(t, w), i+1)
			}
		}
		w.Stop()
		w.Stop() // idempotent
	})
}

// TestWorkerIntervalFindsRetry: without any kick, the worker's own polling finds a
// failed message again when its back-off ends. The bubble's fake time drives both
// the ticker and the wall clock the worker reads.
func TestWorkerIntervalFindsRetry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &fakeSender{failures: 1}
		w, _, n := newTestWorker(t, s, nil, WorkerConfig{Interval: 10 * time.Second})
		notifyLocked(t, n) // kicks a stopped worker: the kick waits in the channel
		start := time.Now()
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		synctest.Wait()
		if calls, _ := s.snapshot(); calls != 1 {
			t.Fatalf("sender called %d times at start, want 1", calls)
		}
		// Polls at 10 s and 20 s find the message not yet due.
		time.Sleep(DefaultRetryBase - time.Nanosecond)
		synctest.Wait()
		if calls, _ := s.snapshot(); calls != 1 {
			t.Fatalf("sender called %d times before the back-off ended, want 1", calls)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if _, sent := s.snapshot(); len(sent) != 1 || depth(t, w) != 0 {
			t.Fatalf("at %s, %d sent, Depth %d; want the retry delivered by the poll", time.Since(start), len(sent), depth(t, w))
		}
	})
}

// TestWorkerStopAbandonsSend: a send cut short by Stop is not marked failed (its
// outcome is unknown); the message stays claimed, and goes out after the lease.
func TestWorkerStopAbandonsSend(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		s := &fakeSender{block: true, entered: make(chan struct{}, 1)}
		w, ob, n := newTestWorker(t, s, clk, WorkerConfig{Interval: time.Hour, Lease: time.Minute})
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		id := notifyLocked(t, n)
		<-s.entered // if the worker never sends, the bubble deadlocks and the test fails
		w.Stop()
		p := ob.Pending()
		if len(p) != 1 || p[0].LastError != "" || p[0].Attempts != 1 || !p[0].NextAttempt.Equal(t0) {
			t.Fatalf("after Stop mid-send, outbox = %+v; want the message claimed, not failed", p)
		}

		s.mu.Lock()
		s.block = false
		s.mu.Unlock()
		if sent, _ := w.RunOnce(t.Context()); sent != 0 {
			t.Fatal("a claimed message was sent again before its lease ended")
		}
		clk.Advance(time.Minute)
		if sent, err := w.RunOnce(t.Context()); err != nil || sent != 1 {
			t.Fatalf("after the lease, RunOnce = %d, %v; want 1 sent", sent, err)
		}
		if _, sent := s.snapshot(); len(sent) != 1 || sent[0].ID != id || sent[0].Attempts != 2 {
			t.Fatalf("delivered %+v", sent)
		}
	})
}

// failingOutbox fails every call: the worker reports it and keeps going.
type failingOutbox struct{ MemoryOutbox }

func (*failingOutbox) ClaimDue(context.Context, time.Time, time.Duration, int) ([]Message, error) {
	return nil, errors.New("database is locked")
}

func TestWorkerOutboxError(t *testing.T) {
	t.Parallel()
	w, err := NewWorker(&failingOutbox{}, &fakeSender{}, clock.NewFake(t0), WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("RunOnce = %v, want the outbox error", err)
	}
}

func TestNewWorkerValidates(t *testing.T) {
	t.Parallel()
	_, err := NewWorker(nil, nil, nil, WorkerConfig{Interval: -1, Lease: -time.Second, Batch: -1, RetryBase: -1, RetryMax: -1})
	if err == nil {
		t.Fatal("NewWorker accepted nonsense")
	}
	for _, want := range []string{"no outbox", "no sender", "negative interval", "negative lease", "negative batch", "negative retry base", "negative retry max"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNotifierRefuses(t *testing.T) {
	t.Parallel()
	n := NewNotifier(nil, NewMemoryOutbox(0), clock.NewFake(t0), nil)
	for _, to := range []string{"", "not an address", "Ada <ada@example.com>", "a@example.com, b@example.com", "ada@example.com\r\nBcc: x@example.com"} {
		if _, err := n.Notify(t.Context(), "tenant-1", to, KindAccountLocked, lockedData); err == nil {
			t.Errorf("Notify accepted recipient %q", to)
		}
	}
	if _, err := n.Notify(t.Context(), "", "ada@example.com", KindAccountLocked, lockedData); err == nil {
		t.Error("Notify accepted a message without a tenant")
	}
	if _, err := n.Notify(t.Context(), "tenant-1", "ada@example.com", "nope", lockedData); err == nil {
		t.Error("Notify accepted an unknown kind")
	}
}

// senderFunc adapts a function to Sender.
type senderFunc func(context.Context, Message) error

func (f senderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// TestWorkerRecordsDeliveryWhileStopping: a stop that arrives just after a message
// went out must not lose the record of it, or the message is sent twice.
func TestWorkerRecordsDeliveryWhileStopping(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(t.Context())
	s := senderFunc(func(context.Context, Message) error {
		stop() // the worker is being stopped as the server accepts the message
		return nil
	})
	w, _, n := newTestWorker(t, s, clock.NewFake(t0), WorkerConfig{})
	notifyLocked(t, n)
	sent, _ := w.RunOnce(ctx)
	if sent != 1 || depth(t, w) != 0 {
		t.Fatalf("RunOnce = %d sent, Depth %d; want the delivery recorded", sent, depth(t, w))
	}
}
