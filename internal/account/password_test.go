package account

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const newPw = "a different but equally adequate passphrase"

// outbox records the mail the account queues.
type outbox struct {
	mu   sync.Mutex
	sent []queued
}

type queued struct {
	to, kind string
	data     any
}

func (o *outbox) Notify(_ context.Context, _, to, kind string, data any) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, queued{to: to, kind: kind, data: data})
	return "m1", nil
}

// password tells whether pw is the user's password now.
func (f *fixture) password(t *testing.T, email, pw string) bool {
	t.Helper()
	_, err := f.svc.Passwords.Check(context.Background(), f.ws, email, pw)
	if err != nil && !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	return err == nil
}

// TestChangePasswordRefusals: a wrong current password or a new one the rules refuse
// changes nothing — no new password, no audit record, no mail, sessions untouched.
func TestChangePasswordRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	mail := &outbox{}
	f.svc.Mail = mail
	me := f.me(t, "ann@acme.test", false)
	other, _ := f.another(t, me, false, "test")
	if _, err := f.svc.ChangePassword(ctx, f.ws, me, "not my password", newPw, true); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong current password: %v", err)
	}
	var ie *authn.InputError
	for _, weak := range []string{"short", "aaaaaaaaaaaaaaaaaaaa", "ann@acme.test" + "ann@acme.test"} {
		if _, err := f.svc.ChangePassword(ctx, f.ws, me, pw, weak, true); !errors.As(err, &ie) || ie.Field != "password" {
			t.Fatalf("new password %q: %v", weak, err)
		}
	}
	if !f.password(t, "ann@acme.test", pw) || f.password(t, "ann@acme.test", newPw) {
		t.Fatal("the password changed")
	}
	if !f.live(t, other) || len(f.actions(t)) != 0 || len(mail.sent) != 0 {
		t.Fatalf("other session live %v, audited %v, mailed %+v", f.live(t, other), f.actions(t), mail.sent)
	}
}

// TestChangePasswordKeepingOtherSessions: the new password replaces the old, reset
// links for the old one die, other sessions stay when asked to, the change is audited
// and mailed.
func TestChangePasswordKeepingOtherSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	mail := &outbox{}
	f.svc.Mail = mail
	me := f.me(t, "ann@acme.test", false)
	me.Client.PortalURL = "https://app.test/auth"
	u := me.Session.User
	other, _ := f.another(t, me, false, "test")
	link, err := authn.IssueLink(ctx, f.ws, authn.PurposeReset, u.ID, authn.ResetLinkLifetime, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (authn.Links{SignIn: f.svc.SignIn}).ResetOpen(ctx, f.ws, link); err != nil {
		t.Fatalf("reset link before the change: %v", err)
	}
	n, err := f.svc.ChangePassword(ctx, f.ws, me, pw, newPw, false)
	if err != nil || n != 0 {
		t.Fatalf("change: %d %v", n, err)
	}
	if f.password(t, u.Email, pw) || !f.password(t, u.Email, newPw) {
		t.Fatal("the old password still works, or the new one does not")
	}
	if _, err := (authn.Links{SignIn: f.svc.SignIn}).ResetOpen(ctx, f.ws, link); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("reset link after the change: %v", err)
	}
	if _, err := (authn.Links{SignIn: f.svc.SignIn}).ResetPassword(ctx, f.ws, me.Client, link, "an attacker's adequate passphrase"); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("reset with the old link: %v", err)
	}
	if !f.live(t, other) || !f.live(t, me.Client.Token) {
		t.Fatal("a session ended although the user kept them")
	}
	recs, _ := f.ws.Audit().ListAudit(ctx, 0, 100)
	if len(recs) != 1 || recs[0].Action != ActionPasswordChanged || recs[0].Details["other_sessions_ended"] != "0" ||
		recs[0].ActorID != u.ID || recs[0].SessionID != me.Session.Session.ID || recs[0].Outcome != audit.Success {
		t.Fatalf("audit: %+v", recs)
	}
	if len(mail.sent) != 1 || mail.sent[0].kind != notify.KindPasswordChanged || mail.sent[0].to != u.Email {
		t.Fatalf("mail: %+v", mail.sent)
	}
	pc, ok := mail.sent[0].data.(notify.PasswordChanged)
	if !ok || pc.OtherSessionsEnded || pc.Reset || !pc.ChangedAt.Equal(f.clk.Now()) || pc.IP != "192.0.2.1" ||
		pc.SecurityURL != "https://app.test/auth/settings/security" {
		t.Fatalf("mail data: %+v", mail.sent[0].data)
	}
}

