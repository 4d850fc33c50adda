package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/outboxtest"
)

var outboxNow = time.Date(2026, 5, 4, 12, 0, 0, 123456789, time.UTC)

// TestOutboxConformance runs the notify package's outbox suite on each backend, on a
// fresh database per subtest (the suite wants an empty outbox each time).
func TestOutboxConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		outboxtest.Run(t, func(t *testing.T) notify.Outbox { return openT(t, b.newDSN(t)).Outbox() })
	})
	t.Run("SQLiteMemory", func(t *testing.T) {
		outboxtest.Run(t, func(t *testing.T) notify.Outbox { return openT(t, "sqlite::memory:").Outbox() })
	})
}

// outboxMsg is a due message of a random tenant.
func outboxMsg(tenantID string, i int) notify.Message {
	at := outboxNow.Add(time.Duration(i) * time.Millisecond)
	return notify.Message{
		ID:          "m-" + rand16(),
		TenantID:    tenantID,
		To:          fmt.Sprintf("u%d@example.test", i),
		Subject:     fmt.Sprintf("Subject %d", i),
		Text:        "text",
		HTML:        "<p>html</p>",
		CreatedAt:   at,
		NextAttempt: at,
	}
}

func wantOutboxDepth(t *testing.T, o *Outbox, want int) {
	t.Helper()
	n, err := o.Depth(t.Context())
	if err != nil || n != want {
		t.Fatalf("Depth = %d, %v; want %d", n, err, want)
	}
}

// TestOutboxTwoStoresClaimExclusive: two Store instances on one database (as two
// gateway processes would be) drain one outbox at once, several workers each, and
// no message is claimed twice; then they race for single messages, one at a time.
// The messages belong to several tenants: the outbox serves all of them.
func TestOutboxTwoStoresClaimExclusive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		tenants := []string{"tn-" + rand16(), "tn-" + rand16(), "tn-" + rand16()}
		const n, perStore, batch = 240, 4, 5
		byID := map[string]notify.Message{}
		for i := range n {
			m := outboxMsg(tenants[i%len(tenants)], i)
			byID[m.ID] = m
			if err := []*Store{s1, s2}[i%2].Outbox().Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		now := outboxNow.Add(time.Hour)
		seen := outboxtest.DrainConcurrently(t, []notify.Outbox{s1.Outbox(), s2.Outbox()}, perStore, now, time.Minute, batch)
		perTenant := map[string]int{}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s claimed %d times", id, c)
			}
			perTenant[byID[id].TenantID]++
		}
		if len(seen) != n {
			t.Fatalf("%d of %d messages claimed", len(seen), n)
		}
		for _, tn := range tenants {
			if perTenant[tn] != n/len(tenants) {
				t.Errorf("tenant %s: %d messages claimed, want %d", tn, perTenant[tn], n/len(tenants))
			}
		}
		wantOutboxDepth(t, s1.Outbox(), n) // claimed, not sent

		// One message at a time, both stores inside ClaimDue for it together.
		for round := range 40 {
			m := outboxMsg(tenants[0], round)
			if err := s1.Outbox().Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			var got [2][]notify.Message
			var errs [2]error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, s := range []*Store{s1, s2} {
				wg.Go(func() {
					<-start
					got[i], errs[i] = s.Outbox().ClaimDue(t.Context(), now, time.Minute, 10)
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs[:]...); err != nil {
				t.Fatal(err)
			}
			if len(got[0])+len(got[1]) != 1 {
				t.Fatalf("round %d: the stores claimed %d and %d messages, want 1 in all", round, len(got[0]), len(got[1]))
			}
		}
	})
}

