package admin

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestDeleteMemberEndsAccessAndRestoreBringsThemBack: a deleted member's sessions are
// refused at once, they cannot sign in, they are gone from the member list and their
// address stays reserved; restored, they sign in again (the old sessions stay ended).
// Both steps are audited.
func TestDeleteMemberEndsAccessAndRestoreBringsThemBack(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	mem, _ := c.member(t, "mem@acme.test", "member")
	tok, _ := c.session(t, mem)

	u, err := c.svc.Deletions().Delete(ctx, c.ws, asOwner, Target{UserID: mem.ID})
	if err != nil || !u.DeletedAt.Equal(c.clk.Now()) {
		t.Fatalf("DeleteMember: %+v %v", u, err)
	}
	last := c.lastRecord(t)
	if last.Action != ActionUserDeleted || last.Target != "user:"+mem.ID || last.ActorID != asOwner.UserID || last.Details["email"] != mem.Email {
		t.Fatalf("audit record of the deletion: %+v", last)
	}
	if c.live(t, tok) {
		t.Fatal("the deleted member's cached session is still accepted")
	}
	if o, err := c.signIn.Password(ctx, c.ws, authn.Client{}, mem.Email, pw); err != nil || o.Session != nil || o.Status == authn.SignedIn {
		t.Fatalf("a deleted member signing in: %+v %v", o, err)
	}
	ms, err := c.svc.Members(ctx, c.ws, asOwner)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(ms, func(m Member) bool { return m.User.ID == mem.ID }) {
		t.Fatal("the deleted member is in the member list")
	}
	if _, _, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: mem.Email}); !errors.Is(err, ErrDeletedMember) {
		t.Fatalf("inviting a deleted member's address: %v, want ErrDeletedMember", err)
	}
	del, err := c.svc.Deletions().Deleted(ctx, c.ws, asOwner)
	if err != nil || len(del) != 1 || del[0].User.ID != mem.ID || del[0].DaysLeft != 30 {
		t.Fatalf("DeletedMembers: %+v %v", del, err)
	}

	// Day 29: still restorable, by e-mail (the CLI's way).
	c.clk.Advance(29 * 24 * time.Hour)
	asOwner.Verified = c.clk.Now()
	if del, _ := c.svc.Deletions().Deleted(ctx, c.ws, asOwner); len(del) != 1 || del[0].DaysLeft != 1 {
		t.Fatalf("DeletedMembers on day 29: %+v", del)
	}
	if u, err := c.svc.Deletions().Restore(ctx, c.ws, asOwner, Target{Email: "MEM@acme.test"}); err != nil || u.ID != mem.ID {
		t.Fatalf("RestoreMember: %+v %v", u, err)
	}
	if last := c.lastRecord(t); last.Action != ActionUserRestored || last.Target != "user:"+mem.ID {
		t.Fatalf("audit record of the restore: %+v", last)
	}
	if c.live(t, tok) {
		t.Fatal("restoring revived an ended session")
	}
	o, err := c.signIn.Password(ctx, c.ws, authn.Client{}, mem.Email, pw)
	if err != nil || o.Status != authn.SignedIn || o.Session == nil || !c.live(t, o.Session.Token) {
		t.Fatalf("signing in after the restore: %+v %v", o, err)
	}
	if _, err := c.svc.Deletions().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("restoring a live member: %v, want ErrNoSuchUser", err)
	}
}

// TestDeleteMemberIsGuarded: members cannot delete; admins not owners or admins;
// nobody themselves; the last owner stays; a stale sign-in must re-authenticate.
func TestDeleteMemberIsGuarded(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", "owner")
	adm, asAdmin := c.member(t, "admin@acme.test", "admin")
	mem, asMember := c.member(t, "mem@acme.test", "member")
	for _, tc := range []struct {
		name string
		by   Admin
		t    Target
		want error
	}{
		{"a member deleting", asMember, Target{UserID: adm.ID}, ErrForbidden},
		{"an admin deleting the owner", asAdmin, Target{UserID: owner.ID}, ErrForbidden},
		{"an admin deleting themselves", asAdmin, Target{UserID: adm.ID}, ErrSelf},
		{"the owner deleting themselves by e-mail", asOwner, Target{Email: "Owner@acme.test"}, ErrSelf},
		{"the CLI deleting the last owner", CLI(), Target{UserID: owner.ID}, ErrLastOwner},
	} {
		if _, err := c.svc.Deletions().Delete(ctx, c.ws, tc.by, tc.t); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	stale := asAdmin
	stale.Verified = c.clk.Now().Add(-time.Hour)
	if _, err := c.svc.Deletions().Delete(ctx, c.ws, stale, Target{UserID: mem.ID}); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("deleting without a recent re-authentication: %v", err)
	}
	if _, err := c.svc.Deletions().Delete(ctx, c.ws, asAdmin, Target{UserID: mem.ID}); err != nil {
		t.Fatalf("an admin deleting a member: %v", err)
	}
	// Restoring is guarded alike.
	if _, err := c.svc.Deletions().Restore(ctx, c.ws, asMember, Target{UserID: mem.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member restoring: %v", err)
	}
	if _, err := c.svc.Deletions().Restore(ctx, c.ws, stale, Target{UserID: mem.ID}); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("restoring without a recent re-authentication: %v", err)
	}
	if _, err := c.svc.Deletions().Deleted(ctx, c.ws, asMember); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member listing deleted members: %v", err)
	}
	// The deleted member's actor record is no owner: the owner stays the last one.
	if _, err := c.svc.SetDisabled(ctx, c.ws, CLI(), Target{UserID: owner.ID}, true); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("disabling the last owner: %v", err)
	}
}

