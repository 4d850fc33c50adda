package authn

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// passwordSession signs email in with the password alone (no factor yet) and returns
// the session token.
func (f *flow) passwordSession(t *testing.T, email string) string {
	t.Helper()
	o, err := f.s.Password(context.Background(), f.ws, f.client(""), email, goodPassword)
	if err != nil || o.Status != SignedIn || o.Session == nil {
		t.Fatalf("password sign-in: %+v %v", o, err)
	}
	return o.Session.Token
}

// enrolApp turns on an authenticator app for u (the confirmation spends the current
// step) and returns a code generator at an offset from now.
func (f *flow) enrolApp(t *testing.T, u store.User) func(time.Duration) string {
	t.Helper()
	ctx := context.Background()
	k, err := f.s.MFA.BeginTOTP(ctx, f.ws, u, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	code := func(off time.Duration) string { c, _ := otptotp.GenerateCode(k.Secret, f.clk.Now().Add(off)); return c }
	if _, err := f.s.MFA.ConfirmTOTP(ctx, f.ws, u.ID, code(0)); err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *flow) countAudit(t *testing.T, action string) int {
	t.Helper()
	n := 0
	for _, r := range f.audited(t) {
		if r.Action == action {
			n++
		}
	}
	return n
}

// TestStepUpWithACode: a session that used only a password (signed in before the app
// was enrolled) steps up with a code from the app: a new session whose methods add
// "otp" replaces it, audited. A replayed code (the one that confirmed the enrolment)
// and a wrong one are refused and leave the session as it was; a session that has a
// second factor has nothing to step up.
func TestStepUpWithACode(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.passwordSession(t, "ann@acme.test")
	code := f.enrolApp(t, u)
	e := f.entry(t, tok)
	up := StepUp{f.s}
	if !up.Needed(e) || e.Subject.MFA {
		t.Fatal("a password-only session does not need to step up")
	}

	for _, c := range []struct{ code, reason string }{{code(0), "code_replayed"}, {"000000", "invalid_code"}} {
		o, err := up.Code(ctx, f.ws, f.client(tok), e, "", c.code)
		if err != nil || o.Status != Refused || o.Reason != c.reason || o.Session != nil {
			t.Fatalf("code %s: %+v %v", c.reason, o, err)
		}
	}
	if still := f.entry(t, tok); still.Subject.MFA {
		t.Fatal("a refused code stepped the session up")
	}
	fails := 0
	for _, r := range f.audited(t) {
		if r.Action == audit.ActionSecondFactorFailure {
			if r.SessionID != e.Session.ID || r.ActorID != u.ID || r.Details["method"] != MethodTOTP {
				t.Errorf("failure record: %+v", r)
			}
			fails++
		}
	}
	if fails != 2 || f.countAudit(t, ActionSteppedUp) != 0 {
		t.Fatalf("%d failures audited, %d step-ups", fails, f.countAudit(t, ActionSteppedUp))
	}

	o, err := up.Code(ctx, f.ws, f.client(tok), e, MethodTOTP, code(30*time.Second))
	if err != nil || o.Status != SignedIn || o.Session == nil || o.Session.Pending || o.User.ID != u.ID {
		t.Fatalf("right code: %+v %v", o, err)
	}
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, tok); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the password-only session outlived the step-up: %v", err)
	}
	after := f.entry(t, o.Session.Token)
	if !after.Subject.MFA || up.Needed(after) || !slices.Equal(after.Session.AuthMethods, []string{MethodPassword, MethodTOTP}) {
		t.Fatalf("stepped-up session: %+v", after.Session)
	}
	var login, stepped *store.AuditRecord
	for _, r := range f.audited(t) {
		switch {
		case r.Action == audit.ActionLoginSuccess && r.SessionID == after.Session.ID:
			login = &r
		case r.Action == ActionSteppedUp:
			stepped = &r
		}
	}
	if login == nil || login.Details["methods"] != "pwd,otp" || stepped == nil || stepped.SessionID != e.Session.ID ||
		stepped.Details["method"] != MethodTOTP || stepped.Outcome != audit.Success || stepped.ActorID != u.ID {
		t.Fatalf("audit: sign-in %+v, step-up %+v", login, stepped)
	}

	// Nothing to do now: no code is checked (or spent), no new session.
	if o, err := up.Code(ctx, f.ws, f.client(o.Session.Token), after, "", "000000"); err != nil || o.Status != SignedIn || o.Session != nil {
		t.Fatalf("a session with a second factor: %+v %v", o, err)
	}
}