// TestOutboxLeaseAcrossStores: a message claimed by one instance that then dies is
// claimed by another once the lease has run out, and not before.
func TestOutboxLeaseAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		m := outboxMsg("tn-"+rand16(), 0)
		if err := s1.Outbox().Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		const lease = 5 * time.Minute
		if got, err := s1.Outbox().ClaimDue(t.Context(), outboxNow, lease, 10); err != nil || len(got) != 1 {
			t.Fatalf("first claim: %v, %v", got, err)
		}
		if got, err := s2.Outbox().ClaimDue(t.Context(), outboxNow.Add(lease-time.Nanosecond), lease, 10); err != nil || len(got) != 0 {
			t.Fatalf("claim by the other store during the lease: %v, %v", got, err)
		}
		got, err := s2.Outbox().ClaimDue(t.Context(), outboxNow.Add(lease), lease, 10)
		if err != nil || len(got) != 1 || got[0].ID != m.ID || got[0].Attempts != 2 {
			t.Fatalf("claim by the other store after the lease: %+v, %v; want %s at attempt 2", got, err, m.ID)
		}
	})
}

// outboxRow reads the stored state of a message.
func outboxRow(t *testing.T, s *Store, id string) (next int64, claimed sql.NullInt64, attempts int64, lastErr string) {
	t.Helper()
	err := s.db.QueryRowContext(t.Context(), s.q(`SELECT next_attempt, claimed_until, attempts, last_error FROM mail_outbox WHERE id = ?`), id).
		Scan(&next, &claimed, &attempts, &lastErr)
	if err != nil {
		t.Fatalf("reading outbox row %s: %v", id, err)
	}
	return
}