// TestPurgeAfterTheWindow: on day 29 a deleted member is restorable and the purge job
// leaves them; on day 31 it has purged them — row, factors, sessions, sign-in history
// — erased the personal fields of their audit records, and the trail still verifies.
func TestPurgeAfterTheWindow(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	d, err := audit.NewDigester(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c.svc.Audit = audit.NewWriter(c.clk).WithDigester(d) // version-2 records, as the gateway writes
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	gone, _ := c.member(t, "gone@acme.test", "member")
	kept, _ := c.member(t, "kept@acme.test", "member")
	c.session(t, gone)
	if err := c.ws.RecoveryCodes().ReplaceRecoveryCodes(ctx, gone.ID, [][]byte{bytes.Repeat([]byte{1}, 32)}, c.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.ws.LoginHistory().AddLoginEvent(ctx, store.LoginEvent{UserID: gone.ID, At: c.clk.Now(), IP: "192.0.2.99"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{gone, kept} {
		if _, err := c.svc.Deletions().Delete(ctx, c.ws, asOwner, Target{UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	job := &MemberPurger{Store: c.st, Service: c.svc, Leases: c.st.Maintenance(), Holder: "test"}

	c.clk.Advance(29 * 24 * time.Hour)
	if ran, n, err := job.Once(ctx); err != nil || !ran || n != 0 {
		t.Fatalf("purge on day 29: ran %v, %d purged, %v", ran, n, err)
	}
	asOwner.Verified = c.clk.Now()
	if _, err := c.svc.Deletions().Restore(ctx, c.ws, asOwner, Target{UserID: kept.ID}); err != nil {
		t.Fatalf("restoring on day 29: %v", err)
	}

	c.clk.Advance(2 * 24 * time.Hour) // day 31
	asOwner.Verified = c.clk.Now()
	if ran, n, err := job.Once(ctx); err != nil || !ran || n != 1 {
		t.Fatalf("purge on day 31: ran %v, %d purged, %v", ran, n, err)
	}
	if _, err := c.svc.Deletions().Restore(ctx, c.ws, asOwner, Target{UserID: gone.ID}); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("restoring a purged member: %v", err)
	}
	if del, _ := c.svc.Deletions().Deleted(ctx, c.ws, asOwner); len(del) != 0 {
		t.Fatalf("deleted members after the purge: %+v", del)
	}
	if n, _ := c.ws.RecoveryCodes().CountRecoveryCodes(ctx, gone.ID); n != 0 {
		t.Fatalf("%d recovery codes left of the purged member", n)
	}
	if _, err := c.ws.LoginHistory().LastLoginEvent(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sign-in history of the purged member: %v", err)
	}
	if _, err := c.ws.Users().UserByID(ctx, kept.ID); err != nil {
		t.Fatalf("the member restored on day 29: %v", err)
	}

	// The audit trail: the purged member's records carry no personal data any more,
	// the purge is recorded without any, and the chain verifies.
	recs, err := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if (r.ActorID == gone.ID || r.Target == "user:"+gone.ID) && (r.ActorEmail != "" || r.IP != "" || len(r.Details) != 0 || !r.PIIErased) {
			if r.Action != ActionUserPurged {
				t.Errorf("record %d (%s) of the purged member keeps personal data: %+v", r.Seq, r.Action, r)
			}
		}
	}
	last := recs[len(recs)-1]
	if last.Action != ActionUserPurged || last.Target != "user:"+gone.ID || last.ActorID != audit.System.UserID || last.Details["email"] != "" {
		t.Fatalf("the purge record: %+v", last)
	}
	if n, err := audit.Verify(ctx, c.ws); err != nil || n != int64(len(recs)) {
		t.Fatalf("audit chain after the purge: %d records verified, %v", n, err)
	}
	// A second round finds nothing.
	if _, n, err := job.Once(ctx); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
}
