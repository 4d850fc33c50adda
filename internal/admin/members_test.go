package admin

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const portal = "https://app.test/auth"

// outbox records the mail the administrator's use cases queue.
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

// crew is the admin fixture with what member administration works with: the real
// session manager, sign-in (for reset links and signing in again) and a mailer.
type crew struct {
	*fixture
	sessions *session.Manager
	signIn   *authn.SignIn
	mail     *outbox
}

func newCrew(t *testing.T) *crew {
	t.Helper()
	f := newFixture(t)
	c := &crew{fixture: f, sessions: session.NewManager(f.st, f.clk, session.Options{}), mail: &outbox{}}
	c.signIn = &authn.SignIn{
		Passwords: &authn.Passwords{Hasher: f.svc.Hasher, Clock: f.clk, Lockout: f.svc.Lockout},
		MFA:       f.svc.MFA, Sessions: c.sessions, Audit: f.svc.Audit, Mail: c.mail,
		Hasher: f.svc.Hasher, Rules: f.svc.Rules, Clock: f.clk,
	}
	f.svc.Sessions, f.svc.Links, f.svc.Mail = c.sessions, authn.Links{SignIn: c.signIn}, c.mail
	return c
}

// member adds a member with role and returns them and how they administer (with a
// session just verified and the portal's address).
func (c *crew) member(t *testing.T, email, role string) (store.User, Admin) {
	t.Helper()
	u, by := c.user(t, email, role)
	by.PortalURL = portal
	return u, by
}

// session signs u in (a session started by the manager, validated once so that it is
// cached, as it would be after a request) and returns its token and id.
func (c *crew) session(t *testing.T, u store.User) (string, string) {
	t.Helper()
	tok, s, err := c.sessions.Create(context.Background(), c.ws, u, []string{authn.MethodPassword}, "192.0.2.50", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !c.live(t, tok) {
		t.Fatal("a new session is not live")
	}
	return tok, s.ID
}

func (c *crew) live(t *testing.T, token string) bool {
	t.Helper()
	_, err := c.sessions.Validate(context.Background(), c.ws, c.ws.Slug, token)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		t.Fatal(err)
	}
	return err == nil
}

func (c *crew) stored(t *testing.T, id string) store.User {
	t.Helper()
	u, err := c.ws.Users().UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (c *crew) actions(t *testing.T) []string {
	t.Helper()
	recs, err := c.ws.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func cliWithPortal() Admin {
	a := CLI()
	a.PortalURL = portal
	return a
}

func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("link %q: %v", link, err)
	}
	return u.Query().Get("token")
}

