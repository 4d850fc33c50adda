package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// invitee creates a user without a password (as admin.Invite does) and a live
// invitation link for them.
func (f *flow) invitee(t *testing.T, email string) (store.User, string) {
	t.Helper()
	ctx := context.Background()
	u, err := PrepareUser(NewUser{Email: email, Roles: []string{"member"}}, f.s.Hasher, identity.PasswordRules{}, f.clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ws.Users().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, err := IssueLink(ctx, f.ws, PurposeInvite, u.ID, InviteLinkLifetime, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// TestAcceptInviteOnce: a refused password or name leaves the link open; accepting
// sets the password and the name, signs the invitee in, is audited, and closes the
// link.
func TestAcceptInviteOnce(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u, tok := f.invitee(t, "new@acme.test")
	if got, err := (Links{f.s}).InviteOpen(ctx, f.ws, tok); err != nil || got.ID != u.ID {
		t.Fatalf("open: %+v %v", got, err)
	}
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("an invitation as a reset link: %v", err)
	}
	var ie *InputError
	if _, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "New", "short"); !errors.As(err, &ie) || ie.Field != "password" {
		t.Fatalf("short password: %v", err)
	}
	if _, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "Evil\r\nX-Gatehouse-Roles: owner", goodPassword); !errors.As(err, &ie) || ie.Field != "name" {
		t.Fatalf("name with control characters: %v", err)
	}
	if _, err := (Links{f.s}).InviteOpen(ctx, f.ws, tok); err != nil {
		t.Fatalf("link after refused entries: %v", err)
	}
	if stored, _ := f.ws.Users().UserByID(ctx, u.ID); stored.PasswordHash != "" || stored.DisplayName != "" {
		t.Fatalf("refused entries were stored: %+v", stored)
	}

	o, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "  New Person ", goodPassword)
	if err != nil || o.Status != SignedIn || o.Session == nil || o.Session.Pending || o.User.ID != u.ID {
		t.Fatalf("accept: %+v %v", o, err)
	}
	e, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, o.Session.Token)
	if err != nil || e.User.ID != u.ID || e.User.DisplayName != "New Person" {
		t.Fatalf("session: %+v %v", e, err)
	}
	stored, err := f.ws.Users().UserByID(ctx, u.ID)
	if err != nil || !stored.LastLoginAt.Equal(f.clk.Now()) {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	if !f.signsIn(t, u.Email, goodPassword) {
		t.Fatal("the chosen password does not work")
	}
	recs := f.audited(t)
	if len(recs) < 2 || recs[0].Action != ActionInviteAccepted || recs[0].ActorID != u.ID || recs[0].Target != "user:"+u.ID ||
		recs[1].Action != audit.ActionLoginSuccess {
		t.Fatalf("audit: %+v", recs)
	}

	if _, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "", "yet another adequate passphrase"); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("second use: %v", err)
	}
	if _, err := (Links{f.s}).InviteOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("open after use: %v", err)
	}
	if !f.signsIn(t, u.Email, goodPassword) {
		t.Fatal("a second use changed the password")
	}
}

// TestAcceptInviteFollowsTheTenantPolicy: accepting is a sign-in with a correct
// password, so a tenant that requires a second factor (no grace) lets the new member
// only enrol — a pending session, no full one.
func TestAcceptInviteFollowsTheTenantPolicy(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	if err := f.ws.Settings().PutSecuritySettings(ctx, UpdateSettings(store.SecuritySettings{}, true, 0, false, "test", f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	_, tok := f.invitee(t, "new@acme.test")
	o, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "", goodPassword)
	if err != nil || o.Status != EnrolmentRequired || o.Session == nil || !o.Session.Pending {
		t.Fatalf("accept under required 2FA: %+v %v", o, err)
	}
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, o.Session.Token); err == nil {
		t.Fatal("the pending session is a full session")
	}
}

// TestInviteLinkExpiresAfterAWeek: an invitation is good for seven days, no longer.
func TestInviteLinkExpiresAfterAWeek(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u, tok := f.invitee(t, "new@acme.test")
	f.clk.Advance(7*24*time.Hour - time.Second)
	if _, err := (Links{f.s}).InviteOpen(ctx, f.ws, tok); err != nil {
		t.Fatalf("just before a week: %v", err)
	}
	f.clk.Advance(2 * time.Second)
	if _, err := (Links{f.s}).InviteOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("after a week: %v", err)
	}
	if _, err := (Links{f.s}).AcceptInvite(ctx, f.ws, f.client(""), tok, "", goodPassword); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("accept after a week: %v", err)
	}
	if stored, _ := f.ws.Users().UserByID(ctx, u.ID); stored.PasswordHash != "" {
		t.Fatal("a password was set with an expired link")
	}
}
