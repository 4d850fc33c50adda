package authn

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// newPassword is a password the rules accept, other than goodPassword.
const newPassword = "a different but equally adequate passphrase"

// letter is one mail as a recording mailer saw it.
type letter struct {
	tenant, to, kind string
	data             any
}

// postbox is a mailer that hands every mail to the test on a channel, so a test can
// wait for mail queued in the background.
type postbox chan letter

func (p postbox) Notify(_ context.Context, tenant, to, kind string, data any) (string, error) {
	p <- letter{tenant: tenant, to: to, kind: kind, data: data}
	return "m1", nil
}

// next waits for the next mail (failing after a generous timeout, never passing
// without one).
func (p postbox) next(t *testing.T) letter {
	t.Helper()
	select {
	case l := <-p:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no mail was queued within 10 s")
		return letter{}
	}
}

// perAddress is a throttle that allows limit requests per address (as the flow hands
// it over) and refuses the rest.
type perAddress struct {
	mu    sync.Mutex
	limit int
	seen  map[string]int
}

func (p *perAddress) Allow(_ context.Context, _ ratelimit.Class, _, user string) ratelimit.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[user]++
	if p.seen[user] > p.limit {
		return ratelimit.Result{RetryAfter: time.Minute}
	}
	return ratelimit.Result{Allowed: true}
}

// tokenOf returns the token of a mailed link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("link %q: %v", link, err)
	}
	return u.Query().Get("token")
}

// resetLink makes a reset link for u the way RequestReset does in the background.
func (f *flow) resetLink(t *testing.T, u store.User) string {
	t.Helper()
	link, err := (Links{f.s}).SendReset(context.Background(), f.ws, f.client(""), u, audit.Actor{UserID: u.ID, Email: u.Email}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "https://app.test/auth/password/reset?token=") {
		t.Fatalf("link %q", link)
	}
	return tokenOf(t, link)
}

// signsIn tells whether password is u's password now.
func (f *flow) signsIn(t *testing.T, email, password string) bool {
	t.Helper()
	_, err := f.s.Passwords.Check(context.Background(), f.ws, email, password)
	if err != nil && !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("checking %s: %v", email, err)
	}
	return err == nil
}

func (f *flow) records(t *testing.T, action string) []store.AuditRecord {
	t.Helper()
	var out []store.AuditRecord
	for _, r := range f.audited(t) {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// TestResetLinkLifetimes: the spec's numbers (SPEC §6: reset links live 30 minutes;
// invitations a week).
func TestResetLinkLifetimes(t *testing.T) {
	t.Parallel()
	if ResetLinkLifetime != 30*time.Minute || InviteLinkLifetime != 7*24*time.Hour {
		t.Fatalf("reset %v, invite %v", ResetLinkLifetime, InviteLinkLifetime)
	}
}

// TestRequestResetMailsALinkInTheBackground: for an active account the answer comes at
// once and the link follows by mail; the mailed link opens for that user, lives 30
// minutes and sets the password.
func TestRequestResetMailsALinkInTheBackground(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	mail := make(postbox, 8)
	f.s.Mail = mail
	u := f.user(t, "ann@acme.test")
	requested := f.clk.Now()
	o, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), " Ann@Acme.test ")
	if err != nil || o.Status == Throttled {
		t.Fatalf("request: %+v %v", o, err)
	}
	l := mail.next(t)
	pr, ok := l.data.(notify.PasswordReset)
	if l.kind != notify.KindPasswordReset || l.to != u.Email || l.tenant != f.ws.TenantID() || !ok {
		t.Fatalf("mail: %+v", l)
	}
	if pr.UserEmail != u.Email || pr.ByAdmin || pr.RequestedIP != "192.0.2.9" || !pr.ExpiresAt.Equal(requested.Add(30*time.Minute)) ||
		!strings.HasPrefix(pr.ResetURL, "https://app.test/auth/password/reset?token=") {
		t.Fatalf("mail data: %+v", pr)
	}
	tok := tokenOf(t, pr.ResetURL)
	if got, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); err != nil || got.ID != u.ID {
		t.Fatalf("the mailed link: %+v %v", got, err)
	}
	if sent := f.records(t, ActionResetSent); len(sent) != 1 || sent[0].ActorID != u.ID || sent[0].Target != "user:"+u.ID {
		t.Fatalf("sending audited as %+v", sent)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, newPassword); err != nil {
		t.Fatal(err)
	}
	if !f.signsIn(t, u.Email, newPassword) {
		t.Fatal("the new password does not work")
	}
}

