package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// E-mail rectification: the pending change a member asked for, and the change of the
// address itself.
var emailChangeTests = []test{
	{"PutReplaceDelete", testEmailChangeRoundTrip},
	{"OnlyLiveMembers", testEmailChangeLiveOnly},
	{"OtherTenant", testEmailChangeOtherTenant},
	{"GoesWithThePurge", testEmailChangePurged},
	{"SetEmailUnique", testSetEmailUnique},
	{"ConcurrentSetEmail", testSetEmailConcurrent},
}

func emailChange(userID, email string, at time.Time) store.EmailChange {
	return store.EmailChange{UserID: userID, NewEmail: email, TokenHash: randBytes(32), CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
}

func testEmailChangeRoundTrip(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	ec := h.EmailChanges()
	_, err := ec.EmailChangeOf(ctx(t), u.ID)
	wantErr(t, "EmailChangeOf before any", err, store.ErrNotFound)

	first := emailChange(u.ID, "first@example.test", base)
	noErr(t, "PutEmailChange", ec.PutEmailChange(ctx(t), first))
	noErr(t, "PutEmailChange (other)", ec.PutEmailChange(ctx(t), emailChange(other.ID, "theirs@example.test", base)))
	got, err := ec.EmailChangeOf(ctx(t), u.ID)
	noErr(t, "EmailChangeOf", err)
	if got.UserID != u.ID || got.NewEmail != first.NewEmail || !bytes.Equal(got.TokenHash, first.TokenHash) ||
		!got.CreatedAt.Equal(first.CreatedAt) || !got.ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("EmailChangeOf = %+v, want %+v", got, first)
	}
	// A newer request replaces the older one, hash and all.
	second := emailChange(u.ID, "second@example.test", base.Add(time.Minute))
	noErr(t, "PutEmailChange (newer)", ec.PutEmailChange(ctx(t), second))
	got, err = ec.EmailChangeOf(ctx(t), u.ID)
	noErr(t, "EmailChangeOf after the newer", err)
	if got.NewEmail != second.NewEmail || !bytes.Equal(got.TokenHash, second.TokenHash) || !got.ExpiresAt.Equal(second.ExpiresAt) {
		t.Fatalf("after a newer request: %+v, want %+v", got, second)
	}
	noErr(t, "DeleteEmailChange", ec.DeleteEmailChange(ctx(t), u.ID))
	noErr(t, "DeleteEmailChange twice", ec.DeleteEmailChange(ctx(t), u.ID))
	_, err = ec.EmailChangeOf(ctx(t), u.ID)
	wantErr(t, "EmailChangeOf after the delete", err, store.ErrNotFound)
	if got, err := ec.EmailChangeOf(ctx(t), other.ID); err != nil || got.NewEmail != "theirs@example.test" {
		t.Errorf("the other member's change after the delete: %+v, %v", got, err)
	}
}

func testEmailChangeLiveOnly(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	newUser(t, h)
	u := newUser(t, h)
	wantErr(t, "PutEmailChange for nobody", h.EmailChanges().PutEmailChange(ctx(t), emailChange("us-none", "x@example.test", base)), store.ErrNotFound)
	deleteUser(t, h, u.ID, base)
	wantErr(t, "PutEmailChange for a deleted member", h.EmailChanges().PutEmailChange(ctx(t), emailChange(u.ID, "x@example.test", base)), store.ErrNotFound)
}

func testEmailChangeOtherTenant(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	b := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, a)
	noErr(t, "A: PutEmailChange", a.EmailChanges().PutEmailChange(ctx(t), emailChange(u.ID, "mine@example.test", base)))
	_, err := b.EmailChanges().EmailChangeOf(ctx(t), u.ID)
	wantErr(t, "B: EmailChangeOf A's member", err, store.ErrNotFound)
	wantErr(t, "B: PutEmailChange for A's member", b.EmailChanges().PutEmailChange(ctx(t), emailChange(u.ID, "evil@example.test", base)), store.ErrNotFound)
	noErr(t, "B: DeleteEmailChange of A's member", b.EmailChanges().DeleteEmailChange(ctx(t), u.ID))
	if got, err := a.EmailChanges().EmailChangeOf(ctx(t), u.ID); err != nil || got.NewEmail != "mine@example.test" {
		t.Errorf("A's change after B's attempts: %+v, %v", got, err)
	}
	wantErr(t, "B: SetEmail of A's member", b.Users().SetEmail(ctx(t), u.ID, "evil@example.test"), store.ErrNotFound)
}

func testEmailChangePurged(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	newUser(t, h)
	u := newUser(t, h)
	noErr(t, "PutEmailChange", h.EmailChanges().PutEmailChange(ctx(t), emailChange(u.ID, "next@example.test", base)))
	deleteUser(t, h, u.ID, base)
	noErr(t, "PurgeUser", h.Users().PurgeUser(ctx(t), u.ID, base.Add(time.Second)))
	_, err := h.EmailChanges().EmailChangeOf(ctx(t), u.ID)
	wantErr(t, "EmailChangeOf a purged member", err, store.ErrNotFound)
}

func testSetEmailUnique(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	users := h.Users()
	u, other, gone := newUser(t, h), newUser(t, h), newUser(t, h)
	wantErr(t, "SetEmail to another member's address", users.SetEmail(ctx(t), u.ID, other.Email), store.ErrConflict)
	deleteUser(t, h, gone.ID, base)
	wantErr(t, "SetEmail to a deleted member's address", users.SetEmail(ctx(t), u.ID, gone.Email), store.ErrConflict)
	wantErr(t, "SetEmail of a deleted member", users.SetEmail(ctx(t), gone.ID, "back@example.test"), store.ErrNotFound)
	if got, err := users.UserByID(ctx(t), u.ID); err != nil || got.Email != u.Email {
		t.Fatalf("after refused changes: %+v, %v; want %s", got, err, u.Email)
	}
	const next = "renamed@example.test"
	noErr(t, "SetEmail", users.SetEmail(ctx(t), u.ID, next))
	if got, err := users.UserByEmail(ctx(t), next); err != nil || got.ID != u.ID {
		t.Fatalf("UserByEmail(new) = %+v, %v", got, err)
	}
	_, err := users.UserByEmail(ctx(t), u.Email)
	wantErr(t, "UserByEmail(old)", err, store.ErrNotFound)
	// The old address is free for someone else.
	noErr(t, "CreateUser with the old address", users.CreateUser(ctx(t), store.User{ID: "us-" + randHex(6), Email: u.Email, Status: store.UserActive, CreatedAt: base}))
}

// testSetEmailConcurrent: two members taking the same free address at once; exactly
// one gets it.
func testSetEmailConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	for range raceRounds {
		a, b := newUser(t, h), newUser(t, h)
		addr := randHex(6) + "@example.test"
		errs := raceEach(
			func() error { return h.Users().SetEmail(ctx(t), a.ID, addr) },
			func() error { return h.Users().SetEmail(ctx(t), b.ID, addr) },
		)
		exactlyOneWins(t, "concurrent SetEmail to one address", errs, store.ErrConflict)
	}
}
