package account

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// mailbox records what would be mailed.
type mailbox struct {
	mu   sync.Mutex
	sent []mailed
}

type mailed struct {
	to, kind string
	data     any
}

func (m *mailbox) Notify(_ context.Context, _, to, kind string, data any) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mailed{to, kind, data})
	return "m", nil
}

// last returns the latest message of kind to the address.
func (m *mailbox) last(t *testing.T, to, kind string) any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].to == to && m.sent[i].kind == kind {
			return m.sent[i].data
		}
	}
	t.Fatalf("no %s mail to %s among %+v", kind, to, m.sent)
	return nil
}

// linkToken is the token of the confirmation link last mailed to the address.
func (m *mailbox) linkToken(t *testing.T, to string) string {
	t.Helper()
	d := m.last(t, to, notify.KindEmailChangeConfirm).(notify.EmailChangeConfirm)
	u, err := url.Parse(d.ConfirmURL)
	if err != nil || u.Path != "/auth/settings/email/confirm" || u.Query().Get("token") == "" {
		t.Fatalf("confirmation link %q", d.ConfirmURL)
	}
	return u.Query().Get("token")
}

func emailFixture(t *testing.T) (*fixture, *mailbox, EmailChanges) {
	f := newFixture(t)
	mb := &mailbox{}
	f.svc.Mail = mb
	return f, mb, EmailChanges{Service: f.svc}
}

func withPortal(me Self) Self {
	me.Client.PortalURL = "https://acme.test/auth"
	return me
}

// TestEmailChangeConfirmedFromTheNewAddress: asking mails a link to the new address
// and a notice to the old; opening the link changes nothing; confirming changes the
// address (sign-in with the new one, not the old), records a fulfilled rectification,
// audits the change, keeps the member's session, and spends the link.
func TestEmailChangeConfirmedFromTheNewAddress(t *testing.T) {
	t.Parallel()
	f, mb, ec := emailFixture(t)
	ctx := context.Background()
	me := withPortal(f.me(t, "ann@acme.test", false))
	c, err := ec.Request(ctx, f.ws, me, "  Ann.New@Example.TEST ")
	if err != nil {
		t.Fatal(err)
	}
	if c.NewEmail != "ann.new@example.test" || !c.ExpiresAt.Equal(f.clk.Now().Add(24*time.Hour)) || c.TokenHash != nil {
		t.Fatalf("the change: %+v", c)
	}
	tok := mb.linkToken(t, "ann.new@example.test")
	if n := mb.last(t, "ann@acme.test", notify.KindEmailChangeRequested).(notify.EmailChangeRequested); n.NewEmail != "ann.new@example.test" || n.IP != "192.0.2.1" {
		t.Fatalf("the notice to the old address: %+v", n)
	}

	if d, err := f.svc.DownloadData(ctx, f.ws, me); err != nil || d.PendingEmail == nil || d.PendingEmail.NewEmail != "ann.new@example.test" {
		t.Fatalf("the member's data does not show the pending change: %+v, %v", d.PendingEmail, err)
	}
	for range 2 { // a mail scanner opening the link, then the member
		p, err := ec.Open(ctx, f.ws, tok)
		if err != nil || p.NewEmail != "ann.new@example.test" || p.User.Email != "ann@acme.test" || p.Taken {
			t.Fatalf("Open = %+v, %v", p, err)
		}
	}
	if u, _ := f.ws.Users().UserByID(ctx, me.Session.User.ID); u.Email != "ann@acme.test" {
		t.Fatalf("opening the link changed the address to %s", u.Email)
	}

	u, err := ec.Confirm(ctx, f.ws, authn.Client{}, tok)
	if err != nil || u.Email != "ann.new@example.test" {
		t.Fatalf("Confirm = %+v, %v", u, err)
	}
	if _, err := f.svc.Passwords.Check(ctx, f.ws, "ann.new@example.test", pw); err != nil {
		t.Errorf("signing in with the new address: %v", err)
	}
	if _, err := f.svc.Passwords.Check(ctx, f.ws, "ann@acme.test", pw); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Errorf("signing in with the old address: %v", err)
	}
	if _, err := f.sessions.Validate(ctx, f.ws, f.ws.Slug, me.Client.Token); err != nil {
		t.Errorf("the member's session after the change: %v", err)
	}
	rs, _ := f.svc.MyRequests(ctx, f.ws, me) // the rectification, and the access of the download
	i := slices.IndexFunc(rs, func(r store.PrivacyRequest) bool { return r.Kind == store.RequestRectification })
	if len(rs) != 2 || i < 0 || rs[i].Status != store.RequestFulfilled {
		t.Fatalf("requests after the change: %+v", rs)
	}
	recs, _ := f.ws.Audit().ListAudit(ctx, 0, 100)
	last := recs[len(recs)-1]
	if last.Action != audit.ActionEmailChanged || last.ActorID != u.ID || last.Details["from"] != "ann@acme.test" ||
		last.Details["to"] != "ann.new@example.test" || last.Details["request"] != rs[i].ID {
		t.Errorf("the audit record: %+v", last)
	}
	if !slices.Contains(f.actions(t), audit.ActionEmailChangeRequested) {
		t.Errorf("the request is not audited: %v", f.actions(t))
	}
	if _, err := ec.Confirm(ctx, f.ws, authn.Client{}, tok); !errors.Is(err, authn.ErrLinkClosed) {
		t.Errorf("the link used twice: %v", err)
	}
	if _, err := f.ws.EmailChanges().EmailChangeOf(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pending change outlived its confirmation: %v", err)
	}
}

