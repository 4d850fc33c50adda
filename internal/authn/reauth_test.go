package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// signedIn signs ann in with the password and returns her session as the portal sees it.
func (f *flow) signedIn(t *testing.T) (*session.Entry, string) {
	t.Helper()
	f.user(t, "ann@acme.test")
	o, err := f.s.Password(context.Background(), f.ws, f.client(""), "ann@acme.test", goodPassword)
	if err != nil || o.Status != SignedIn {
		t.Fatalf("sign-in: %+v %v", o, err)
	}
	return f.entry(t, o.Session.Token), o.Session.Token
}

func (f *flow) entry(t *testing.T, token string) *session.Entry {
	t.Helper()
	e, err := f.s.Sessions.Validate(context.Background(), f.ws, f.ws.Slug, token)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReauthenticateRefreshesAStaleSession: a session signed in longer ago than the
// re-authentication age is not fresh; the right password makes it fresh again (the
// session's proof time moves to now, audited with the method) without a new session.
func TestReauthenticateRefreshesAStaleSession(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	e, tok := f.signedIn(t)
	signedInAt := f.clk.Now()
	if !Fresh(e, 0, f.clk.Now()) {
		t.Fatal("a session just signed in is not fresh")
	}
	f.clk.Advance(DefaultReauthAge + time.Second)
	e = f.entry(t, tok)
	if Fresh(e, 0, f.clk.Now()) {
		t.Fatal("a session signed in 10 minutes ago is fresh")
	}
	if !Fresh(e, time.Hour, f.clk.Now()) {
		t.Fatal("the age given is not used")
	}
	if !e.Verified().Equal(signedInAt) {
		t.Fatalf("verified %v, want the sign-in %v", e.Verified(), signedInAt)
	}
	o, err := (Reauth{f.s}).Reauthenticate(ctx, f.ws, f.client(tok), e, goodPassword)
	if err != nil || o.Status != SignedIn || o.User.ID != e.User.ID || o.Session != nil {
		t.Fatalf("right password: %+v %v", o, err)
	}
	after := f.entry(t, tok)
	if !after.Verified().Equal(f.clk.Now()) || !Fresh(after, 0, f.clk.Now()) || after.Session.ID != e.Session.ID {
		t.Fatalf("after re-authentication: verified %v, now %v", after.Verified(), f.clk.Now())
	}
	recs := f.audited(t)
	last := recs[len(recs)-1]
	if last.Action != ActionReauthenticated || last.ActorID != e.User.ID || last.SessionID != e.Session.ID ||
		last.Details["method"] != MethodPassword || last.Outcome != audit.Success {
		t.Fatalf("audit record: %+v", last)
	}
}

// TestWrongReauthPasswordCountsTowardsTheLock: a wrong password is refused (audited
// with the session), leaves the session stale, and counts like a failed sign-in: the
// fifth locks the account, and then even the right password is answered Locked.
func TestWrongReauthPasswordCountsTowardsTheLock(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	e, tok := f.signedIn(t)
	f.clk.Advance(DefaultReauthAge + time.Second)
	e = f.entry(t, tok)
	stale := e.Verified()
	for i := range 5 {
		o, err := (Reauth{f.s}).Reauthenticate(ctx, f.ws, f.client(tok), e, "not my password")
		if err != nil || o.Status != Refused || o.Reason != ReasonWrongPassword {
			t.Fatalf("wrong password %d: %+v %v", i, o, err)
		}
	}
	o, err := (Reauth{f.s}).Reauthenticate(ctx, f.ws, f.client(tok), e, goodPassword)
	if err != nil || o.Status != Locked || o.RetryAfter != DefaultLockout.Base {
		t.Fatalf("right password after five wrong ones: %+v %v", o, err)
	}
	if got := f.entry(t, tok).Verified(); !got.Equal(stale) {
		t.Fatalf("verified moved to %v", got)
	}
	fails, locks := 0, 0
	for _, r := range f.audited(t) {
		switch r.Action {
		case audit.ActionLoginFailure:
			if r.SessionID != e.Session.ID || r.ActorID != e.User.ID {
				t.Errorf("failure record: %+v", r)
			}
			fails++
		case audit.ActionAccountLocked:
			locks++
		case ActionReauthenticated:
			t.Error("a refused re-authentication was audited as one")
		}
	}
	if fails != 5 || locks != 1 || len(f.mail.sent) != 1 || f.mail.sent[0] != notify.KindAccountLocked+" ann@acme.test" {
		t.Fatalf("%d failures and %d locks audited; mail %v", fails, locks, f.mail.sent)
	}
}

// TestReauthWithoutPasskeys: a user without passkeys cannot re-authenticate with one.
// (The ceremonies themselves run against a real browser in the end-to-end tests.)
func TestReauthWithoutPasskeys(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	pks, err := passkey.New(passkey.Config{Challenges: passkey.NewMemoryChallenges(clock.Real{}), Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	f.s.Passkeys = pks
	e, tok := f.signedIn(t)
	c := f.client(tok)
	c.Site = passkey.Site{Host: "app.test", HTTPS: true}
	if _, _, err := (Reauth{f.s}).ReauthPasskeyBegin(context.Background(), f.ws, c, e); !errors.Is(err, ErrNoPasskeys) {
		t.Fatalf("begin without passkeys: %v", err)
	}
}