// TestOutboxMarkFailedAndSent checks what MarkFailed and MarkSent store, through a
// second Store instance, and that Depth follows.
func TestOutboxMarkFailedAndSent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		o1, o2 := s1.Outbox(), s2.Outbox()
		tn := "tn-" + rand16()
		m, other := outboxMsg(tn, 0), outboxMsg(tn, 1)
		for _, msg := range []notify.Message{m, other} {
			if err := o1.Enqueue(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
		}
		wantOutboxDepth(t, o2, 2)
		if err := o2.Enqueue(t.Context(), m); !errors.Is(err, notify.ErrDuplicateMessage) {
			t.Fatalf("Enqueue of a taken id through the other store: %v, want ErrDuplicateMessage", err)
		}

		now := outboxNow.Add(time.Minute)
		got, err := o1.ClaimDue(t.Context(), now, time.Hour, 1)
		if err != nil || len(got) != 1 || got[0].ID != m.ID {
			t.Fatalf("ClaimDue: %+v, %v", got, err)
		}
		if _, claimed, attempts, _ := outboxRow(t, s2, m.ID); !claimed.Valid || claimed.Int64 != now.Add(time.Hour).UnixNano() || attempts != 1 {
			t.Fatalf("claimed row: claimed_until %v attempts %d, want %d and 1", claimed, attempts, now.Add(time.Hour).UnixNano())
		}

		// The failure, with text PostgreSQL could not store as is.
		next := now.Add(30 * time.Second)
		errText := "550 mailbox \xff unavailable"
		if err := o2.MarkFailed(t.Context(), m.ID, errText, next); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		stNext, claimed, attempts, lastErr := outboxRow(t, s1, m.ID)
		if stNext != next.UnixNano() || claimed.Valid || attempts != 1 || lastErr != "550 mailbox \uFFFD unavailable" {
			t.Fatalf("failed row: next %d claimed %v attempts %d error %q", stNext, claimed, attempts, lastErr)
		}
		wantOutboxDepth(t, o1, 2)

		// Due again at next, not before; the other message was due all along.
		got, err = o1.ClaimDue(t.Context(), next.Add(-time.Nanosecond), time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != other.ID {
			t.Fatalf("ClaimDue before next: %+v, %v; want only %s", got, err, other.ID)
		}
		got, err = o2.ClaimDue(t.Context(), next, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != m.ID || got[0].Attempts != 2 ||
			!got[0].NextAttempt.Equal(next) || got[0].LastError != "550 mailbox \uFFFD unavailable" {
			t.Fatalf("ClaimDue at next: %+v, %v", got, err)
		}

		// Sent: out of the due set and of Depth for good.
		if err := o1.MarkSent(t.Context(), m.ID, next); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
		wantOutboxDepth(t, o2, 1)
		got, err = o2.ClaimDue(t.Context(), next.Add(365*24*time.Hour), time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != other.ID {
			t.Fatalf("ClaimDue long after MarkSent: %+v, %v; want only %s (lease over)", got, err, other.ID)
		}
		if err := o2.MarkSent(t.Context(), m.ID, next); !errors.Is(err, notify.ErrMessageNotFound) {
			t.Errorf("MarkSent of a sent message: %v, want ErrMessageNotFound", err)
		}
		if err := o2.MarkFailed(t.Context(), m.ID, "x", next); !errors.Is(err, notify.ErrMessageNotFound) {
			t.Errorf("MarkFailed of a sent message: %v, want ErrMessageNotFound", err)
		}
		if err := o1.MarkSent(t.Context(), other.ID, next); err != nil {
			t.Fatal(err)
		}
		wantOutboxDepth(t, o1, 0)
	})
}

// TestOutboxZeroTimes: a message without NextAttempt is due at once (before every
// dated one) and both zero times round-trip as zero.
func TestOutboxZeroTimes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		o := openT(t, b.newDSN(t)).Outbox()
		dated := outboxMsg("tn-"+rand16(), 0)
		zero := notify.Message{ID: "m-zero-" + rand16(), TenantID: "tn-x", To: "z@example.test"}
		for _, m := range []notify.Message{dated, zero} {
			if err := o.Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := o.ClaimDue(t.Context(), outboxNow, time.Minute, 10)
		if err != nil || len(got) != 2 || got[0].ID != zero.ID || got[1].ID != dated.ID {
			t.Fatalf("ClaimDue: %+v, %v; want the undated message first", got, err)
		}
		if !got[0].CreatedAt.IsZero() || !got[0].NextAttempt.IsZero() {
			t.Fatalf("zero times came back as %v and %v", got[0].CreatedAt, got[0].NextAttempt)
		}
		if got[1].CreatedAt.Location() != time.UTC || !got[1].CreatedAt.Equal(dated.CreatedAt) {
			t.Fatalf("CreatedAt %v, want %v in UTC", got[1].CreatedAt, dated.CreatedAt)
		}
		if err := o.Enqueue(t.Context(), notify.Message{}); err == nil {
			t.Fatal("Enqueue accepted a message without an id")
		}
		if n, err := o.ClaimDue(t.Context(), outboxNow, time.Minute, math.MaxInt32); err != nil || len(n) != 0 {
			t.Fatalf("ClaimDue of a claimed outbox: %+v, %v", n, err)
		}
	})
}

// recordingSender counts deliveries per message id.
type recordingSender struct {
	mu   sync.Mutex
	sent map[string]int
}

func (r *recordingSender) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent[m.ID]++
	return nil
}

// TestOutboxTwoWorkers: the notify Worker of two instances sharing the database
// delivers every message once.
func TestOutboxTwoWorkers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		sender := &recordingSender{sent: map[string]int{}}
		const n = 60
		now := time.Now()
		for i := range n {
			m := outboxMsg("tn-"+rand16(), i)
			m.CreatedAt, m.NextAttempt = now, now
			if err := s1.Outbox().Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []*Store{s1, s2} {
			w, err := notify.NewWorker(s.Outbox(), sender, nil, notify.WorkerConfig{Interval: 20 * time.Millisecond, Batch: 3})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Stop)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := s2.Outbox().Depth(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if d == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("outbox still holds %d messages", d)
			}
			time.Sleep(10 * time.Millisecond)
		}
		sender.mu.Lock()
		defer sender.mu.Unlock()
		if len(sender.sent) != n {
			t.Fatalf("%d of %d messages sent", len(sender.sent), n)
		}
		for id, c := range sender.sent {
			if c != 1 {
				t.Errorf("%s sent %d times", id, c)
			}
		}
	})
}
