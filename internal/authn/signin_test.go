package authn

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// Small fakes for what the flows hand on: mail, the per-account throttle, metrics.

type mailbox struct {
	mu   sync.Mutex
	sent []string // "kind to"
}

func (m *mailbox) Notify(_ context.Context, _, to, kind string, _ any) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, kind+" "+to)
	return "m1", nil
}

type throttle struct{ refuse bool }

func (th *throttle) Allow(context.Context, ratelimit.Class, string, string) ratelimit.Result {
	if th.refuse {
		return ratelimit.Result{RetryAfter: 42 * time.Second}
	}
	return ratelimit.Result{Allowed: true}
}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(k string)         { c.mu.Lock(); c.m[k]++; c.mu.Unlock() }
func (c *counts) SignIn(o string)      { c.add("signin." + o) }
func (c *counts) Lockout()             { c.add("lockout") }
func (c *counts) RateLimited(k string) { c.add("limited." + k) }
func (c *counts) Anomaly(k string)     { c.add("anomaly." + k) }

type flow struct {
	s     *SignIn
	st    store.Store
	ws    store.Workspace
	clk   *clock.Fake
	mail  *mailbox
	th    *throttle
	count *counts
}

func newFlow(t *testing.T) *flow {
	t.Helper()
	st := testdb.Store(t)
	clk := clock.NewFake(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &flow{st: st, ws: testdb.Workspace(t, st, "acme"), clk: clk, mail: &mailbox{}, th: &throttle{}, count: &counts{m: map[string]int{}}}
	h := &identity.Hasher{Cost: 4}
	f.s = &SignIn{
		Passwords: &Passwords{Hasher: h, Clock: clk, Lockout: &Lockout{KV: newCounters(clk), Policy: DefaultLockout}},
		MFA:       &MFA{Cipher: cipher, Clock: clk}, Sessions: session.NewManager(st, clk, session.Options{}),
		Audit: audit.NewWriter(clk), Mail: f.mail, Throttle: f.th, Metrics: f.count, Hasher: h, Clock: clk,
	}
	return f
}

func (f *flow) user(t *testing.T, email string, roles ...string) store.User {
	t.Helper()
	if roles == nil {
		roles = []string{"member"}
	}
	u, err := PrepareUser(NewUser{Email: email, Password: goodPassword, Roles: roles}, f.s.Hasher, identity.PasswordRules{}, f.clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ws.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *flow) client(token string) Client {
	return Client{Origin: audit.Origin{IP: "192.0.2.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}, Token: token, PortalURL: "https://app.test/auth"}
}

func (f *flow) audited(t *testing.T) []store.AuditRecord {
	t.Helper()
	recs, err := f.ws.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestPasswordOutcomes: each answer of the password step is a status, audited before
// it is returned; only a success carries a session.
func TestPasswordOutcomes(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	o, err := f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", "wrong password")
	if err != nil || o.Status != Refused || o.Session != nil || o.Reason != ReasonWrongPassword {
		t.Fatalf("wrong password: %+v %v", o, err)
	}
	o, err = f.s.Password(ctx, f.ws, f.client(""), "ANN@acme.test", goodPassword)
	if err != nil || o.Status != SignedIn || o.Session == nil || o.Session.Pending || o.User.ID != u.ID || o.DeviceID == "" {
		t.Fatalf("right password: %+v %v", o, err)
	}
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, o.Session.Token); err != nil {
		t.Fatalf("the issued session: %v", err)
	}
	recs := f.audited(t)
	if len(recs) != 2 || recs[0].Action != audit.ActionLoginFailure || recs[0].Details["reason"] != ReasonWrongPassword ||
		recs[1].Action != audit.ActionLoginSuccess || recs[1].SessionID == "" || recs[1].IP != "192.0.2.9" {
		t.Fatalf("audit: %+v", recs)
	}
	if f.count.m["signin.failure"] != 1 || f.count.m["signin.success"] != 1 {
		t.Fatalf("metrics: %v", f.count.m)
	}
	// The first sign-in from a device is recorded; the next from the same device is not unusual.
	if last, err := f.ws.LoginHistory().LastLoginEvent(ctx, u.ID); err != nil || last.DeviceLabel != "Firefox on Linux" {
		t.Fatalf("history: %+v %v", last, err)
	}
	f.th.refuse = true
	if o, err := f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword); err != nil || o.Status != Throttled || o.RetryAfter != 42*time.Second {
		t.Fatalf("over the per-account limit: %+v %v", o, err)
	}
}

// TestFailuresLockAndMail: the fifth failure locks, is audited as a lock and mailed to
// the account's owner; unknown addresses lock alike but nobody is mailed.
func TestFailuresLockAndMail(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	f.user(t, "ann@acme.test")
	for _, email := range []string{"ann@acme.test", "ghost@acme.test"} {
		for range 5 {
			if o, err := f.s.Password(ctx, f.ws, f.client(""), email, "wrong password"); err != nil || o.Status != Refused {
				t.Fatalf("%s: %+v %v", email, o, err)
			}
		}
		if o, _ := f.s.Password(ctx, f.ws, f.client(""), email, goodPassword); o.Status != Locked || o.RetryAfter != 15*time.Minute {
			t.Fatalf("%s after five failures: %+v", email, o)
		}
	}
	if len(f.mail.sent) != 1 || f.mail.sent[0] != "account_locked ann@acme.test" || f.count.m["lockout"] != 2 {
		t.Fatalf("mail %v, metrics %v", f.mail.sent, f.count.m)
	}
	locks := 0
	for _, r := range f.audited(t) {
		if r.Action == audit.ActionAccountLocked {
			locks++
		}
	}
	if locks != 2 {
		t.Fatalf("%d locks audited", locks)
	}
}

// TestSecondFactorStep: a password leaves a pending session that grants nothing; the
// code completes it with a new session; a wrong or replayed code is refused and counts
// towards the lockout; without a pending sign-in there is nothing to complete.
func TestSecondFactorStep(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	k, err := f.s.MFA.BeginTOTP(ctx, f.ws, u, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	code := func() string { c, _ := otptotp.GenerateCode(k.Secret, f.clk.Now()); return c }
	if _, err := f.s.MFA.ConfirmTOTP(ctx, f.ws, u.ID, code()); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	if o, err := f.s.SecondFactor(ctx, f.ws, f.client(""), "", code()); err != nil || o.Status != NoPendingSignIn {
		t.Fatalf("without a pending sign-in: %+v %v", o, err)
	}
	o, err := f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword)
	if err != nil || o.Status != SecondFactorDue || o.Session == nil || !o.Session.Pending || len(o.Methods) == 0 {
		t.Fatalf("password step: %+v %v", o, err)
	}
	pending := o.Session.Token
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, pending); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("a pending session is a session: %v", err)
	}
	lastLogin := func() time.Time {
		stored, err := f.ws.Users().UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return stored.LastLoginAt
	}
	if at := lastLogin(); !at.IsZero() {
		t.Fatalf("the password step alone recorded a sign-in at %v", at)
	}
	if o, err := f.s.SecondFactor(ctx, f.ws, f.client(pending), "", "123456"); err != nil || o.Status != Refused {
		t.Fatalf("wrong code: %+v %v", o, err)
	}
	good := code()
	o, err = f.s.SecondFactor(ctx, f.ws, f.client(pending), "", good)
	if err != nil || o.Status != SignedIn || o.Session == nil || o.Session.Pending {
		t.Fatalf("right code: %+v %v", o, err)
	}
	e, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, o.Session.Token)
	if err != nil || len(e.Session.AuthMethods) != 2 || e.Session.AuthMethods[1] != MethodTOTP {
		t.Fatalf("full session: %+v %v", e, err)
	}
	if at := lastLogin(); !at.Equal(e.Session.CreatedAt) {
		t.Fatalf("last sign-in %v, want the completed sign-in at %v", at, e.Session.CreatedAt)
	}
	if _, err := f.s.Sessions.ValidatePending(ctx, f.ws, f.ws.Slug, pending); err == nil {
		t.Fatal("the pending session outlived the sign-in")
	}
	// The same code once more, from a new password step: replayed, refused.
	o, _ = f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword)
	if o2, err := f.s.SecondFactor(ctx, f.ws, f.client(o.Session.Token), MethodTOTP, good); err != nil || o2.Status != Refused || o2.Reason != "code_replayed" {
		t.Fatalf("replayed code: %+v %v", o2, err)
	}
}