// TestEmailChangeTakenAddress: asking for an address another member has gets the
// same answer and mails as a free one (nobody learns who is a member); confirming is
// refused with ErrEmailTaken and the address stays. A deleted member's address is
// taken too.
func TestEmailChangeTakenAddress(t *testing.T) {
	t.Parallel()
	f, mb, ec := emailFixture(t)
	ctx := context.Background()
	me := withPortal(f.me(t, "ann@acme.test", false))
	f.me(t, "bob@acme.test", false)
	gone := f.me(t, "gus@acme.test", false)
	if err := f.ws.Users().DeleteUser(ctx, gone.Session.User.ID, f.clk.Now()); err != nil {
		t.Fatal(err)
	}
	for _, taken := range []string{"bob@acme.test", "gus@acme.test"} {
		if _, err := ec.Request(ctx, f.ws, me, taken); err != nil {
			t.Fatalf("asking for %s: %v (the answer must not tell it is taken)", taken, err)
		}
		tok := mb.linkToken(t, taken)
		if p, err := ec.Open(ctx, f.ws, tok); err != nil || !p.Taken {
			t.Fatalf("Open of a taken address = %+v, %v", p, err)
		}
		if _, err := ec.Confirm(ctx, f.ws, authn.Client{}, tok); !errors.Is(err, ErrEmailTaken) {
			t.Fatalf("confirming %s: %v, want ErrEmailTaken", taken, err)
		}
		if u, _ := f.ws.Users().UserByID(ctx, me.Session.User.ID); u.Email != "ann@acme.test" {
			t.Fatalf("the address changed to %s", u.Email)
		}
	}
	if _, err := ec.Request(ctx, f.ws, me, "ann@acme.test"); !errors.Is(err, ErrSameEmail) {
		t.Errorf("asking for the same address: %v", err)
	}
	if _, err := ec.Request(ctx, f.ws, me, "not an address"); !errors.Is(err, ErrInvalidEmail) {
		t.Errorf("asking for a non-address: %v", err)
	}
}

// TestEmailChangeLinkEnds: a newer request replaces the older link (which never
// confirms, not even the newer address); a link expires after 24 hours; a new
// password cancels the pending change; asking needs a recent re-authentication and a
// known portal address.
func TestEmailChangeLinkEnds(t *testing.T) {
	t.Parallel()
	f, mb, ec := emailFixture(t)
	ctx := context.Background()
	me := withPortal(f.me(t, "ann@acme.test", false))
	if _, err := ec.Request(ctx, f.ws, me, "first@example.test"); err != nil {
		t.Fatal(err)
	}
	first := mb.linkToken(t, "first@example.test")
	if _, err := ec.Request(ctx, f.ws, me, "second@example.test"); err != nil {
		t.Fatal(err)
	}
	second := mb.linkToken(t, "second@example.test")
	if _, err := ec.Confirm(ctx, f.ws, authn.Client{}, first); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("the replaced link: %v", err)
	}

	f.clk.Advance(24*time.Hour + time.Second)
	if _, err := ec.Open(ctx, f.ws, second); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("a link after 24 hours: %v", err)
	}
	if _, err := ec.Request(ctx, f.ws, me, "third@example.test"); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("asking a day after signing in: %v", err)
	}

	me = withPortal(f.me(t, "cat@acme.test", false))
	if _, err := ec.Request(ctx, f.ws, me, "cat.new@example.test"); err != nil {
		t.Fatal(err)
	}
	tok := mb.linkToken(t, "cat.new@example.test")
	if _, err := f.svc.ChangePassword(ctx, f.ws, me, pw, "a different adequate passphrase", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.Confirm(ctx, f.ws, authn.Client{}, tok); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("the link after a password change: %v", err)
	}
	me.Client.PortalURL = ""
	if _, err := ec.Request(ctx, f.ws, me, "cat.new@example.test"); !errors.Is(err, authn.ErrNoPortalURL) {
		t.Fatalf("asking without a portal address: %v", err)
	}
	for _, bad := range []string{"", "nonsense", string(make([]byte, 200))} {
		if _, err := ec.Confirm(ctx, f.ws, authn.Client{}, bad); !errors.Is(err, authn.ErrLinkClosed) {
			t.Errorf("a made-up token %q: %v", bad, err)
		}
	}
}