// TestChangePasswordEndingOtherSessions: with endOthers every other session of the
// user ends (and is counted); this one and other users' stay.
func TestChangePasswordEndingOtherSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	mail := &outbox{}
	f.svc.Mail = mail
	me := f.me(t, "ann@acme.test", false)
	bob := f.me(t, "bob@acme.test", false)
	laptop, _ := f.another(t, me, false, "test")
	phone, _ := f.another(t, me, false, "test")
	n, err := f.svc.ChangePassword(ctx, f.ws, me, pw, newPw, true)
	if err != nil || n != 2 {
		t.Fatalf("change: %d %v", n, err)
	}
	if f.live(t, laptop) || f.live(t, phone) {
		t.Fatal("another session survived")
	}
	if !f.live(t, me.Client.Token) || !f.live(t, bob.Client.Token) {
		t.Fatal("this session or another user's ended")
	}
	if got := f.actions(t); len(got) != 1 || got[0] != ActionPasswordChanged {
		t.Fatalf("audited %v", got)
	}
	if len(mail.sent) != 1 || !mail.sent[0].data.(notify.PasswordChanged).OtherSessionsEnded {
		t.Fatalf("mail: %+v", mail.sent)
	}
	// Without a mailer the change works all the same.
	f.svc.Mail = nil
	if _, err := f.svc.ChangePassword(ctx, f.ws, me, newPw, pw, false); err != nil {
		t.Fatal(err)
	}
}

// TestDeletePasskeyNeedsAFreshSession: removing a passkey from a session whose proof
// of identity is older than the re-authentication age is refused and changes nothing;
// after re-authenticating it works.
func TestDeletePasskeyNeedsAFreshSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	pk := store.Passkey{ID: "pk-ann", UserID: me.Session.User.ID, CredentialID: []byte("cred-ann"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: f.clk.Now()}
	if err := f.ws.Passkeys().AddPasskey(ctx, pk); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(authn.DefaultReauthAge + time.Second)
	me.Session = f.entry(t, me.Client.Token)
	if err := f.svc.DeletePasskey(ctx, f.ws, me, pk.ID); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("stale session: %v", err)
	}
	if pks, _ := f.ws.Passkeys().ListPasskeys(ctx, me.Session.User.ID); len(pks) != 1 {
		t.Fatalf("%d passkeys left", len(pks))
	}
	if got := f.actions(t); len(got) != 0 {
		t.Fatalf("audited %v", got)
	}
	if err := f.sessions.Verify(ctx, f.ws, me.Session.Session.ID); err != nil { // what a re-authentication records
		t.Fatal(err)
	}
	me.Session = f.entry(t, me.Client.Token)
	if err := f.svc.DeletePasskey(ctx, f.ws, me, pk.ID); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	if pks, _ := f.ws.Passkeys().ListPasskeys(ctx, me.Session.User.ID); len(pks) != 0 {
		t.Fatalf("%d passkeys left", len(pks))
	}
	if got := f.actions(t); len(got) != 1 || got[0] != audit.ActionPasskeyRemoved {
		t.Fatalf("audited %v", got)
	}
}

func (f *fixture) entry(t *testing.T, token string) *session.Entry {
	t.Helper()
	e, err := f.sessions.Validate(context.Background(), f.ws, f.ws.Slug, token)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAddingAFactorNeedsAFreshSession: whoever holds only an old session cookie cannot
// add an authenticator app or a passkey of their own (which would then count as the
// user's second factor); after re-authenticating the user can.
func TestAddingAFactorNeedsAFreshSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	f.clk.Advance(authn.DefaultReauthAge + time.Second)
	me.Session = f.entry(t, me.Client.Token)
	if _, err := f.svc.BeginTOTP(ctx, f.ws, me); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("stale session adding an app: %v", err)
	}
	if _, _, err := f.svc.BeginPasskey(ctx, f.ws, me); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("stale session adding a passkey: %v", err)
	}
	if _, err := f.ws.TOTP().TOTPByUser(ctx, me.Session.User.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key was started anyway: %v", err)
	}
	if err := f.sessions.Verify(ctx, f.ws, me.Session.Session.ID); err != nil {
		t.Fatal(err)
	}
	me.Session = f.entry(t, me.Client.Token)
	if _, err := f.svc.BeginTOTP(ctx, f.ws, me); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
}