// TestEnrolmentRequiredAndGrace: under "require 2FA", a member without a factor is
// reminded during the grace period and may only enrol after it.
func TestEnrolmentRequiredAndGrace(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	f.user(t, "ann@acme.test")
	if err := f.ws.Settings().PutSecuritySettings(ctx, UpdateSettings(store.SecuritySettings{}, true, 7*24*time.Hour, false, "test", f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	o, err := f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword)
	if err != nil || o.Status != SignedIn || !o.RemindBy.Equal(f.clk.Now().Add(7*24*time.Hour)) {
		t.Fatalf("during the grace period: %+v %v", o, err)
	}
	f.clk.Advance(8 * 24 * time.Hour)
	o, err = f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword)
	if err != nil || o.Status != EnrolmentRequired || o.Session == nil || !o.Session.Pending {
		t.Fatalf("after the grace period: %+v %v", o, err)
	}
	pending, _ := f.s.Pending(ctx, f.ws, f.client(o.Session.Token))
	if ok, err := f.s.MayEnrol(ctx, f.ws, pending, KindTOTP); err != nil || !ok {
		t.Fatalf("may enrol an app: %v %v", ok, err)
	}
}

// TestOverloadedAttemptsAreHeld: an attempt over the hashing budget is refused without
// a hash, after the hold (a client in a tight loop is slowed down).
func TestOverloadedAttemptsAreHeld(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFlow(t)
		f.s.OverloadHold = time.Second
		f.s.Passwords.Gate = NewGate(GateConfig{Procs: 1, Share: 0.01, Burst: time.Second, Estimate: time.Second, Measure: wallTime})
		if err := f.s.Passwords.Gate.Do(context.Background(), hash(time.Second)); err != nil { // the budget is spent
			t.Fatal(err)
		}
		start := time.Now()
		o, err := f.s.Password(context.Background(), f.ws, f.client(""), "ann@acme.test", goodPassword)
		if err != nil || o.Status != Overloaded || o.RetryAfter < time.Second {
			t.Fatalf("over budget: %+v %v", o, err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("answered after %v, want the 1 s hold", d)
		}
		if f.s.Passwords.Gate.Evaluated() != 1 || f.count.m["signin.overloaded"] != 1 {
			t.Fatalf("%d hashes, metrics %v", f.s.Passwords.Gate.Evaluated(), f.count.m)
		}
	})
}