// TestOnlyOwnersManageOwnersAndAdmins: admins manage members and managers, but make
// no owners or admins and touch no owner or admin (themselves included); members
// administer nothing; owners do all of it.
func TestOnlyOwnersManageOwnersAndAdmins(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	adm, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)
	adm2, _ := c.member(t, "adm2@acme.test", identity.RoleAdmin)
	mem, asMember := c.member(t, "mem@acme.test", identity.RoleMember)
	_, ownerSession := c.session(t, owner)
	ownerTok, _ := c.session(t, owner)
	before := len(c.actions(t))

	for _, role := range []string{identity.RoleOwner, identity.RoleAdmin} {
		if _, err := c.svc.SetRole(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, role); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin making a member %s: %v", role, err)
		}
		if _, _, err := c.svc.Invite(ctx, c.ws, asAdmin, Invitation{Email: "new-" + role + "@acme.test", Role: role}); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin inviting an %s: %v", role, err)
		}
	}
	for _, target := range []store.User{owner, adm2, adm} {
		tg := Target{UserID: target.ID}
		if _, err := c.svc.SetRole(ctx, c.ws, asAdmin, tg, identity.RoleMember); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin demoting %s: %v", target.Email, err)
		}
		want := ErrForbidden
		if target.ID == adm.ID {
			want = ErrSelf // said first: see TestAdminDisablingThemselvesIsTold
		}
		if _, err := c.svc.SetDisabled(ctx, c.ws, asAdmin, tg, true); !errors.Is(err, want) {
			t.Errorf("admin disabling %s: %v", target.Email, err)
		}
		if _, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, tg, ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin signing %s out: %v", target.Email, err)
		}
		if _, err := c.svc.SendPasswordReset(ctx, c.ws, asAdmin, tg); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin resetting the password of %s: %v", target.Email, err)
		}
	}
	if _, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: owner.ID}, ownerSession); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin ending an owner's session: %v", err)
	}
	for _, tg := range []Target{{UserID: mem.ID}, {UserID: owner.ID}} {
		if _, err := c.svc.SetRole(ctx, c.ws, asMember, tg, identity.RoleMember); !errors.Is(err, ErrForbidden) {
			t.Errorf("member changing a role: %v", err)
		}
		if _, err := c.svc.SetDisabled(ctx, c.ws, asMember, tg, true); !errors.Is(err, ErrForbidden) {
			t.Errorf("member disabling: %v", err)
		}
	}
	if _, _, err := c.svc.Invite(ctx, c.ws, asMember, Invitation{Email: "x@acme.test"}); !errors.Is(err, ErrForbidden) {
		t.Errorf("member inviting: %v", err)
	}
	if n := len(c.actions(t)); n != before {
		t.Fatalf("refused actions were audited: %v", c.actions(t)[before:])
	}
	for _, u := range []store.User{owner, adm, adm2, mem} {
		if got := c.stored(t, u.ID); !slices.Equal(got.Roles, u.Roles) || got.Status != store.UserActive {
			t.Errorf("%s changed: %+v", u.Email, got)
		}
	}
	if !c.live(t, ownerTok) {
		t.Fatal("the owner's session ended")
	}

	// Admins manage members and managers.
	if u, err := c.svc.SetRole(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, identity.RoleManager); err != nil || u.Roles[0] != identity.RoleManager {
		t.Fatalf("admin making a member manager: %+v %v", u, err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, identity.RoleMember); err != nil {
		t.Fatalf("admin making a manager member: %v", err)
	}
	// Owners make admins and owners.
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{Email: "MEM@acme.test"}, identity.RoleAdmin); err != nil {
		t.Fatalf("owner making an admin: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: adm2.ID}, identity.RoleOwner); err != nil {
		t.Fatalf("owner making an owner: %v", err)
	}
	if got := c.stored(t, mem.ID).Roles; !slices.Equal(got, []string{identity.RoleAdmin}) {
		t.Fatalf("roles %v", got)
	}
	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	last := recs[len(recs)-1]
	if last.Action != ActionRoleChanged || last.Target != "user:"+adm2.ID || last.Details["role"] != identity.RoleOwner ||
		last.Details["was"] != identity.RoleAdmin || last.ActorID != owner.ID {
		t.Fatalf("audit record: %+v", last)
	}
	var fe *FieldError
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: mem.ID}, "root"); !errors.As(err, &fe) || fe.Field != "role" {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: "no-such-id"}, identity.RoleMember); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown member: %v", err)
	}
}

// TestTheLastOwnerStays: the workspace's last active owner can be neither demoted nor
// disabled (not even by the operator); with a second active owner both are possible;
// nobody disables themselves.
func TestTheLastOwnerStays(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: owner.ID}, identity.RoleAdmin); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("the last owner stepping down: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, CLI(), Target{UserID: owner.ID}, identity.RoleMember); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("the operator demoting the last owner: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, CLI(), Target{UserID: owner.ID}, true); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("the operator disabling the last owner: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: owner.ID}, true); !errors.Is(err, ErrSelf) {
		t.Fatalf("disabling oneself: %v", err)
	}
	if got := c.stored(t, owner.ID); got.Status != store.UserActive || !slices.Equal(got.Roles, []string{identity.RoleOwner}) {
		t.Fatalf("the last owner changed: %+v", got)
	}

	second, asSecond := c.member(t, "second@acme.test", identity.RoleOwner)
	if _, err := c.svc.SetDisabled(ctx, c.ws, asSecond, Target{UserID: second.ID}, true); !errors.Is(err, ErrSelf) {
		t.Fatalf("disabling oneself with another owner about: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: second.ID}, true); err != nil {
		t.Fatalf("disabling the second owner: %v", err)
	}
	// A disabled owner is no owner to fall back on.
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: owner.ID}, identity.RoleAdmin); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("stepping down beside a disabled owner: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: second.ID}, false); err != nil {
		t.Fatalf("enabling the second owner: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, Target{UserID: owner.ID}, identity.RoleAdmin); err != nil {
		t.Fatalf("stepping down beside an active owner: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, asSecond, Target{UserID: owner.ID}, true); err != nil {
		t.Fatalf("disabling the former owner: %v", err)
	}
	if _, err := c.svc.SetRole(ctx, c.ws, CLI(), Target{UserID: second.ID}, identity.RoleAdmin); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("demoting the owner who is left: %v", err)
	}
}