// TestStepUpLimits: codes are under the per-account limit and the lockout; a code
// another flow used is refused (each step once); a recovery code works and is counted.
func TestStepUpLimits(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	a, b := f.passwordSession(t, "ann@acme.test"), f.passwordSession(t, "ann@acme.test")
	code := f.enrolApp(t, u)
	codes, err := f.s.MFA.RegenerateRecoveryCodes(ctx, f.ws, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	up := StepUp{f.s}

	// A sign-in elsewhere spends the next step; the step-up cannot use it again.
	next := code(30 * time.Second)
	if err := f.s.MFA.VerifyTOTP(ctx, f.ws, u.ID, next); err != nil {
		t.Fatal(err)
	}
	if o, err := up.Code(ctx, f.ws, f.client(a), f.entry(t, a), MethodTOTP, next); err != nil || o.Status != Refused || o.Reason != "code_replayed" {
		t.Fatalf("code spent by another flow: %+v %v", o, err)
	}

	f.th.refuse = true
	if o, err := up.Code(ctx, f.ws, f.client(a), f.entry(t, a), "", "123456"); err != nil || o.Status != Throttled || o.RetryAfter != 42*time.Second {
		t.Fatalf("over the per-account limit: %+v %v", o, err)
	}
	f.th.refuse = false

	// A recovery code (by its shape) steps up and is spent.
	o, err := up.Code(ctx, f.ws, f.client(b), f.entry(t, b), "", codes[0])
	if err != nil || o.Status != SignedIn || !o.Recovery || o.RecoveryCodesLeft != 9 || o.Session == nil {
		t.Fatalf("recovery code: %+v %v", o, err)
	}
	if e := f.entry(t, o.Session.Token); !slices.Equal(e.Session.AuthMethods, []string{MethodPassword, MethodRecovery}) {
		t.Fatalf("methods after a recovery code: %v", e.Session.AuthMethods)
	}

	// Five wrong codes (the success above reset the count) lock the account; then even
	// a right code is answered Locked.
	e := f.entry(t, a)
	for i := range 5 {
		if o, err := up.Code(ctx, f.ws, f.client(a), e, "", "000000"); err != nil || o.Status != Refused {
			t.Fatalf("wrong code %d: %+v %v", i, o, err)
		}
	}
	if o, err := up.Code(ctx, f.ws, f.client(a), e, "", code(0)); err != nil || o.Status != Locked {
		t.Fatalf("right code on a locked account: %+v %v", o, err)
	}
	if f.countAudit(t, audit.ActionAccountLocked) != 1 || f.entry(t, a).Subject.MFA {
		t.Fatal("the lock was not audited, or the session stepped up")
	}
}

// TestStepUpPasskey: without passkeys there is no ceremony; a ceremony that does not
// hold is refused and changes nothing. (Real ceremonies run in the browser tests.)
func TestStepUpPasskey(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	pks, err := passkey.New(passkey.Config{Challenges: passkey.NewMemoryChallenges(clock.Real{}), Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	f.s.Passkeys = pks
	u := f.user(t, "ann@acme.test")
	tok := f.passwordSession(t, "ann@acme.test")
	c := f.client(tok)
	c.Site = passkey.Site{Host: "app.test", HTTPS: true}
	up := StepUp{f.s}
	if _, _, err := up.PasskeyBegin(ctx, f.ws, c, f.entry(t, tok)); !errors.Is(err, ErrNoPasskeys) {
		t.Fatalf("begin without passkeys: %v", err)
	}
	if o, err := up.PasskeyFinish(ctx, f.ws, c, f.entry(t, tok), "no-such-ceremony", []byte(`{}`)); err != nil || o.Status != Refused || o.Reason != ReasonMethodNotAllowed {
		t.Fatalf("finish without passkeys: %+v %v", o, err)
	}
	if err := f.ws.Passkeys().AddPasskey(ctx, store.Passkey{ID: "pk1", UserID: u.ID, CredentialID: []byte("cred"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: f.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if opts, ceremony, err := up.PasskeyBegin(ctx, f.ws, c, f.entry(t, tok)); err != nil || len(opts) == 0 || ceremony == "" {
		t.Fatalf("begin: %s %q %v", opts, ceremony, err)
	}
	if o, err := up.PasskeyFinish(ctx, f.ws, c, f.entry(t, tok), "no-such-ceremony", []byte(`{}`)); err != nil || o.Status != Refused || o.Session != nil {
		t.Fatalf("a ceremony that does not hold: %+v %v", o, err)
	}
	if f.entry(t, tok).Subject.MFA || f.countAudit(t, ActionSteppedUp) != 0 {
		t.Fatal("a refused passkey stepped the session up")
	}
}

// TestStepUpByEnrolment: a user without a second factor who enrols one on the way to a
// page that needs it is stepped up by the enrolment; one who had a factor must verify
// that one; a factor the policy does not accept does not count.
func TestStepUpByEnrolment(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	up := StepUp{f.s}

	// No factor before: the new app steps the session up.
	ann := f.user(t, "ann@acme.test")
	tok := f.passwordSession(t, "ann@acme.test")
	f.enrolApp(t, ann)
	o, err := up.Enrolled(ctx, f.ws, f.client(tok), f.entry(t, tok), MethodTOTP)
	if err != nil || o.Status != SignedIn || o.Session == nil {
		t.Fatalf("first factor: %+v %v", o, err)
	}
	if e := f.entry(t, o.Session.Token); !e.Subject.MFA || !slices.Equal(e.Session.AuthMethods, []string{MethodPassword, MethodTOTP}) {
		t.Fatalf("after the enrolment: %v", e.Session.AuthMethods)
	}

	// An app before: a new passkey does not step up a password-only session.
	bob := f.user(t, "bob@acme.test")
	tok = f.passwordSession(t, "bob@acme.test")
	f.enrolApp(t, bob)
	if err := f.ws.Passkeys().AddPasskey(ctx, store.Passkey{ID: "pk-bob", UserID: bob.ID, CredentialID: []byte("cred-bob"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: f.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if o, err := up.Enrolled(ctx, f.ws, f.client(tok), f.entry(t, tok), MethodPasskey); err != nil || o.Status != Refused || o.Reason != ReasonHasSecondFactor || o.Session != nil {
		t.Fatalf("second factor added to a password-only session: %+v %v", o, err)
	}

	// Under "passkeys for admins" (switched on after the admin signed in): an admin's
	// new app does not count; their first passkey does, even with an app from before
	// (the policy did not accept it).
	cat := f.user(t, "cat@acme.test", "admin")
	tok = f.passwordSession(t, "cat@acme.test")
	if err := f.ws.Settings().PutSecuritySettings(ctx, UpdateSettings(store.SecuritySettings{}, false, 0, true, "test", f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	f.enrolApp(t, cat)
	if o, err := up.Enrolled(ctx, f.ws, f.client(tok), f.entry(t, tok), MethodTOTP); err != nil || o.Status != Refused || o.Reason != ReasonMethodNotAllowed {
		t.Fatalf("admin's app under passkeys for admins: %+v %v", o, err)
	}
	if err := f.ws.Passkeys().AddPasskey(ctx, store.Passkey{ID: "pk-cat", UserID: cat.ID, CredentialID: []byte("cred-cat"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: f.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	o, err = up.Enrolled(ctx, f.ws, f.client(tok), f.entry(t, tok), MethodPasskey)
	if err != nil || o.Status != SignedIn || o.Session == nil {
		t.Fatalf("admin's first passkey: %+v %v", o, err)
	}
	if e := f.entry(t, o.Session.Token); !slices.Equal(e.Session.AuthMethods, []string{MethodPassword, MethodPasskey}) {
		t.Fatalf("admin after the passkey: %v", e.Session.AuthMethods)
	}
	if n := f.countAudit(t, ActionSteppedUp); n != 2 {
		t.Fatalf("%d step-ups audited, want 2", n)
	}
}

// TestStepUpWithANewFactorNeedsThePassword: whoever holds only a session cookie must
// not enrol a factor of their own and step up with it. A factor confirmed after the
// session began counts for a step-up only while the session's last proof of the
// password is recent; past that the step-up asks for the password first.
func TestStepUpWithANewFactorNeedsThePassword(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.passwordSession(t, "ann@acme.test")
	f.clk.Advance(DefaultReauthAge + time.Minute)
	code := f.enrolApp(t, u) // confirmed after the session began
	up := StepUp{f.s}
	f.clk.Advance(30 * time.Second)
	if o, err := up.Code(ctx, f.ws, f.client(""), f.entry(t, tok), MethodTOTP, code(0)); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("a stale session stepping up with a factor it just added: %+v %v", o, err)
	}
	if o, err := up.Enrolled(ctx, f.ws, f.client(""), f.entry(t, tok), MethodTOTP); err != nil || o.Status != Refused || o.Reason != ReasonReauthRequired {
		t.Fatalf("a stale session stepping up by its enrolment: %+v %v", o, err)
	}
	if o, err := (Reauth{f.s}).Reauthenticate(ctx, f.ws, f.client(""), f.entry(t, tok), goodPassword); err != nil || o.Status != SignedIn {
		t.Fatalf("re-authentication: %+v %v", o, err)
	}
	if o, err := up.Code(ctx, f.ws, f.client(""), f.entry(t, tok), MethodTOTP, code(0)); err != nil || o.Status != SignedIn {
		t.Fatalf("after the password: %+v %v", o, err)
	}
}