// TestSignOutRevokes: sign-out revokes the session (audited) and fails, rather than
// reporting success, when the revocation cannot be stored.
func TestSignOutRevokes(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	f.user(t, "ann@acme.test")
	o, _ := f.s.Password(ctx, f.ws, f.client(""), "ann@acme.test", goodPassword)
	if err := f.s.SignOut(ctx, f.ws, f.client(o.Session.Token)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, o.Session.Token); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("after sign-out: %v", err)
	}
	recs := f.audited(t)
	if recs[len(recs)-1].Action != audit.ActionLogout {
		t.Fatalf("last record %s", recs[len(recs)-1].Action)
	}
}

// TestSetupNamesTheWorkspaceOnce: the setup link creates the first owner, names the
// workspace and signs the owner in; afterwards every link is closed.
func TestSetupNamesTheWorkspaceOnce(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	renamed := 0
	f.s.Renamed = func() { renamed++ }
	f.s.Rules = identity.PasswordRules{MinLength: 15}
	tok, err := IssueSetupToken(ctx, f.ws, f.clk)
	if err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if _, err := f.s.Setup(ctx, f.ws, f.client(""), tok, SetupForm{Workspace: "Salon Ruby", Email: "o@salon.test", Password: "short"}); !errors.As(err, &ie) || ie.Field != "password" {
		t.Fatalf("short password: %v", err)
	}
	o, err := f.s.Setup(ctx, f.ws, f.client(""), tok, SetupForm{Workspace: " Salon Ruby ", Email: "o@salon.test", Password: goodPassword})
	if err != nil || o.Status != SignedIn || o.Session == nil || renamed != 1 {
		t.Fatalf("setup: %+v %v (renamed %d)", o, err, renamed)
	}
	tn, err := f.st.Tenants().TenantByID(ctx, f.ws.ID)
	if err != nil || tn.Name != "Salon Ruby" {
		t.Fatalf("workspace named %q", tn.Name)
	}
	if open, err := SetupOpen(ctx, f.ws, tok, f.clk); err != nil || open {
		t.Fatalf("link after setup: open %v %v", open, err)
	}
	if _, err := f.s.Setup(ctx, f.ws, f.client(""), tok, SetupForm{Email: "x@salon.test", Password: goodPassword}); !errors.Is(err, ErrSetupClosed) {
		t.Fatalf("second use: %v", err)
	}
}