// TestDisablingEndsEverySession: a disabled member's sessions are refused at once
// (cached ones too) and they cannot sign in; re-enabled, they sign in again, but the
// ended sessions stay ended. Other members keep their sessions.
func TestDisablingEndsEverySession(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	bob, _ := c.member(t, "bob@acme.test", identity.RoleMember)
	laptop, _ := c.session(t, mem)
	phone, _ := c.session(t, mem)
	bobs, _ := c.session(t, bob)

	u, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: mem.ID}, true)
	if err != nil || u.Status != store.UserDisabled {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if c.live(t, laptop) || c.live(t, phone) {
		t.Fatal("a session of the disabled member is accepted")
	}
	if !c.live(t, bobs) {
		t.Fatal("another member's session ended")
	}
	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if last := recs[len(recs)-1]; last.Action != ActionUserDisabled || last.Target != "user:"+mem.ID || last.Details["sessions_ended"] != "2" {
		t.Fatalf("audit record: %+v", last)
	}
	if o, err := c.signIn.Password(ctx, c.ws, authn.Client{}, mem.Email, pw); err != nil || o.Status != authn.Refused || o.Session != nil {
		t.Fatalf("a disabled member signing in: %+v %v", o, err)
	}

	// A minute later (the manager refuses any session of the member it reads at the
	// very instant of the revocation, so a fake clock must move on).
	c.clk.Advance(time.Minute)
	if u, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: mem.ID}, false); err != nil || u.Status != store.UserActive {
		t.Fatalf("enable: %+v %v", u, err)
	}
	if c.live(t, laptop) || c.live(t, phone) {
		t.Fatal("re-enabling revived an ended session")
	}
	o, err := c.signIn.Password(ctx, c.ws, authn.Client{}, mem.Email, pw)
	if err != nil || o.Status != authn.SignedIn || o.Session == nil || !c.live(t, o.Session.Token) {
		t.Fatalf("signing in again: %+v %v", o, err)
	}
	if got := c.actions(t); got[len(got)-2] != ActionUserEnabled {
		t.Fatalf("audited %v", got)
	}
}

// TestRevokeSessionsOnlyTheMembers: an administrator ends one session of a member, or
// all of them; a session id of another member (or a revoked or unknown one) is "no
// such session" and ends nothing.
func TestRevokeSessionsOnlyTheMembers(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	bob, _ := c.member(t, "bob@acme.test", identity.RoleMember)
	laptop, laptopID := c.session(t, mem)
	phone, _ := c.session(t, mem)
	bobs, bobsID := c.session(t, bob)
	before := len(c.actions(t))

	if _, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, bobsID); !errors.Is(err, ErrNoSuchSession) {
		t.Fatalf("another member's session: %v", err)
	}
	if _, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, "no-such-id"); !errors.Is(err, ErrNoSuchSession) {
		t.Fatalf("unknown session: %v", err)
	}
	if !c.live(t, bobs) || !c.live(t, laptop) || !c.live(t, phone) || len(c.actions(t)) != before {
		t.Fatal("a refused revocation ended a session or was audited")
	}
	n, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, laptopID)
	if err != nil || n != 1 {
		t.Fatalf("one session: %d %v", n, err)
	}
	if c.live(t, laptop) || !c.live(t, phone) || !c.live(t, bobs) {
		t.Fatal("not exactly the one session ended")
	}
	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if last := recs[len(recs)-1]; last.Action != ActionSessionsRevoked || last.Details["session"] != laptopID || last.Details["count"] != "1" ||
		last.Target != "user:"+mem.ID || last.ActorID != asAdmin.UserID {
		t.Fatalf("audit record: %+v", last)
	}
	if _, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, laptopID); !errors.Is(err, ErrNoSuchSession) {
		t.Fatalf("a revoked session: %v", err)
	}
	if n, err := c.svc.RevokeSessions(ctx, c.ws, asAdmin, Target{UserID: mem.ID}, ""); err != nil || n != 1 {
		t.Fatalf("everywhere: %d %v", n, err)
	}
	if c.live(t, phone) || !c.live(t, bobs) {
		t.Fatal("signing out everywhere ended the wrong sessions")
	}
}

