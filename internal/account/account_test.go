package account

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

const pw = "an entirely adequate passphrase"

// forgotten is the real session manager, recording what it was told to forget.
type forgotten struct {
	*session.Manager
	ids []string
}

func (f *forgotten) Forget(id string) { f.ids = append(f.ids, id); f.Manager.Forget(id) }

type fixture struct {
	svc      *Service
	ws       store.Workspace
	sessions *session.Manager
	clk      *clock.Fake
	forgot   *forgotten
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testdb.Store(t)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mfa := &authn.MFA{Cipher: cipher, Clock: clk}
	hasher := &identity.Hasher{Cost: 4}
	passwords := &authn.Passwords{Hasher: hasher, Clock: clk}
	sessions := session.NewManager(st, clk, session.Options{})
	audits := audit.NewWriter(clk)
	signIn := &authn.SignIn{Passwords: passwords, MFA: mfa, Sessions: sessions, Audit: audits, Hasher: hasher, Clock: clk}
	f := &fixture{ws: testdb.Workspace(t, st, "acme"), sessions: sessions, clk: clk, forgot: &forgotten{Manager: sessions}}
	f.svc = &Service{MFA: mfa, Passwords: passwords, SignIn: signIn, Sessions: f.forgot, Audit: audits, Clock: clk}
	return f
}

// me creates a user and a session for them (pending: half signed in).
func (f *fixture) me(t *testing.T, email string, pending bool) Self {
	t.Helper()
	ctx := context.Background()
	u, err := authn.PrepareUser(authn.NewUser{Email: email, Password: pw, Roles: []string{"member"}}, &identity.Hasher{Cost: 4}, identity.PasswordRules{}, f.clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ws.Users().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	create, validate := f.sessions.Create, f.sessions.Validate
	if pending {
		create, validate = f.sessions.CreatePending, f.sessions.ValidatePending
	}
	tok, _, err := create(ctx, f.ws, u, []string{authn.MethodPassword}, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := validate(ctx, f.ws, f.ws.Slug, tok)
	if err != nil {
		t.Fatal(err)
	}
	return Self{Session: e, Client: authn.Client{Origin: audit.Origin{IP: "192.0.2.1"}, Token: tok}}
}

func (f *fixture) actions(t *testing.T) []string {
	t.Helper()
	recs, err := f.ws.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func (f *fixture) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := otptotp.GenerateCode(secret, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMistypedCodeKeepsTheKey: a wrong code during enrolment leaves the key pending and
// shows the same key again (the app the user scanned keeps working); the right code
// turns it on and gives recovery codes once; each step is audited.
func TestMistypedCodeKeepsTheKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	k, err := f.svc.BeginTOTP(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, f.ws, me, "000000"); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	again, err := f.svc.PendingTOTP(ctx, f.ws, me)
	if err != nil || again.Secret != k.Secret {
		t.Fatalf("shown again: %q %v, want the key %q", again.Secret, err, k.Secret)
	}
	e, err := f.svc.ConfirmTOTP(ctx, f.ws, me, f.code(t, k.Secret))
	if err != nil || len(e.RecoveryCodes) != 10 || e.SignIn != nil {
		t.Fatalf("confirm: %+v %v", e, err)
	}
	if _, err := f.svc.PendingTOTP(ctx, f.ws, me); !errors.Is(err, authn.ErrNoTOTP) {
		t.Fatalf("pending after confirmation: %v", err)
	}
	if got := f.actions(t); len(got) != 2 || got[0] != audit.ActionTOTPEnrolStarted || got[1] != audit.ActionTOTPEnrolled {
		t.Fatalf("audited %v", got)
	}
}

// TestForcedEnrolmentCompletesTheSignIn: a pending session that enrols a factor comes
// out signed in — a new full session replaces the pending one.
func TestForcedEnrolmentCompletesTheSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "new@acme.test", true)
	k, err := f.svc.BeginTOTP(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.ConfirmTOTP(ctx, f.ws, me, f.code(t, k.Secret))
	if err != nil || e.SignIn == nil || e.SignIn.Status != authn.SignedIn || e.SignIn.Session == nil || e.SignIn.Session.Pending {
		t.Fatalf("enrolment from a pending session: %+v %v", e, err)
	}
	full, err := f.sessions.Validate(ctx, f.ws, f.ws.Slug, e.SignIn.Session.Token)
	if err != nil || full.Session.AuthMethods[len(full.Session.AuthMethods)-1] != authn.MethodTOTP {
		t.Fatalf("new session: %+v %v", full, err)
	}
	if _, err := f.sessions.ValidatePending(ctx, f.ws, f.ws.Slug, me.Client.Token); err == nil {
		t.Fatal("the pending session still works")
	}
}

// TestSensitiveChangesNeedThePassword: removing the app and making new recovery codes
// need the current password; recovery codes need a second factor to back up.
func TestSensitiveChangesNeedThePassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, f.ws, me, pw); !errors.Is(err, ErrNoSecondFactor) {
		t.Fatalf("codes without a factor: %v", err)
	}
	k, _ := f.svc.BeginTOTP(ctx, f.ws, me)
	if _, err := f.svc.ConfirmTOTP(ctx, f.ws, me, f.code(t, k.Secret)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, f.ws, me, "not my password"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("codes with a wrong password: %v", err)
	}
	if codes, err := f.svc.RegenerateRecoveryCodes(ctx, f.ws, me, pw); err != nil || len(codes) != 10 {
		t.Fatalf("codes: %d %v", len(codes), err)
	}
	if err := f.svc.DisableTOTP(ctx, f.ws, me, "not my password"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("removing the app with a wrong password: %v", err)
	}
	if err := f.svc.DisableTOTP(ctx, f.ws, me, pw); err != nil {
		t.Fatal(err)
	}
	ov, err := f.svc.Security(ctx, f.ws, me)
	if err != nil || ov.Factors.TOTP {
		t.Fatalf("after removing: %+v %v", ov, err)
	}
}

