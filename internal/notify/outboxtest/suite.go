package outboxtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// base is the suite's "now": whole seconds in UTC, so backends that store times
// with millisecond or microsecond precision round-trip it exactly.
var base = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

const lease = time.Minute

type test struct {
	name string
	fn   func(t *testing.T, o notify.Outbox)
}

var tests = []test{
	{"RoundTrip", testRoundTrip},
	{"DuplicateID", testDuplicateID},
	{"NotDueBeforeNextAttempt", testNotDue},
	{"ClaimHiddenUntilLeaseEnds", testLease},
	{"MaxAndOrder", testMaxAndOrder},
	{"MarkSent", testMarkSent},
	{"MarkFailed", testMarkFailed},
	{"UnknownID", testUnknownID},
	{"DepthCountsClaimed", testDepth},
	{"ConcurrentClaimsExclusive", testConcurrentClaims},
	{"DropExpired", testDropExpired},
}

// Run runs the suite; open must return a new, empty outbox each time it is called.
func Run(t *testing.T, open func(t *testing.T) notify.Outbox) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Msg returns a due message numbered i, created i seconds after the suite's base.
func Msg(i int) notify.Message {
	at := base.Add(time.Duration(i) * time.Second)
	return notify.Message{
		ID:          fmt.Sprintf("msg-%04d", i),
		TenantID:    "tenant-1",
		To:          fmt.Sprintf("user%d@example.com", i),
		Subject:     fmt.Sprintf("Subject %d", i),
		Text:        fmt.Sprintf("Body %d\n", i),
		HTML:        fmt.Sprintf("<p>Body %d</p>", i),
		CreatedAt:   at,
		NextAttempt: at,
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, o notify.Outbox, now time.Time, max int) []notify.Message {
	t.Helper()
	got, err := o.ClaimDue(t.Context(), now, lease, max)
	must(t, err)
	return got
}

func ids(ms []notify.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, got []notify.Message, want ...string) {
	t.Helper()
	g := ids(got)
	if !slices.Equal(g, want) {
		t.Fatalf("%s claimed %v, want %v", what, g, want)
	}
}

func wantDepth(t *testing.T, o notify.Outbox, want int) {
	t.Helper()
	d, err := o.Depth(t.Context())
	must(t, err)
	if d != want {
		t.Fatalf("Depth = %d, want %d", d, want)
	}
}

func sameMessage(t *testing.T, got, want notify.Message) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.To != want.To ||
		got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.NextAttempt.Equal(want.NextAttempt) ||
		got.Attempts != want.Attempts || got.LastError != want.LastError {
		t.Fatalf("message did not round-trip:\n got %+v\nwant %+v", got, want)
	}
}

func testRoundTrip(t *testing.T, o notify.Outbox) {
	full := Msg(1)
	full.Subject = "Neue Anmeldung — Ünïcødé ✓"
	full.Text = "line 1\r\nline 2\n\n\ttabbed \"quoted\" 'single' \\ back\n"
	full.HTML = "<p>héllo &amp; <b>bold</b></p>\n" + longText(64<<10)
	bare := Msg(2)
	bare.HTML = "" // a text-only message
	must(t, o.Enqueue(t.Context(), full))
	must(t, o.Enqueue(t.Context(), bare))
	got := claim(t, o, base.Add(time.Hour), 10)
	wantIDs(t, "ClaimDue", got, full.ID, bare.ID)
	full.Attempts, bare.Attempts = 1, 1
	sameMessage(t, got[0], full)
	sameMessage(t, got[1], bare)
}

func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789 \n"[i%38]
	}
	return string(b)
}

func testDuplicateID(t *testing.T, o notify.Outbox) {
	must(t, o.Enqueue(t.Context(), Msg(1)))
	dup := Msg(1)
	dup.Subject = "another"
	if err := o.Enqueue(t.Context(), dup); !errors.Is(err, notify.ErrDuplicateMessage) {
		t.Fatalf("second Enqueue of one id = %v, want ErrDuplicateMessage", err)
	}
	wantDepth(t, o, 1)
	got := claim(t, o, base.Add(time.Hour), 10)
	if len(got) != 1 || got[0].Subject != Msg(1).Subject {
		t.Fatalf("after a refused duplicate, claimed %+v; want the original only", got)
	}
}