// TestStaleAdministratorMustReauthenticate: every member action from a session whose
// proof of identity is older than the re-authentication age (or unknown) is refused
// and changes nothing; the command line is exempt.
func TestStaleAdministratorMustReauthenticate(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	tok, sid := c.session(t, mem)
	c.clk.Advance(authn.DefaultReauthAge + time.Second)
	before := len(c.actions(t))
	unknown := asOwner
	unknown.Verified = time.Time{}
	tg := Target{UserID: mem.ID}
	for _, by := range []Admin{asOwner, unknown} {
		for name, act := range map[string]func() error{
			"SetRole":           func() error { _, err := c.svc.SetRole(ctx, c.ws, by, tg, identity.RoleAdmin); return err },
			"SetDisabled":       func() error { _, err := c.svc.SetDisabled(ctx, c.ws, by, tg, true); return err },
			"RevokeSessions":    func() error { _, err := c.svc.RevokeSessions(ctx, c.ws, by, tg, ""); return err },
			"RevokeSession":     func() error { _, err := c.svc.RevokeSessions(ctx, c.ws, by, tg, sid); return err },
			"SendPasswordReset": func() error { _, err := c.svc.SendPasswordReset(ctx, c.ws, by, tg); return err },
			"Invite": func() error {
				_, _, err := c.svc.Invite(ctx, c.ws, by, Invitation{Email: "new@acme.test", Mail: true})
				return err
			},
			"Unlock":       func() error { _, err := c.svc.Unlock(ctx, c.ws, by, tg); return err },
			"ResetFactors": func() error { _, err := c.svc.ResetFactors(ctx, c.ws, by, tg); return err },
		} {
			if err := act(); !errors.Is(err, authn.ErrReauthRequired) {
				t.Errorf("%s (verified %v): %v", name, by.Verified, err)
			}
		}
	}
	if got := c.stored(t, mem.ID); got.Status != store.UserActive || got.Roles[0] != identity.RoleMember {
		t.Fatalf("member changed: %+v", got)
	}
	if _, err := c.ws.Users().UserByEmail(ctx, "new@acme.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("invitee created: %v", err)
	}
	if !c.live(t, tok) || len(c.actions(t)) != before || len(c.mail.sent) != 0 {
		t.Fatalf("session live %v, audited %v, mailed %+v", c.live(t, tok), c.actions(t)[before:], c.mail.sent)
	}

	// A longer configured age lets the same session act.
	c.svc.ReauthAge = time.Hour
	if _, err := c.svc.SetRole(ctx, c.ws, asOwner, tg, identity.RoleManager); err != nil {
		t.Fatalf("within a configured hour: %v", err)
	}
	c.svc.ReauthAge = 0
	// The command line has no session to re-authenticate.
	cli := CLI()
	cli.PortalURL = portal
	if _, err := c.svc.SetRole(ctx, c.ws, cli, tg, identity.RoleAdmin); err != nil {
		t.Fatalf("CLI SetRole: %v", err)
	}
	if _, err := c.svc.RevokeSessions(ctx, c.ws, cli, tg, sid); err != nil {
		t.Fatalf("CLI RevokeSessions: %v", err)
	}
	if _, err := c.svc.SendPasswordReset(ctx, c.ws, cli, tg); err != nil {
		t.Fatalf("CLI SendPasswordReset: %v", err)
	}
	if _, _, err := c.svc.Invite(ctx, c.ws, cli, Invitation{Email: "new@acme.test"}); err != nil {
		t.Fatalf("CLI Invite: %v", err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, cli, tg, true); err != nil {
		t.Fatalf("CLI SetDisabled: %v", err)
	}
}

// TestInviteMakesAPasswordlessMemberAndALink: the invitee exists without a password
// and is listed as invited; the link (mailed when asked, always returned) opens for
// them for seven days; inviting again replaces the link; a member with a password
// cannot be invited; without the portal's address nothing happens.
func TestInviteMakesAPasswordlessMemberAndALink(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	adm, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)

	invited := c.clk.Now()
	u, link, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: " New@Acme.test ", Name: "New Person", Role: identity.RoleManager, Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "new@acme.test" || u.PasswordHash != "" || u.DisplayName != "New Person" || !slices.Equal(u.Roles, []string{identity.RoleManager}) ||
		!strings.HasPrefix(link, portal+"/invite?token=") {
		t.Fatalf("invited %+v with %q", u, link)
	}
	if got := c.stored(t, u.ID); got.PasswordHash != "" || got.Status != store.UserActive {
		t.Fatalf("stored %+v", got)
	}
	if len(c.mail.sent) != 1 || c.mail.sent[0].kind != notify.KindInvite || c.mail.sent[0].to != u.Email {
		t.Fatalf("mail: %+v", c.mail.sent)
	}
	inv, ok := c.mail.sent[0].data.(notify.Invite)
	if !ok || inv.AcceptURL != link || inv.InviterEmail != owner.Email || inv.InviteeEmail != u.Email || inv.Role != identity.RoleManager ||
		!inv.ExpiresAt.Equal(invited.Add(7*24*time.Hour)) {
		t.Fatalf("mail data: %+v", c.mail.sent[0].data)
	}
	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if last := recs[len(recs)-1]; last.Action != ActionUserInvited || last.Target != "user:"+u.ID || last.Details["role"] != identity.RoleManager ||
		last.Details["mailed"] != "true" || last.ActorID != owner.ID {
		t.Fatalf("audit record: %+v", last)
	}
	first := linkToken(t, link)
	if got, err := (authn.Links{SignIn: c.signIn}).InviteOpen(ctx, c.ws, first); err != nil || got.ID != u.ID {
		t.Fatalf("open: %+v %v", got, err)
	}
	list, err := c.svc.Members(ctx, c.ws, asOwner)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.Invited != (m.User.ID == u.ID) {
			t.Errorf("%s listed as invited: %v", m.User.Email, m.Invited)
		}
	}

	// Inviting again (without mail) replaces the link.
	c.clk.Advance(time.Hour)
	asAdmin.Verified = c.clk.Now()
	again, link2, err := c.svc.Invite(ctx, c.ws, asAdmin, Invitation{Email: "new@acme.test", Role: identity.RoleManager})
	if err != nil || again.ID != u.ID || link2 == link {
		t.Fatalf("again: %+v %q %v", again, link2, err)
	}
	if len(c.mail.sent) != 1 {
		t.Fatalf("mailed without being asked: %+v", c.mail.sent[1:])
	}
	if _, err := (authn.Links{SignIn: c.signIn}).InviteOpen(ctx, c.ws, first); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("the replaced link: %v", err)
	}
	second := linkToken(t, link2)
	c.clk.Advance(7*24*time.Hour - time.Second)
	if _, err := (authn.Links{SignIn: c.signIn}).InviteOpen(ctx, c.ws, second); err != nil {
		t.Fatalf("just before a week: %v", err)
	}
	c.clk.Advance(2 * time.Second)
	if _, err := (authn.Links{SignIn: c.signIn}).InviteOpen(ctx, c.ws, second); !errors.Is(err, authn.ErrLinkClosed) {
		t.Fatalf("after a week: %v", err)
	}

	// Accepting a fresh invitation makes a member, who cannot be invited any more.
	if _, _, err := c.svc.Invite(ctx, c.ws, CLI(), Invitation{Email: "new@acme.test", Role: identity.RoleManager, Mail: true}); !errors.Is(err, authn.ErrNoPortalURL) {
		t.Fatalf("the CLI inviting without the portal's address: %v", err)
	}
	cli := CLI()
	cli.PortalURL = portal
	_, link3, err := c.svc.Invite(ctx, c.ws, cli, Invitation{Email: "new@acme.test", Role: identity.RoleManager, Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if inv := c.mail.sent[len(c.mail.sent)-1].data.(notify.Invite); inv.InviterEmail != "the operator" {
		t.Fatalf("the CLI's invitation names %q", inv.InviterEmail)
	}
	if o, err := (authn.Links{SignIn: c.signIn}).AcceptInvite(ctx, c.ws, authn.Client{}, linkToken(t, link3), "", pw); err != nil || o.Status != authn.SignedIn {
		t.Fatalf("accept: %+v %v", o, err)
	}
	asOwner.Verified = c.clk.Now()
	for _, email := range []string{"new@acme.test", adm.Email} {
		if _, _, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: email}); !errors.Is(err, ErrAlreadyMember) {
			t.Errorf("inviting %s: %v", email, err)
		}
	}

	noPortal := asOwner
	noPortal.PortalURL = ""
	if _, _, err := c.svc.Invite(ctx, c.ws, noPortal, Invitation{Email: "other@acme.test"}); !errors.Is(err, authn.ErrNoPortalURL) {
		t.Fatalf("without the portal's address: %v", err)
	}
	if _, err := c.ws.Users().UserByEmail(ctx, "other@acme.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("created without a link: %v", err)
	}
	var ie *authn.InputError
	if _, _, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: "not an address"}); !errors.As(err, &ie) || ie.Field != "email" {
		t.Fatalf("bad address: %v", err)
	}
}