// TestRequestResetAnswersAlike: known, unknown, disabled and malformed addresses get
// the same outcome; every request is audited (the ones that lead nowhere as denied,
// with the internal reason), and only the active account gets a link and a mail.
//
// In a synctest bubble: synctest.Wait returns only once the background sending has
// finished, so "no mail" is checked after everything that could send one ran.
func TestRequestResetAnswersAlike(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFlow(t)
		ctx := context.Background()
		mail := make(postbox, 8)
		f.s.Mail = mail
		ann := f.user(t, "ann@acme.test")
		dis := f.user(t, "dis@acme.test")
		if err := f.ws.Users().SetStatus(ctx, dis.ID, store.UserDisabled); err != nil {
			t.Fatal(err)
		}
		known, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), "ann@acme.test")
		if err != nil || known.Status == Throttled {
			t.Fatalf("known address: %+v %v", known, err)
		}
		for _, email := range []string{"ghost@acme.test", "dis@acme.test", "not an address"} {
			o, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), email)
			if err != nil || !reflect.DeepEqual(o, known) {
				t.Errorf("%s: %+v %v, want the answer for a known address %+v", email, o, err, known)
			}
		}
		synctest.Wait()
		if len(mail) != 1 {
			t.Fatalf("%d mails queued, want 1", len(mail))
		}
		if l := <-mail; l.kind != notify.KindPasswordReset || l.to != ann.Email {
			t.Fatalf("mail: %+v", l)
		}
		if sent := f.records(t, ActionResetSent); len(sent) != 1 || sent[0].Target != "user:"+ann.ID {
			t.Fatalf("links sent: %+v", sent)
		}
		reqs := f.records(t, ActionResetRequested)
		if len(reqs) != 4 {
			t.Fatalf("%d requests audited, want 4", len(reqs))
		}
		want := []struct{ outcome, actor, target, reason string }{
			{audit.Success, ann.ID, "user:" + ann.ID, ""},
			{audit.Denied, "", "", ReasonUnknownUser},
			{audit.Denied, dis.ID, "user:" + dis.ID, ReasonNotActive},
			{audit.Denied, "", "", ReasonUnknownUser},
		}
		for i, w := range want {
			r := reqs[i]
			if r.Outcome != w.outcome || r.ActorID != w.actor || r.Target != w.target || r.Details["reason"] != w.reason || r.IP != "192.0.2.9" {
				t.Errorf("request %d audited as %+v, want %+v", i, r, w)
			}
		}
	})
}

// TestRequestResetThrottledPerAddress: past the per-address limit the answer is
// Throttled (for the address however it is spelt), nothing is audited or sent, and
// other addresses are not affected.
func TestRequestResetThrottledPerAddress(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFlow(t)
		ctx := context.Background()
		mail := make(postbox, 8)
		f.s.Mail = mail
		f.s.Throttle = &perAddress{limit: 2, seen: map[string]int{}}
		f.user(t, "ann@acme.test")
		for i, email := range []string{"ann@acme.test", "ANN@acme.test "} {
			if o, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), email); err != nil || o.Status == Throttled {
				t.Fatalf("request %d: %+v %v", i, o, err)
			}
		}
		o, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), " Ann@Acme.Test")
		if err != nil || o.Status != Throttled || o.RetryAfter != time.Minute {
			t.Fatalf("third request for the address: %+v %v", o, err)
		}
		if o, err := (Links{f.s}).RequestReset(ctx, f.ws, f.client(""), "bob@acme.test"); err != nil || o.Status == Throttled {
			t.Fatalf("another address: %+v %v", o, err)
		}
		synctest.Wait()
		if n := len(f.records(t, ActionResetRequested)); n != 3 {
			t.Fatalf("%d requests audited, want 3 (not the throttled one)", n)
		}
		if len(mail) != 2 || f.count.m["limited.login"] != 1 {
			t.Fatalf("%d mails, metrics %v", len(mail), f.count.m)
		}
	})
}