func testNotDue(t *testing.T, o notify.Outbox) {
	m := Msg(1)
	m.NextAttempt = base.Add(time.Hour)
	must(t, o.Enqueue(t.Context(), m))
	wantIDs(t, "ClaimDue before NextAttempt", claim(t, o, m.NextAttempt.Add(-time.Second), 10))
	wantIDs(t, "ClaimDue at NextAttempt", claim(t, o, m.NextAttempt, 10), m.ID)
}

func testLease(t *testing.T, o notify.Outbox) {
	must(t, o.Enqueue(t.Context(), Msg(1)))
	now := base.Add(time.Minute)
	first := claim(t, o, now, 10)
	wantIDs(t, "first ClaimDue", first, Msg(1).ID)
	if first[0].Attempts != 1 {
		t.Fatalf("Attempts after the first claim = %d, want 1", first[0].Attempts)
	}
	wantIDs(t, "ClaimDue during the lease", claim(t, o, now, 10))
	wantIDs(t, "ClaimDue just before the lease ends", claim(t, o, now.Add(lease-time.Second), 10))
	// A worker that died mid-send does not strand its message.
	again := claim(t, o, now.Add(lease), 10)
	wantIDs(t, "ClaimDue after the lease", again, Msg(1).ID)
	if again[0].Attempts != 2 {
		t.Fatalf("Attempts after the second claim = %d, want 2", again[0].Attempts)
	}
}

func testMaxAndOrder(t *testing.T, o notify.Outbox) {
	// Enqueued out of order; NextAttempt decides.
	for _, i := range []int{3, 1, 5, 2, 4} {
		must(t, o.Enqueue(t.Context(), Msg(i)))
	}
	now := base.Add(time.Hour)
	wantIDs(t, "ClaimDue max 0", claim(t, o, now, 0))
	wantIDs(t, "first ClaimDue max 2", claim(t, o, now, 2), Msg(1).ID, Msg(2).ID)
	wantIDs(t, "second ClaimDue max 2", claim(t, o, now, 2), Msg(3).ID, Msg(4).ID)
	wantIDs(t, "third ClaimDue max 2", claim(t, o, now, 2), Msg(5).ID)
	wantIDs(t, "fourth ClaimDue", claim(t, o, now, 2))
}

func testMarkSent(t *testing.T, o notify.Outbox) {
	must(t, o.Enqueue(t.Context(), Msg(1)))
	must(t, o.Enqueue(t.Context(), Msg(2)))
	now := base.Add(time.Minute)
	got := claim(t, o, now, 1)
	must(t, o.MarkSent(t.Context(), got[0].ID, now))
	wantDepth(t, o, 1)
	// Long after its lease, a sent message is never claimed again.
	wantIDs(t, "ClaimDue after MarkSent", claim(t, o, now.Add(24*time.Hour), 10), Msg(2).ID)
	if err := o.MarkSent(t.Context(), got[0].ID, now); !errors.Is(err, notify.ErrMessageNotFound) {
		t.Fatalf("second MarkSent = %v, want ErrMessageNotFound", err)
	}
}

func testMarkFailed(t *testing.T, o notify.Outbox) {
	must(t, o.Enqueue(t.Context(), Msg(1)))
	now := base.Add(time.Minute)
	claim(t, o, now, 1)
	next := now.Add(30 * time.Second) // before the lease would end: MarkFailed releases the claim
	must(t, o.MarkFailed(t.Context(), Msg(1).ID, "dial tcp 127.0.0.1:25: connection refused", next))
	wantDepth(t, o, 1)
	wantIDs(t, "ClaimDue before next", claim(t, o, next.Add(-time.Second), 10))
	got := claim(t, o, next, 10)
	wantIDs(t, "ClaimDue at next", got, Msg(1).ID)
	want := Msg(1)
	want.Attempts = 2
	want.NextAttempt = next
	want.LastError = "dial tcp 127.0.0.1:25: connection refused"
	sameMessage(t, got[0], want)
}

