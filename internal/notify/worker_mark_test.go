package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// downOutbox is a MemoryOutbox whose MarkSent fails while down (a database outage
// between the SMTP handover and the record).
type downOutbox struct {
	*MemoryOutbox
	mu    sync.Mutex
	down  int  // MarkSent calls still to fail; -1: fail until up()
	lost  bool // the first MarkSent commits but its answer is lost
	marks int
}

func (o *downOutbox) MarkSent(ctx context.Context, id string, at time.Time) error {
	o.mu.Lock()
	o.marks++
	if o.lost && o.marks == 1 {
		o.mu.Unlock()
		_ = o.MemoryOutbox.MarkSent(ctx, id, at)
		return errors.New("connection reset after COMMIT")
	}
	if o.down != 0 {
		if o.down > 0 {
			o.down--
		}
		o.mu.Unlock()
		return errors.New("database unreachable")
	}
	o.mu.Unlock()
	return o.MemoryOutbox.MarkSent(ctx, id, at)
}

func (o *downOutbox) up() {
	o.mu.Lock()
	o.down = 0
	o.mu.Unlock()
}

// TestWorkerRetriesTheRecordNotTheSend: the database fails when the worker records a
// delivery and returns within the claim: the record is retried, the mail is sent
// exactly once, and later runs (past the lease) do not send it again.
func TestWorkerRetriesTheRecordNotTheSend(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	s := &fakeSender{}
	ob := &downOutbox{MemoryOutbox: NewMemoryOutbox(0), down: 3}
	w, err := NewWorker(ob, s, clk, WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w.markWait = 10 * time.Millisecond
	notifyLocked(t, NewNotifier(nil, ob, clk, w.Kick))
	if sent, err := w.RunOnce(t.Context()); sent != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want 1 delivery recorded after the outage", sent, err)
	}
	clk.Advance(DefaultWorkerLease + time.Minute) // the claim would have ended
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if calls, _ := s.snapshot(); calls != 1 || ob.marks != 4 || depth(t, w) != 0 {
		t.Fatalf("sends %d, MarkSent tries %d, depth %d; want 1 send, 4 tries, empty outbox", calls, ob.marks, depth(t, w))
	}
}

// TestWorkerDuplicateAfterLongOutageKeepsMessageID: the exactly-once limit. When the
// database stays down past the claim, the worker gives up recording; once the claim
// ends the mail goes out again — as the same outbox message, so with the same
// Message-ID header (compose: <ID@domain>), which lets mail systems and people see
// it is a duplicate.
func TestWorkerDuplicateAfterLongOutageKeepsMessageID(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	s := &fakeSender{}
	ob := &downOutbox{MemoryOutbox: NewMemoryOutbox(0), down: -1}
	const lease = 300 * time.Millisecond
	w, err := NewWorker(ob, s, clk, WorkerConfig{Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	w.markWait = 20 * time.Millisecond
	notifyLocked(t, NewNotifier(nil, ob, clk, w.Kick))
	start := time.Now()
	if _, err := w.RunOnce(t.Context()); err == nil {
		t.Fatal("RunOnce with the record failing throughout: no error")
	}
	if d := time.Since(start); d > lease {
		t.Fatalf("the worker kept retrying the record for %v, past the %v claim", d, lease)
	}
	ob.up()
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if calls, _ := s.snapshot(); calls != 1 {
		t.Fatalf("sent again within the claim: %d sends", calls)
	}
	clk.Advance(lease + time.Second)
	if sent, err := w.RunOnce(t.Context()); sent != 1 || err != nil {
		t.Fatalf("after the claim: RunOnce = %d, %v; want the message sent again", sent, err)
	}
	_, sent := s.snapshot()
	if len(sent) != 2 || sent[0].ID != sent[1].ID || sent[0].ID == "" {
		t.Fatalf("deliveries %d, IDs %q; want two with one ID", len(sent), ids(sent))
	}
	snd, err := NewSMTPSender(SMTPConfig{Host: "127.0.0.1", Port: 25, From: "gatehouse@gatehouse.example"})
	if err != nil {
		t.Fatal(err)
	}
	var hdr [2]string
	for i, m := range sent {
		msg, err := snd.compose(m)
		if err != nil {
			t.Fatal(err)
		}
		hdr[i] = msg.GetGenHeader("Message-ID")[0]
	}
	if hdr[0] != hdr[1] || hdr[0] != "<"+sent[0].ID+"@gatehouse.example>" {
		t.Fatalf("Message-ID headers %q and %q; want the same, from the outbox ID", hdr[0], hdr[1])
	}
	if depth(t, w) != 0 {
		t.Fatalf("depth %d after the second delivery was recorded", depth(t, w))
	}
}

func ids(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// TestWorkerRecordCommittedAnswerLost: the record committed but the database's answer
// was lost; the retry finds the message gone and takes that as recorded, not as an
// error that would leave the batch.
func TestWorkerRecordCommittedAnswerLost(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	s := &fakeSender{}
	ob := &downOutbox{MemoryOutbox: NewMemoryOutbox(0), lost: true}
	w, err := NewWorker(ob, s, clk, WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w.markWait = 10 * time.Millisecond
	n := NewNotifier(nil, ob, clk, w.Kick)
	notifyLocked(t, n)
	notifyLocked(t, n)
	if sent, err := w.RunOnce(t.Context()); sent != 2 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want both sent and recorded", sent, err)
	}
	if calls, _ := s.snapshot(); calls != 2 || depth(t, w) != 0 {
		t.Fatalf("sends %d, depth %d; want 2 and 0", calls, depth(t, w))
	}
}