// TestResetNeedsThePortalAddress: without a trusted portal address no link can be
// made; nothing is audited as requested.
func TestResetNeedsThePortalAddress(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	c := f.client("")
	c.PortalURL = ""
	if _, err := (Links{f.s}).RequestReset(ctx, f.ws, c, u.Email); !errors.Is(err, ErrNoPortalURL) {
		t.Fatalf("request: %v", err)
	}
	if _, err := (Links{f.s}).SendReset(ctx, f.ws, c, u, audit.CLI, true); !errors.Is(err, ErrNoPortalURL) {
		t.Fatalf("send: %v", err)
	}
	if recs := f.audited(t); len(recs) != 0 || len(f.mail.sent) != 0 {
		t.Fatalf("audited %+v, mailed %v", recs, f.mail.sent)
	}
}

// TestResetLinkWorksOnce: a refused password leaves the link (and the old password)
// as they were; the first good one sets the password, audited and mailed; then the
// link is closed.
func TestResetLinkWorksOnce(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.resetLink(t, u)
	if got, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); err != nil || got.ID != u.ID {
		t.Fatalf("open: %+v %v", got, err)
	}
	var ie *InputError
	for _, weak := range []string{"short", "aaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrs"} {
		if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, weak); !errors.As(err, &ie) || ie.Field != "password" {
			t.Fatalf("password %q: %v", weak, err)
		}
	}
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); err != nil {
		t.Fatalf("link after refused passwords: %v", err)
	}
	if !f.signsIn(t, u.Email, goodPassword) {
		t.Fatal("a refused password changed the password")
	}
	got, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, newPassword)
	if err != nil || got.ID != u.ID {
		t.Fatalf("reset: %+v %v", got, err)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, "yet another adequate passphrase"); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("second use: %v", err)
	}
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("open after use: %v", err)
	}
	if f.signsIn(t, u.Email, goodPassword) || !f.signsIn(t, u.Email, newPassword) {
		t.Fatal("the old password still works, or the new one does not")
	}
	resets := f.records(t, ActionReset)
	if len(resets) != 1 || resets[0].ActorID != u.ID || resets[0].Target != "user:"+u.ID || resets[0].Outcome != audit.Success {
		t.Fatalf("reset audited as %+v", resets)
	}
	if len(f.mail.sent) != 2 || f.mail.sent[0] != notify.KindPasswordReset+" "+u.Email || f.mail.sent[1] != notify.KindPasswordChanged+" "+u.Email {
		t.Fatalf("mail %v", f.mail.sent)
	}
	for _, bad := range []string{"", "x", strings.Repeat("a", 129)} {
		if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, bad); !errors.Is(err, ErrLinkClosed) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

// TestResetEndsEverySessionAndLiftsTheLock: after a reset no session of the user is
// accepted any more (cached ones included, half-done sign-ins too), other users keep
// theirs, and a lockout is lifted.
func TestResetEndsEverySessionAndLiftsTheLock(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	bob := f.user(t, "bob@acme.test")
	var tokens []string
	for range 2 {
		tok, _, err := f.s.Sessions.Create(ctx, f.ws, u, []string{MethodPassword}, "192.0.2.1", "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, tok); err != nil { // cached now
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	pending, _, err := f.s.Sessions.CreatePending(ctx, f.ws, u, []string{MethodPassword}, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	bobs, _, err := f.s.Sessions.Create(ctx, f.ws, bob, []string{MethodPassword}, "192.0.2.2", "test")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if o, err := f.s.Password(ctx, f.ws, f.client(""), u.Email, "wrong password"); err != nil || o.Status != Refused {
			t.Fatalf("wrong password: %+v %v", o, err)
		}
	}
	if o, _ := f.s.Password(ctx, f.ws, f.client(""), u.Email, goodPassword); o.Status != Locked {
		t.Fatalf("not locked: %+v", o)
	}
	tok := f.resetLink(t, u)
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, newPassword); err != nil {
		t.Fatal(err)
	}
	for i, s := range tokens {
		if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, s); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("session %d after the reset: %v", i, err)
		}
	}
	if _, err := f.s.Sessions.ValidatePending(ctx, f.ws, f.ws.Slug, pending); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("half-done sign-in after the reset: %v", err)
	}
	if _, err := f.s.Sessions.Validate(ctx, f.ws, f.ws.Slug, bobs); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	if r := f.records(t, ActionReset); len(r) != 1 || r[0].Details["sessions_ended"] != "3" {
		t.Fatalf("reset audited as %+v", r)
	}
	o, err := f.s.Password(ctx, f.ws, f.client(""), u.Email, newPassword)
	if err != nil || o.Status != SignedIn {
		t.Fatalf("signing in after the reset: %+v %v", o, err)
	}
}

