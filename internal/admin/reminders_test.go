package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/notify/notifytest"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// reminderJob is instance i's reminder job of the review world (two gateway
// instances on one database; a restarted instance is a new job with a new holder).
func (w *reviewWorld) reminderJob(i int, holder string) *RequestReminders {
	st := w.stores[i]
	return &RequestReminders{Store: st, Service: w.svc, Leases: st.Maintenance(), Outbox: st.Outbox(), Holder: holder,
		PortalURL: func(t store.Tenant) string { return "https://" + t.Slug + ".example.com/auth" }}
}

// askAt stores an open request of the member with the address, created at created.
func (w *reviewWorld) askAt(t *testing.T, ws store.Workspace, email, kind string, created time.Time) store.PrivacyRequest {
	t.Helper()
	u, err := ws.Users().UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	r := store.PrivacyRequest{ID: "pr-" + secret.NewID(), UserID: u.ID, Kind: kind, Status: store.RequestOpen,
		CreatedAt: created, Deadline: created.Add(store.PrivacyRequestDeadline)}
	if err := ws.PrivacyRequests().CreatePrivacyRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// remindAll runs four jobs at once, two on each instance, and returns how many
// messages they queued together. The lease lets one of them scan; the claims in the
// store keep each reminder single even without it (storetest ConcurrentReminder).
func (w *reviewWorld) remindAll(t *testing.T) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := range 4 {
		j := w.reminderJob(i%2, fmt.Sprintf("instance-%d", i))
		wg.Go(func() {
			_, n, err := j.Once(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// TestRemindersAtSevenAndTwoDaysLeft: with a fake clock, the workspace's active
// owners and admins (not a plain member, a disabled owner nor an owner still invited)
// get one reminder when 7 days are left to an open request's deadline and one when 2
// are — naming the kind, the member, the deadline and the Requests page — however
// many instances look and however often they restart; a request first seen with 2
// days or less left gets only the second; a resolved one none.
func TestRemindersAtSevenAndTwoDaysLeft(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	ctx := context.Background()
	start := w.clk.Now()
	erasure := w.askAt(t, w.acme, "dora@acme.test", store.RequestErasure, start)
	late := w.askAt(t, w.acme, "carl@acme.test", store.RequestRestriction, start.Add(-29*24*time.Hour)) // a day left already
	done := w.askAt(t, w.acme, "dora@acme.test", store.RequestAccess, start.Add(-29*24*time.Hour))
	if err := w.acme.PrivacyRequests().ResolvePrivacyRequest(ctx, done.ID, store.RequestFulfilled, "x", "", start); err != nil {
		t.Fatal(err)
	}
	admins := []string{"ada@acme.test", "bea@acme.test", "carl@acme.test"}
	step := func(to time.Time) []notify.Message {
		t.Helper()
		w.clk.Set(to)
		w.remindAll(t)
		return w.drain(t)
	}
	check := func(when string, ms []notify.Message, r store.PrivacyRequest, member, subject string) {
		t.Helper()
		var to []string
		for _, m := range ms {
			to = append(to, m.To)
			for _, want := range []string{r.Kind, member, r.Deadline.UTC().Format("2 Jan 2006"), "https://acme.example.com/auth/admin/requests"} {
				if !strings.Contains(m.Text, want) {
					t.Errorf("%s: the reminder to %s does not name %q:\n%s", when, m.To, want, m.Text)
				}
			}
			if !strings.Contains(m.Subject, subject) {
				t.Errorf("%s: subject %q, want %q in it", when, m.Subject, subject)
			}
		}
		if strings.Join(to, ",") != strings.Join(admins, ",") {
			t.Fatalf("%s: reminders to %v, want one to each of %v", when, to, admins)
		}
	}

	if ms := step(start); len(ms) != 3 || ms[0].Subject == "" {
		t.Fatalf("the first look: %d messages, want the late request's three", len(ms))
	} else {
		check("the late request", ms, late, "carl@acme.test", "1 day left")
	}
	if ms := step(start.Add(23*24*time.Hour - time.Minute)); len(ms) != 0 {
		t.Fatalf("more than 7 days left: %d messages", len(ms))
	}
	check("7 days left", step(start.Add(23*24*time.Hour+time.Minute)), erasure, "dora@acme.test", "7 days left")
	if ms := step(start.Add(25 * 24 * time.Hour)); len(ms) != 0 {
		t.Fatalf("again before 2 days left (instances restarted): %d messages", len(ms))
	}
	check("2 days left", step(start.Add(28*24*time.Hour+time.Minute)), erasure, "dora@acme.test", "2 days left")
	for _, at := range []time.Duration{29 * 24 * time.Hour, 31 * 24 * time.Hour} {
		if ms := step(start.Add(at)); len(ms) != 0 {
			t.Fatalf("after both reminders (day %v): %d messages", at/(24*time.Hour), len(ms))
		}
	}
	got, err := w.acme.PrivacyRequests().PrivacyRequestByID(ctx, erasure.ID)
	if err != nil || got.Reminded7d.IsZero() || got.Reminded2d.IsZero() {
		t.Fatalf("the reminders are not recorded with the request: %+v, %v", got, err)
	}
}

// failingOutbox refuses every message.
type failingOutbox struct{ notify.Outbox }

func (failingOutbox) Enqueue(context.Context, notify.Message) error { return errors.New("disk full") }

// TestReminderRetriedWhenItCouldNotBeQueued: a reminder whose mail could not be
// queued is not counted as sent: the next round sends it.
func TestReminderRetriedWhenItCouldNotBeQueued(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	r := w.askAt(t, w.acme, "dora@acme.test", store.RequestErasure, w.clk.Now().Add(-24*24*time.Hour))
	broken := w.reminderJob(0, "a")
	broken.Outbox = failingOutbox{}
	if _, _, err := broken.Once(context.Background()); err == nil {
		t.Fatal("a reminder that could not be queued reported no error")
	}
	if got, _ := w.acme.PrivacyRequests().PrivacyRequestByID(context.Background(), r.ID); !got.Reminded7d.IsZero() {
		t.Fatalf("the failed reminder is recorded as sent: %+v", got)
	}
	if _, n, err := w.reminderJob(0, "a").Once(context.Background()); err != nil || n != 3 {
		t.Fatalf("the next round: %d queued, %v; want 3", n, err)
	}
}

// qpSoftBreak is a quoted-printable soft line break as the test server prints it.
var qpSoftBreak = regexp.MustCompile(`='\n\s*b'`)

// TestReminderThroughSMTP: the reminder leaves the real outbox through the real
// worker and a real SMTP conversation, addressed to an admin, naming the request.
func TestReminderThroughSMTP(t *testing.T) {
	notifytest.RequireSMTPD(t)
	w := newReviewWorld(t)
	srv := notifytest.StartSMTPD(t, 0)
	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), From: "gatehouse@example.com", TLS: notify.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	worker, err := notify.NewWorker(w.stores[0].Outbox(), sender, w.clk, notify.WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w.askAt(t, w.acme, "dora@acme.test", store.RequestErasure, w.clk.Now().Add(-28*24*time.Hour-time.Hour))
	if _, n, err := w.reminderJob(0, "a").Once(context.Background()); err != nil || n != 3 {
		t.Fatalf("reminders queued: %d, %v", n, err)
	}
	if sent, err := worker.RunOnce(context.Background()); err != nil || sent != 3 {
		t.Fatalf("the worker sent %d, %v", sent, err)
	}
	out := srv.WaitOutput(t, "the three reminders", func(out string) bool { return strings.Count(out, "END MESSAGE") == 3 })
	out = qpSoftBreak.ReplaceAllString(out, "") // the server prints each line as b'…'; quoted-printable wraps them with "="
	for _, want := range []string{"To: <ada@acme.test>", "To: <bea@acme.test>", "To: <carl@acme.test>", "Subject: 2 days left: a data-subject request (erasure)",
		"dora@acme.test", "Deadline", "https://acme.example.com/auth/admin/requests"} {
		if !strings.Contains(out, want) {
			t.Errorf("the SMTP conversation lacks %q:\n%s", want, out)
		}
	}
}
