package admin

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ask stores an open request of u, created now, as the account use cases do.
func (c *crew) ask(t *testing.T, u store.User, kind string) store.PrivacyRequest {
	t.Helper()
	now := c.clk.Now()
	r := store.PrivacyRequest{ID: "pr-" + kind + "-" + u.ID, UserID: u.ID, Kind: kind, Status: store.RequestOpen,
		CreatedAt: now, Deadline: now.Add(store.PrivacyRequestDeadline)}
	if err := c.ws.PrivacyRequests().CreatePrivacyRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestErasureRequestErasesTheMember: the admin sees the request with its deadline
// counting down (overdue after 30 days); fulfilling it erases the member at once —
// no sign-in, no session, no factors, no personal data in their audit records — while
// the request stays listed without their address and the audit chain verifies.
func TestErasureRequestErasesTheMember(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	desk := Requests{Service: c.svc}
	ctx := context.Background()
	d, err := audit.NewDigester(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c.svc.Audit = audit.NewWriter(c.clk).WithDigester(d)
	c.signIn.Audit = c.svc.Audit
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	gone, _ := c.member(t, "gone@acme.test", "member")
	tok, _ := c.session(t, gone)
	if err := c.ws.RecoveryCodes().ReplaceRecoveryCodes(ctx, gone.ID, [][]byte{bytes.Repeat([]byte{1}, 32)}, c.clk.Now()); err != nil {
		t.Fatal(err)
	}
	r := c.ask(t, gone, store.RequestErasure)
	if err := c.svc.Audit.Record(ctx, c.ws, audit.Event(audit.ActionPrivacyRequested, audit.Success,
		audit.Actor{UserID: gone.ID, Email: gone.Email}, audit.Origin{IP: "192.0.2.50"})); err != nil {
		t.Fatal(err)
	}

	c.clk.Advance(23*24*time.Hour + time.Hour)
	list, err := desk.List(ctx, c.ws, asOwner)
	if err != nil || len(list) != 1 {
		t.Fatalf("Requests: %+v, %v", list, err)
	}
	if v := list[0]; v.ID != r.ID || v.Email != gone.Email || v.DaysLeft != 7 || v.Overdue || v.Kind != store.RequestErasure {
		t.Fatalf("request on day 23: %+v, want %s with 7 days left", v, gone.Email)
	}
	c.clk.Advance(7 * 24 * time.Hour)
	if list, _ = desk.List(ctx, c.ws, asOwner); list[0].DaysLeft != 0 || !list[0].Overdue {
		t.Fatalf("request after the deadline: %+v, want overdue", list[0])
	}

	asOwner.Verified = c.clk.Now()
	got, err := desk.Fulfil(ctx, c.ws, asOwner, r.ID, "")
	if err != nil || got.Status != store.RequestFulfilled {
		t.Fatalf("FulfilRequest: %+v, %v", got, err)
	}
	if c.live(t, tok) {
		t.Error("the erased member's session still works")
	}
	if c.signsIn(t, gone.Email) {
		t.Error("the erased member can still sign in")
	}
	if _, err := c.ws.Users().UserByID(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the erased member's row: %v", err)
	}
	if del, _ := c.ws.Users().DeletedUsers(ctx); len(del) != 0 {
		t.Errorf("the erased member is still among the deleted: %+v", del)
	}
	if n, _ := c.ws.RecoveryCodes().CountRecoveryCodes(ctx, gone.ID); n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	list, _ = desk.List(ctx, c.ws, asOwner)
	if v := list[0]; v.Status != store.RequestFulfilled || !v.Erased || v.Email != "" || v.ResolvedBy != asOwner.UserID {
		t.Errorf("the fulfilled request: %+v", v)
	}
	recs, err := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.ActorID == gone.ID && (rec.ActorEmail != "" || rec.IP != "") {
			t.Errorf("record %d (%s) keeps the erased member's data", rec.Seq, rec.Action)
		}
	}
	// The newest record is the refused sign-in above; the one before it the fulfilment.
	if last := recs[len(recs)-2]; last.Action != audit.ActionPrivacyFulfilled || last.Details["request"] != r.ID || last.Details["kind"] != "erasure" {
		t.Errorf("last record: %+v", last)
	}
	if n, err := audit.Verify(ctx, c.ws); err != nil || n != int64(len(recs)) {
		t.Fatalf("audit chain after the erasure: %d verified, %v", n, err)
	}
	if _, err := desk.Fulfil(ctx, c.ws, asOwner, r.ID, ""); !errors.Is(err, ErrNoSuchRequest) {
		t.Errorf("fulfilling twice: %v", err)
	}
}

// TestRequestResolutionIsGuarded: members cannot see or resolve requests, a refusal
// needs a reason, a stale session must re-authenticate, an admin cannot erase an
// owner, and the last owner is never erased.
func TestRequestResolutionIsGuarded(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	desk := Requests{Service: c.svc}
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", "owner")
	_, asAdmin := c.member(t, "admin@acme.test", "admin")
	m, asMember := c.member(t, "m@acme.test", "member")
	r := c.ask(t, m, store.RequestErasure)
	if _, err := desk.List(ctx, c.ws, asMember); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member lists requests: %v", err)
	}
	if _, err := desk.Fulfil(ctx, c.ws, asMember, r.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member fulfils: %v", err)
	}
	if _, err := desk.Refuse(ctx, c.ws, asAdmin, r.ID, "  "); !errors.Is(err, ErrReasonRequired) {
		t.Errorf("refusal without a reason: %v", err)
	}
	stale := asAdmin
	stale.Verified = c.clk.Now().Add(-time.Hour)
	if _, err := desk.Fulfil(ctx, c.ws, stale, r.ID, ""); !errors.Is(err, authn.ErrReauthRequired) {
		t.Errorf("stale session: %v", err)
	}
	if _, err := c.ws.Users().UserByID(ctx, m.ID); err != nil {
		t.Fatalf("the member after the refused attempts: %v", err)
	}
	ro := c.ask(t, owner, store.RequestErasure)
	if _, err := desk.Fulfil(ctx, c.ws, asAdmin, ro.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("an admin erases an owner: %v", err)
	}
	if _, err := desk.Fulfil(ctx, c.ws, asOwner, ro.ID, ""); !errors.Is(err, store.ErrLastOwner) {
		t.Errorf("erasing the last owner: %v", err)
	}
	refused, err := desk.Refuse(ctx, c.ws, asAdmin, r.ID, "an open legal claim")
	if err != nil || refused.Status != store.RequestRefused || refused.Reason != "an open legal claim" {
		t.Fatalf("RefuseRequest: %+v, %v", refused, err)
	}
	if _, err := c.ws.Users().UserByID(ctx, m.ID); err != nil {
		t.Errorf("the member after a refused erasure: %v", err)
	}
	if rec := c.lastRecord(t); rec.Action != audit.ActionPrivacyRefused || rec.Details["reason"] != "an open legal claim" || rec.ActorID != asAdmin.UserID {
		t.Errorf("refusal record: %+v", rec)
	}
}