// TestResetLinkExpiresAndIsReplaced: a link works until 30 minutes have passed; a
// newer link closes the older; a reset link is no invitation.
func TestResetLinkExpiresAndIsReplaced(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.resetLink(t, u)
	f.clk.Advance(ResetLinkLifetime - time.Second)
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	f.clk.Advance(2 * time.Second)
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, newPassword); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("reset after expiry: %v", err)
	}
	older, newer := f.resetLink(t, u), f.resetLink(t, u)
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, older); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("older link after a newer one: %v", err)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), older, newPassword); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("reset with the older link: %v", err)
	}
	if _, err := (Links{f.s}).InviteOpen(ctx, f.ws, newer); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("a reset link as an invitation: %v", err)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), newer, newPassword); err != nil {
		t.Fatalf("newest link: %v", err)
	}
	if !f.signsIn(t, u.Email, newPassword) {
		t.Fatal("the new password does not work")
	}
}

// TestDisabledUsersResetLinkIsClosed: a link made before the account was disabled
// does nothing afterwards.
func TestDisabledUsersResetLinkIsClosed(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.resetLink(t, u)
	if err := f.ws.Users().SetStatus(ctx, u.ID, store.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := (Links{f.s}).ResetOpen(ctx, f.ws, tok); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("open: %v", err)
	}
	if _, err := (Links{f.s}).ResetPassword(ctx, f.ws, f.client(""), tok, newPassword); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("reset: %v", err)
	}
	if stored, err := f.ws.Users().UserByID(ctx, u.ID); err != nil || stored.PasswordHash != u.PasswordHash {
		t.Fatalf("password changed: %v", err)
	}
	if len(f.records(t, ActionReset)) != 0 {
		t.Fatal("a reset was audited")
	}
}

// TestConcurrentResetsWithOneLink: two resets with the same link, each looking at the
// link only together with the other (the interleaving check-then-act loses): exactly
// one succeeds, and its password is the one that works.
func TestConcurrentResetsWithOneLink(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	u := f.user(t, "ann@acme.test")
	tok := f.resetLink(t, u)
	held := &pairedChecks{OneTimeTokenStore: f.ws.OneTimeTokens()}
	ws := store.Workspace{Tenant: f.ws.Tenant, TenantHandle: tokenHandle{TenantHandle: f.ws.TenantHandle, tokens: held}}
	passwords := []string{newPassword, "yet another adequate passphrase"}
	errs := make([]error, len(passwords))
	var wg sync.WaitGroup
	for i, p := range passwords {
		wg.Go(func() {
			defer held.leave()
			_, errs[i] = (Links{f.s}).ResetPassword(ctx, ws, f.client(""), tok, p)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Fatal("both resets succeeded")
		case !errors.Is(err, ErrLinkClosed):
			t.Fatalf("reset %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no reset succeeded")
	}
	if !f.signsIn(t, u.Email, passwords[won]) || f.signsIn(t, u.Email, passwords[1-won]) {
		t.Fatal("the stored password is not the winner's")
	}
	if n := len(f.records(t, ActionReset)); n != 1 {
		t.Fatalf("%d resets audited", n)
	}
}

// pairedChecks lets CheckOneTimeToken calls through in pairs: each waits for a call
// from the other reset, so both look at the link before either goes on — unless the
// other has finished (leave), when nobody is left to wait for.
type pairedChecks struct {
	store.OneTimeTokenStore
	mu      sync.Mutex
	waiting chan struct{} // a call waiting for its partner; closed when it may go on
	left    bool
}

func (p *pairedChecks) CheckOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (string, error) {
	s, err := p.OneTimeTokenStore.CheckOneTimeToken(ctx, purpose, hash, now)
	p.mu.Lock()
	switch {
	case p.left:
		p.mu.Unlock()
	case p.waiting == nil:
		ch := make(chan struct{})
		p.waiting = ch
		p.mu.Unlock()
		<-ch
	default:
		close(p.waiting)
		p.waiting = nil
		p.mu.Unlock()
	}
	return s, err
}

// leave records that one of the resets has finished, releasing a call that waits.
func (p *pairedChecks) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left = true
	if p.waiting != nil {
		close(p.waiting)
		p.waiting = nil
	}
}

type tokenHandle struct {
	store.TenantHandle
	tokens store.OneTimeTokenStore
}

func (h tokenHandle) OneTimeTokens() store.OneTimeTokenStore { return h.tokens }
