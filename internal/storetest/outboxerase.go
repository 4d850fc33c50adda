package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MailOutbox is what a backend that keeps the mail outbox in the same database
// offers the suite: PurgeUser must take a purged member's mail out of it.
type MailOutbox interface {
	MailOutbox() notify.Outbox
}

var outboxErasureTests = []test{
	{"PurgeDeletesTheirMail", testPurgeDeletesTheirMail},
}

// testPurgeDeletesTheirMail: purging (or erasing) a member deletes the tenant's mail
// to them still in the outbox — queued, failed and waiting for a retry, or sent to
// the address of a change they had not confirmed — and nothing else: another
// member's mail (also when the purged member had asked to move to that member's
// address), and mail of another tenant to the same address, stay.
func testPurgeDeletesTheirMail(t *testing.T, st store.Store) {
	mo, ok := st.(MailOutbox)
	if !ok {
		t.Fatalf("%T keeps no mail outbox the suite can reach (MailOutbox)", st)
	}
	ob := mo.MailOutbox()
	tn, otherTn := newTenant(t, st), newTenant(t, st)
	h := st.Tenant(tn.ID)
	gone, stays, asked := newUser(t, h), newUser(t, h), newUser(t, h)
	pending := randHex(6) + "@example.test"
	noErr(t, "PutEmailChange", h.EmailChanges().PutEmailChange(ctx(t), emailChange(gone.ID, pending, base)))
	// Another member, deleted with them, had asked to move to stays's address.
	noErr(t, "PutEmailChange (to a taken address)", h.EmailChanges().PutEmailChange(ctx(t), emailChange(asked.ID, stays.Email, base)))

	var n int
	mail := func(tenantID, to string) string {
		n++
		m := notify.Message{ID: "m-" + randHex(8), TenantID: tenantID, To: to, Subject: "s", Text: "t",
			CreatedAt: base.Add(time.Duration(n) * time.Millisecond), NextAttempt: base}
		noErr(t, "Enqueue", ob.Enqueue(ctx(t), m))
		return m.ID
	}
	failedID := mail(tn.ID, gone.Email)
	erased := []string{failedID, mail(tn.ID, gone.Email), mail(tn.ID, pending)}
	kept := []string{mail(tn.ID, stays.Email), mail(otherTn.ID, gone.Email), mail(otherTn.ID, pending)}
	// One of theirs failed once and waits for its retry.
	claimed, err := ob.ClaimDue(ctx(t), base, time.Minute, 1000)
	noErr(t, "ClaimDue", err)
	for _, m := range claimed {
		if slices.Contains(erased, m.ID) || slices.Contains(kept, m.ID) {
			next := base.Add(time.Hour)
			if m.ID != failedID {
				next = base
			}
			noErr(t, "MarkFailed", ob.MarkFailed(ctx(t), m.ID, "421 try later", next))
		}
	}

	deleteUser(t, h, gone.ID, base)
	noErr(t, "PurgeUser", h.Users().PurgeUser(ctx(t), gone.ID, base.Add(time.Second)))
	deleteUser(t, h, asked.ID, base)
	noErr(t, "PurgeUser (asked)", h.Users().PurgeUser(ctx(t), asked.ID, base.Add(time.Second)))

	left, err := ob.ClaimDue(ctx(t), base.Add(2*time.Hour), time.Minute, 1000)
	noErr(t, "ClaimDue after the purge", err)
	var ids []string
	for _, m := range left {
		ids = append(ids, m.ID)
	}
	for _, id := range erased {
		if slices.Contains(ids, id) {
			t.Errorf("mail %s to the purged member is still in the outbox", id)
		}
	}
	for _, id := range kept {
		if !slices.Contains(ids, id) {
			t.Errorf("mail %s to someone else (or of another tenant) went with the purge", id)
		}
	}
}