// TestReinviteRespectsRoles: an invitation still pending for an owner or admin is an
// owner's business: an admin's invitation for the same address neither replaces the
// owner's link nor passes as an invitation to a lesser role. Re-inviting gives the
// role asked for now.
func TestReinviteRespectsRoles(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)
	for _, role := range []string{identity.RoleOwner, identity.RoleAdmin} {
		email := "future-" + role + "@acme.test"
		u, link, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: email, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.svc.Invite(ctx, c.ws, asAdmin, Invitation{Email: email, Role: identity.RoleMember, Mail: true}); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin re-inviting a future %s: %v", role, err)
		}
		if _, err := (authn.Links{SignIn: c.signIn}).InviteOpen(ctx, c.ws, linkToken(t, link)); err != nil {
			t.Errorf("the owner's link for the future %s: %v", role, err)
		}
		if got := c.stored(t, u.ID); !slices.Equal(got.Roles, []string{role}) {
			t.Errorf("roles %v", got.Roles)
		}
	}
	if len(c.mail.sent) != 0 {
		t.Fatalf("mailed %+v", c.mail.sent)
	}
	// Whoever may manage the invitee re-invites them with the role asked for now: the
	// account, the mail and the record agree on it.
	for _, re := range []struct {
		by         Admin
		email, was string
		role       string
	}{
		{asOwner, "future-admin@acme.test", identity.RoleAdmin, identity.RoleMember},
		{asAdmin, "future-admin@acme.test", identity.RoleMember, identity.RoleManager},
	} {
		u, _, err := c.svc.Invite(ctx, c.ws, re.by, Invitation{Email: re.email, Role: re.role, Mail: true})
		if err != nil || !slices.Equal(u.Roles, []string{re.role}) || !slices.Equal(c.stored(t, u.ID).Roles, []string{re.role}) {
			t.Fatalf("re-inviting a future %s as %s: %+v %v", re.was, re.role, u, err)
		}
		if inv := c.mail.sent[len(c.mail.sent)-1].data.(notify.Invite); inv.Role != re.role {
			t.Fatalf("the mail says %q", inv.Role)
		}
		recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
		if last := recs[len(recs)-1]; last.Action != ActionUserInvited || last.Details["role"] != re.role {
			t.Fatalf("audit record: %+v", last)
		}
	}
	// A workspace's only owner, invited by the operator, stays owner when re-invited.
	solo := newCrew(t)
	first, _, err := solo.svc.Invite(ctx, solo.ws, cliWithPortal(), Invitation{Email: "first@acme.test", Role: identity.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := solo.svc.Invite(ctx, solo.ws, cliWithPortal(), Invitation{Email: "first@acme.test", Role: identity.RoleMember}); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("re-inviting the only owner as a member: %v", err)
	}
	if got := solo.stored(t, first.ID).Roles; !slices.Equal(got, []string{identity.RoleOwner}) {
		t.Fatalf("roles %v", got)
	}
}