// TestRestrictionIsLiftedByResolving: a restricted member cannot sign in until the
// admin resolves the restriction request, which lifts it (audited).
func TestRestrictionIsLiftedByResolving(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	desk := Requests{Service: c.svc}
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	m, _ := c.member(t, "m@acme.test", "member")
	if err := c.ws.Users().SetStatus(ctx, m.ID, store.UserRestricted); err != nil {
		t.Fatal(err)
	}
	r := c.ask(t, m, store.RequestRestriction)
	if c.signsIn(t, m.Email) {
		t.Fatal("a restricted member signs in")
	}
	if _, err := desk.Fulfil(ctx, c.ws, asOwner, r.ID, "lifted after review"); err != nil {
		t.Fatal(err)
	}
	if u := c.stored(t, m.ID); u.Status != store.UserActive {
		t.Fatalf("status after lifting: %s", u.Status)
	}
	if !c.signsIn(t, m.Email) {
		t.Error("no sign-in after lifting")
	}
	acts := c.actions(t)
	if !containsInOrder(acts, audit.ActionRestrictionLifted, audit.ActionPrivacyFulfilled) {
		t.Errorf("actions: %v", acts)
	}
}

// signsIn tells whether the password sign-in of email succeeds.
func (c *crew) signsIn(t *testing.T, email string) bool {
	t.Helper()
	o, err := c.signIn.Password(context.Background(), c.ws, authn.Client{}, email, pw)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status == authn.SignedIn
}

// containsInOrder tells whether want appear in acts in that order.
func containsInOrder(acts []string, want ...string) bool {
	for _, a := range acts {
		if len(want) > 0 && a == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}