// TestPasskeysOfOthersAreOutOfReach: renaming or deleting another user's passkey is
// "no such passkey"; a name is 1 to 64 characters.
func TestPasskeysOfOthersAreOutOfReach(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ann, bob := f.me(t, "ann@acme.test", false), f.me(t, "bob@acme.test", false)
	pk := store.Passkey{ID: "pk-ann", UserID: ann.Session.User.ID, CredentialID: []byte("cred-ann"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: f.clk.Now()}
	if err := f.ws.Passkeys().AddPasskey(ctx, pk); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RenamePasskey(ctx, f.ws, bob, pk.ID, "Mine now"); !errors.Is(err, ErrNoSuchPasskey) {
		t.Fatalf("renaming another user's passkey: %v", err)
	}
	if err := f.svc.DeletePasskey(ctx, f.ws, bob, pk.ID); !errors.Is(err, ErrNoSuchPasskey) {
		t.Fatalf("deleting another user's passkey: %v", err)
	}
	var ie *authn.InputError
	if err := f.svc.RenamePasskey(ctx, f.ws, ann, pk.ID, "   "); !errors.As(err, &ie) {
		t.Fatalf("empty name: %v", err)
	}
	if err := f.svc.RenamePasskey(ctx, f.ws, ann, pk.ID, "Work laptop"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeletePasskey(ctx, f.ws, ann, pk.ID); err != nil {
		t.Fatal(err)
	}
}

// TestLocationObjectionIsRecorded: the choice is stored, audited, and the session's
// cached user record is dropped so it takes effect at once.
func TestLocationObjectionIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	if err := f.svc.SetLocationProfiling(ctx, f.ws, me, false); err != nil {
		t.Fatal(err)
	}
	u, err := f.ws.Users().UserByID(ctx, me.Session.User.ID)
	if err != nil || !u.NoLocationProfiling {
		t.Fatalf("stored: %+v %v", u, err)
	}
	if len(f.forgot.ids) != 1 || f.forgot.ids[0] != me.Session.Session.ID {
		t.Fatalf("cache told to forget %v", f.forgot.ids)
	}
	if got := f.actions(t); len(got) != 1 || got[0] != audit.ActionPrivacyObjection {
		t.Fatalf("audited %v", got)
	}
}