// TestEveryMemberActionIsAudited: each member action leaves one record naming the
// action, who did it (session and address) and whom it concerned.
func TestEveryMemberActionIsAudited(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	_, sid := c.session(t, mem)
	tg := Target{UserID: mem.ID}
	before := len(c.actions(t))
	steps := []func() error{
		func() error { _, err := c.svc.SetRole(ctx, c.ws, asOwner, tg, identity.RoleManager); return err },
		func() error { _, err := c.svc.RevokeSessions(ctx, c.ws, asOwner, tg, sid); return err },
		func() error { _, err := c.svc.RevokeSessions(ctx, c.ws, asOwner, tg, ""); return err },
		func() error { _, err := c.svc.SendPasswordReset(ctx, c.ws, asOwner, tg); return err },
		func() error { _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, tg, true); return err },
		func() error { _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, tg, false); return err },
		func() error {
			_, _, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: "new@acme.test", Mail: true})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{ActionRoleChanged, ActionSessionsRevoked, ActionSessionsRevoked, authn.ActionResetSent,
		ActionUserDisabled, ActionUserEnabled, ActionUserInvited}
	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	recs = recs[before:]
	if len(recs) != len(want) {
		t.Fatalf("audited %v, want %v", c.actions(t)[before:], want)
	}
	for i, r := range recs {
		if r.Action != want[i] || r.ActorID != owner.ID || r.SessionID != "s-owner" || r.IP != "192.0.2.7" || r.Outcome != audit.Success {
			t.Errorf("record %d: %+v, want %s by the owner", i, r, want[i])
		}
		if i < len(recs)-1 && r.Target != "user:"+mem.ID {
			t.Errorf("record %d concerns %q", i, r.Target)
		}
	}
	if reset := recs[3]; reset.Details["email"] != mem.Email {
		t.Errorf("reset record: %+v", reset)
	}
	if len(c.mail.sent) != 2 || c.mail.sent[0].kind != notify.KindPasswordReset || !c.mail.sent[0].data.(notify.PasswordReset).ByAdmin ||
		c.mail.sent[1].kind != notify.KindInvite {
		t.Fatalf("mail: %+v", c.mail.sent)
	}
}