func testUnknownID(t *testing.T, o notify.Outbox) {
	if err := o.MarkSent(t.Context(), "nope", base); !errors.Is(err, notify.ErrMessageNotFound) {
		t.Errorf("MarkSent(unknown) = %v, want ErrMessageNotFound", err)
	}
	if err := o.MarkFailed(t.Context(), "nope", "x", base); !errors.Is(err, notify.ErrMessageNotFound) {
		t.Errorf("MarkFailed(unknown) = %v, want ErrMessageNotFound", err)
	}
}

func testDepth(t *testing.T, o notify.Outbox) {
	wantDepth(t, o, 0)
	for i := 1; i <= 3; i++ {
		must(t, o.Enqueue(t.Context(), Msg(i)))
	}
	claim(t, o, base.Add(time.Hour), 2)
	wantDepth(t, o, 3)
}

// testConcurrentClaims has several workers drain one outbox at the same instant:
// every message is claimed exactly once.
func testConcurrentClaims(t *testing.T, o notify.Outbox) {
	const n, workers, batch = 300, 8, 7
	for i := 1; i <= n; i++ {
		must(t, o.Enqueue(t.Context(), Msg(i)))
	}
	seen := DrainConcurrently(t, []notify.Outbox{o}, workers, base.Add(time.Hour), time.Minute, batch)
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times by concurrent workers", id, c)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d messages claimed", len(seen), n)
	}
}

// DrainConcurrently starts workersEach workers on every outbox (several handles on one
// store test claims across processes), releases them at the same instant, lets them
// claim until nothing is due at now, and returns how often each message id was claimed.
func DrainConcurrently(t *testing.T, outboxes []notify.Outbox, workersEach int, now time.Time, lease time.Duration, batch int) map[string]int {
	t.Helper()
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, len(outboxes)*workersEach)
	)
	for _, o := range outboxes {
		for range workersEach {
			wg.Go(func() {
				<-start
				for {
					got, err := o.ClaimDue(t.Context(), now, lease, batch)
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ClaimDue: %v", err)
	}
	return seen
}

// testDropExpired: the mail retention deletes every message composed before the
// cut-off, failed ones included, with their addresses and bodies, except one whose
// claim is still live (its send is under way); that one goes once the claim ends.
// Newer messages stay intact.
func testDropExpired(t *testing.T, o notify.Outbox) {
	for i := 1; i <= 3; i++ {
		must(t, o.Enqueue(t.Context(), Msg(i)))
	}
	got := claim(t, o, base.Add(3*time.Second), 2) // msg 1 and 2, until base+3s+lease
	wantIDs(t, "claim", got, "msg-0001", "msg-0002")
	must(t, o.MarkFailed(t.Context(), "msg-0002", "550 no such user user2@example.com", base.Add(time.Hour)))

	cut := base.Add(3 * time.Second) // msg 1 and 2 are older
	n, err := o.DropExpired(t.Context(), cut, base.Add(10*time.Second))
	must(t, err)
	if n != 1 {
		t.Fatalf("DropExpired while msg 1 is claimed deleted %d, want 1 (the failed msg 2)", n)
	}
	wantDepth(t, o, 2)
	n, err = o.DropExpired(t.Context(), cut, base.Add(3*time.Second+lease)) // the claim ends now
	must(t, err)
	if n != 1 {
		t.Fatalf("DropExpired after the claim ended deleted %d, want 1 (msg 1)", n)
	}
	wantDepth(t, o, 1)
	if err := o.MarkSent(t.Context(), "msg-0001", base); !errors.Is(err, notify.ErrMessageNotFound) {
		t.Fatalf("MarkSent of a dropped message = %v, want ErrMessageNotFound", err)
	}
	got = claim(t, o, base.Add(time.Hour), 10)
	wantIDs(t, "claim after the drops", got, "msg-0003")
	want := Msg(3)
	want.Attempts = 1
	sameMessage(t, got[0], want)
}