// TestLinksForDisabledMembersAreRefused: a reset link or a new invitation for a
// disabled member could not work (their links are closed), so the administrator is
// told to enable them first and nothing is issued or mailed.
func TestLinksForDisabledMembersAreRefused(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	invitee, _, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: "new@acme.test", Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{mem, invitee} {
		if _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: u.ID}, true); err != nil {
			t.Fatal(err)
		}
	}
	sent := len(c.mail.sent)
	if link, err := c.svc.SendPasswordReset(ctx, c.ws, asOwner, Target{UserID: mem.ID}); !errors.Is(err, ErrMemberDisabled) || link != "" {
		t.Fatalf("reset link for a disabled member: %q %v", link, err)
	}
	if _, link, err := c.svc.Invite(ctx, c.ws, asOwner, Invitation{Email: "new@acme.test", Mail: true}); !errors.Is(err, ErrMemberDisabled) || link != "" {
		t.Fatalf("re-inviting a disabled invitee: %q %v", link, err)
	}
	if len(c.mail.sent) != sent {
		t.Fatalf("mail queued for disabled members: %+v", c.mail.sent[sent:])
	}
}

// TestAdminDisablingThemselvesIsTold: an admin who tries to disable their own account
// hears that it is their own (not that only owners manage admins); nothing changes.
func TestAdminDisablingThemselvesIsTold(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	me, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)
	for _, target := range []Target{{UserID: me.ID}, {Email: " ADM@acme.test "}} {
		if _, err := c.svc.SetDisabled(ctx, c.ws, asAdmin, target, true); !errors.Is(err, ErrSelf) {
			t.Fatalf("admin disabling themselves by %+v: %v", target, err)
		}
	}
	if c.stored(t, me.ID).Status != store.UserActive {
		t.Fatal("the admin was disabled")
	}
}

// TestMemberDetailSaysWhoMayAct: the member page offers actions only where the asking
// administrator may take them.
func TestMemberDetailSaysWhoMayAct(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	_, asAdmin := c.member(t, "adm@acme.test", identity.RoleAdmin)
	for _, tc := range []struct {
		by     Admin
		target store.User
		want   bool
	}{{asOwner, mem, true}, {asOwner, owner, true}, {asAdmin, mem, true}, {asAdmin, owner, false}} {
		d, err := c.svc.Member(ctx, c.ws, tc.by, Target{UserID: tc.target.ID})
		if err != nil || d.Manageable != tc.want {
			t.Errorf("%s looking at %s: manageable %v, want %v (%v)", tc.by.Email, tc.target.Email, d.Manageable, tc.want, err)
		}
	}
}
