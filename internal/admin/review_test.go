package admin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

// addMember creates a member with several roles (AddUser, as the CLI's repeatable
// --role does).
func (c *crew) addMember(t *testing.T, email, name string, roles ...string) store.User {
	t.Helper()
	u, err := c.svc.AddUser(context.Background(), c.ws, CLI(), authn.NewUser{Email: email, DisplayName: name, Password: pw, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func reviewEntry(t *testing.T, rep ReviewReport, email string) ReviewEntry {
	t.Helper()
	for _, e := range rep.Members {
		if e.User.Email == email {
			return e
		}
	}
	t.Fatalf("%s not in the review", email)
	return ReviewEntry{}
}

// TestReviewReport: every member with name, e-mail, roles, team names, status, last
// sign-in and second factors; deleted members left out; what the viewer may revoke;
// owners and admins only.
func TestReviewReport(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	rv := Review{Service: c.svc}
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, asAdmin := c.member(t, "admin@acme.test", identity.RoleAdmin)
	app := c.addMember(t, "app@acme.test", "App User", identity.RoleManager, identity.RoleMember)
	keys, asMember := c.member(t, "keys@acme.test", identity.RoleMember)
	c.member(t, "none@acme.test", identity.RoleMember)
	gone, _ := c.member(t, "gone@acme.test", identity.RoleMember)
	off, _ := c.member(t, "off@acme.test", identity.RoleMember)
	if _, _, err := c.svc.Invite(ctx, c.ws, cliWithPortal(), Invitation{Email: "new@acme.test", Role: identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	h := c.ws.TenantHandle
	if err := h.TOTP().PutPendingTOTP(ctx, store.TOTPSecret{UserID: app.ID, Ciphertext: []byte{1}, KeyID: "k", CreatedAt: c.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h.TOTP().ConfirmTOTP(ctx, app.ID, c.clk.Now()); err != nil {
		t.Fatal(err)
	}
	for i, pk := range []struct {
		u    store.User
		name string
	}{{keys, "Laptop"}, {keys, "Phone"}, {app, "Laptop"}} {
		if err := h.Passkeys().AddPasskey(ctx, store.Passkey{ID: fmt.Sprint("pk", i), UserID: pk.u.ID, CredentialID: []byte{byte(i)}, PublicKey: []byte{byte(i)},
			Name: pk.name, CreatedAt: c.clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tm := range []store.Team{{ID: "t1", Name: "Front desk", CreatedAt: c.clk.Now()}, {ID: "t2", Name: "Billing", CreatedAt: c.clk.Now()}} {
		if err := h.Teams().CreateTeam(ctx, tm); err != nil {
			t.Fatal(err)
		}
		if err := h.Teams().AddTeamMember(ctx, tm.ID, app.ID); err != nil {
			t.Fatal(err)
		}
	}
	signedIn := c.clk.Now().Add(-time.Hour).Truncate(time.Second)
	if err := h.Users().SetLastLogin(ctx, owner.ID, signedIn); err != nil {
		t.Fatal(err)
	}
	if err := h.Users().SetStatus(ctx, gone.ID, store.UserDeleted); err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.SetDisabled(ctx, c.ws, asOwner, Target{UserID: off.ID}, true); err != nil {
		t.Fatal(err)
	}

	rep, err := rv.Report(ctx, c.ws, asOwner)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, e := range rep.Members {
		emails = append(emails, e.User.Email)
	}
	if want := []string{"admin@acme.test", "app@acme.test", "keys@acme.test", "new@acme.test", "none@acme.test", "off@acme.test", "owner@acme.test"}; !slices.Equal(emails, want) {
		t.Fatalf("members %v, want %v", emails, want)
	}
	a := reviewEntry(t, rep, "app@acme.test")
	if a.User.DisplayName != "App User" || !slices.Equal(a.User.Roles, []string{"manager", "member"}) || !slices.Equal(slices.Sorted(slices.Values(a.Teams)), []string{"Billing", "Front desk"}) ||
		a.Status != "active" || !a.User.LastLoginAt.IsZero() || !a.Factors.TOTP || a.Factors.Passkeys != 1 || a.SecondFactor() != "totp+passkeys" {
		t.Fatalf("app user: %+v (teams %v)", a, a.Teams)
	}
	if k := reviewEntry(t, rep, "keys@acme.test"); k.SecondFactor() != "passkeys" || k.Factors.Passkeys != 2 || len(k.Removable) != 0 || !k.MayDisable {
		t.Fatalf("passkey user: %+v", k)
	}
	if n := reviewEntry(t, rep, "none@acme.test"); n.SecondFactor() != "none" || len(n.Teams) != 0 {
		t.Fatalf("member without factors: %+v", n)
	}
	if o := reviewEntry(t, rep, "owner@acme.test"); !o.User.LastLoginAt.Equal(signedIn) || !o.Self || len(o.Removable) != 0 || o.MayDisable {
		t.Fatalf("the owner's own entry: %+v", o)
	}
	if i := reviewEntry(t, rep, "new@acme.test"); i.Status != "invited" || !slices.Equal(i.Removable, []string{"admin"}) {
		t.Fatalf("invited admin: %+v", i)
	}
	if d := reviewEntry(t, rep, "off@acme.test"); d.Status != "disabled" || d.MayDisable {
		t.Fatalf("disabled member: %+v", d)
	}
	if !slices.Equal(a.Removable, []string{"manager", "member"}) || !a.MayDisable || !a.Manageable {
		t.Fatalf("what the owner may revoke of the app user: %+v", a)
	}
	if rep.Owners != 1 || rep.Admins != 2 || rep.WithoutSecondFactor != 4 || !rep.At.Equal(c.clk.Now()) {
		t.Fatalf("counts: owners %d admins %d without 2FA %d at %v", rep.Owners, rep.Admins, rep.WithoutSecondFactor, rep.At)
	}

	// An admin sees everyone, but is offered nothing on owners and admins.
	rep, err = rv.Report(ctx, c.ws, asAdmin)
	if err != nil || len(rep.Members) != 7 {
		t.Fatalf("admin's report: %d members, %v", len(rep.Members), err)
	}
	if o := reviewEntry(t, rep, "owner@acme.test"); o.Manageable || len(o.Removable) != 0 || o.MayDisable {
		t.Fatalf("owner as the admin sees them: %+v", o)
	}
	if a := reviewEntry(t, rep, "app@acme.test"); !a.Manageable || !a.MayDisable {
		t.Fatalf("manager as the admin sees them: %+v", a)
	}
	if _, err := rv.Report(ctx, c.ws, asMember); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member asking for the review: %v", err)
	}
	if err := rv.Exported(ctx, c.ws, asMember, "csv", 1); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member exporting: %v", err)
	}
	if err := rv.Exported(ctx, c.ws, asAdmin, "csv", 7); err != nil {
		t.Fatal(err)
	}
	if rec := c.lastRecord(t); rec.Action != ActionReviewExported || rec.ActorID != asAdmin.UserID || rec.Details["format"] != "csv" || rec.Details["members"] != "7" {
		t.Fatalf("export record: %+v", rec)
	}
}

// TestReviewRevokeRole: one click takes one role away — the member keeps their other
// roles, and one left without any is a member; only owners take roles from owners and
// admins; the last owner keeps the role; each change is audited and reaches the
// member's sessions.
func TestReviewRevokeRole(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	rv := Review{Service: c.svc}
	owner, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	adm, asAdmin := c.member(t, "admin@acme.test", identity.RoleAdmin)
	mgr, asManager := c.member(t, "mgr@acme.test", identity.RoleManager)
	multi := c.addMember(t, "multi@acme.test", "", identity.RoleAdmin, identity.RoleManager, identity.RoleMember)
	plain, _ := c.member(t, "plain@acme.test", identity.RoleMember)
	role := func(u store.User) string { return strings.Join(c.stored(t, u.ID).Roles, ",") }

	for name, tc := range map[string]struct {
		by   Admin
		u    store.User
		how  Revocation
		want error
	}{
		"a manager":                    {asManager, plain, Revocation{Role: "member"}, ErrForbidden},
		"an admin on an owner":         {asAdmin, owner, Revocation{Role: "owner"}, ErrForbidden},
		"an admin on an admin":         {asAdmin, multi, Revocation{Role: "admin"}, ErrForbidden},
		"an admin disabling an owner":  {asAdmin, owner, Revocation{Disable: true}, ErrForbidden},
		"the last owner stepping down": {asOwner, owner, Revocation{Role: "owner"}, ErrLastOwner},
	} {
		if _, err := rv.Revoke(ctx, c.ws, tc.by, Target{UserID: tc.u.ID}, tc.how); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	var fe *FieldError
	for name, how := range map[string]Revocation{"nothing": {}, "both": {Role: "admin", Disable: true}, "a role they lack": {Role: "owner"}, "the least role": {Role: "member"}} {
		if _, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: plain.ID}, how); !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FieldError", name, err)
		}
	}
	if _, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: "no-such-id"}, Revocation{Role: "admin"}); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("unknown member: %v", err)
	}
	if role(owner) != "owner" || role(multi) != "admin,manager,member" || role(plain) != "member" || c.stored(t, owner.ID).Status != store.UserActive {
		t.Fatal("refused revocations changed roles")
	}

	// Stale re-authentication: refused as on the member pages.
	stale := asOwner
	stale.Verified = c.clk.Now().Add(-authn.DefaultReauthAge - time.Second)
	if _, err := rv.Revoke(ctx, c.ws, stale, Target{UserID: adm.ID}, Revocation{Role: "admin"}); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("stale owner: %v", err)
	}

	tok, _ := c.session(t, adm)
	before := len(c.actions(t))
	u, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: adm.ID}, Revocation{Role: "admin"})
	if err != nil || !slices.Equal(u.Roles, []string{"member"}) || role(adm) != "member" {
		t.Fatalf("owner removing the admin role: %+v %v", u, err)
	}
	if e, err := c.sessions.Validate(ctx, c.ws, c.ws.Slug, tok); err != nil || !slices.Equal(e.User.Roles, []string{"member"}) {
		t.Fatalf("the demoted admin's session still carries %v (%v)", e.User.Roles, err)
	}
	_, asAdmin2 := c.member(t, "admin2@acme.test", identity.RoleAdmin)
	if u, err := rv.Revoke(ctx, c.ws, asAdmin2, Target{UserID: mgr.ID}, Revocation{Role: "manager"}); err != nil || role(mgr) != "member" {
		t.Fatalf("an admin removing a manager's role: %+v %v", u, err)
	}
	// Several roles: only the named one goes.
	if u, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: multi.ID}, Revocation{Role: "manager"}); err != nil || !slices.Equal(u.Roles, []string{"admin", "member"}) || role(multi) != "admin,member" {
		t.Fatalf("removing one of three roles: %+v %v", u, err)
	}
	if u, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: multi.ID}, Revocation{Role: "admin"}); err != nil || role(multi) != "member" {
		t.Fatalf("removing one of two roles: %+v %v", u, err)
	}

	recs, err := c.ws.Audit().ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, r := range recs {
		if r.Action == ActionRoleChanged {
			changes = append(changes, r.ActorID+":"+strings.TrimPrefix(r.Target, "user:")+":"+r.Details["was"]+">"+r.Details["role"])
		}
	}
	want := []string{
		owner.ID + ":" + adm.ID + ":admin>member",
		asAdmin2.UserID + ":" + mgr.ID + ":manager>member",
		owner.ID + ":" + multi.ID + ":admin,manager,member>admin,member",
		owner.ID + ":" + multi.ID + ":admin,member>member",
	}
	if !slices.Equal(changes, want) {
		t.Fatalf("audited role changes:\n%v\nwant\n%v", changes, want)
	}
	if got := c.actions(t)[before:]; slices.Contains(got, ActionUserDisabled) {
		t.Fatalf("a role revocation disabled someone: %v", got)
	}
}

// TestReviewRevokeDisables: the other one-click revoke disables the member and ends
// every session of theirs at once, audited; nobody disables themselves that way.
func TestReviewRevokeDisables(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	rv := Review{Service: c.svc}
	_, asOwner := c.member(t, "owner@acme.test", identity.RoleOwner)
	mem, _ := c.member(t, "mem@acme.test", identity.RoleMember)
	bob, _ := c.member(t, "bob@acme.test", identity.RoleMember)
	laptop, _ := c.session(t, mem)
	phone, _ := c.session(t, mem)
	bobs, _ := c.session(t, bob)

	if _, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: asOwner.UserID}, Revocation{Disable: true}); !errors.Is(err, ErrSelf) {
		t.Fatalf("disabling oneself: %v", err)
	}
	u, err := rv.Revoke(ctx, c.ws, asOwner, Target{UserID: mem.ID}, Revocation{Disable: true})
	if err != nil || u.Status != store.UserDisabled || c.stored(t, mem.ID).Status != store.UserDisabled {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if c.live(t, laptop) || c.live(t, phone) || !c.live(t, bobs) {
		t.Fatal("disabling ended the wrong sessions")
	}
	if rec := c.lastRecord(t); rec.Action != ActionUserDisabled || rec.ActorID != asOwner.UserID || rec.Target != "user:"+mem.ID || rec.Details["sessions_ended"] != "2" {
		t.Fatalf("audit record: %+v", rec)
	}
	if o, err := c.signIn.Password(ctx, c.ws, authn.Client{}, mem.Email, pw); err != nil || o.Status != authn.Refused {
		t.Fatalf("the disabled member signing in: %+v %v", o, err)
	}
}

func TestReviewPeriodOf(t *testing.T) {
	t.Parallel()
	q := DefaultReviewPeriod
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	key, start, end := ReviewPeriodOf(at, q)
	if start.After(at) || !end.After(at) || end.Sub(start) != q || start.Unix()%int64(q/time.Second) != 0 || key != start.Format("20060102T150405Z") {
		t.Fatalf("period of %v: %s %v %v", at, key, start, end)
	}
	if k, _, _ := ReviewPeriodOf(end.Add(-time.Second), q); k != key {
		t.Fatalf("the period's last second: %s, want %s", k, key)
	}
	if k, s, _ := ReviewPeriodOf(end, q); k == key || !s.Equal(end) {
		t.Fatalf("the next period: %s from %v", k, s)
	}
	if k, _, _ := ReviewPeriodOf(at.In(time.FixedZone("X", 5*3600)), q); k != key {
		t.Fatal("the key depends on the time zone")
	}
}

// reviewWorld is two gateway instances (two stores opened on one SQLite file) with
// a review job each, on a fake clock.
type reviewWorld struct {
	stores []*sqlstore.Store
	clk    *clock.Fake
	svc    *Service
	acme   store.Workspace
	quiet  store.Workspace // turned off
	empty  store.Workspace // no owner yet
}

func newReviewWorld(t *testing.T) *reviewWorld {
	t.Helper()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "gh.db")
	w := &reviewWorld{clk: clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	for range 2 {
		st, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		w.stores = append(w.stores, st)
	}
	w.svc = &Service{MFA: &authn.MFA{Clock: w.clk}, Audit: audit.NewWriter(w.clk), Hasher: &identity.Hasher{Cost: 4},
		Rules: identity.PasswordRules{MinLength: 15}, Clock: w.clk}
	mk := func(slug string) store.Workspace {
		tn := store.Tenant{ID: secret.NewID(), Slug: slug, Name: "Workspace " + slug, CreatedAt: w.clk.Now()}
		if err := w.stores[0].Tenants().CreateTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
		return store.Workspace{Tenant: tn, TenantHandle: w.stores[0].Tenant(tn.ID)}
	}
	w.acme, w.quiet, w.empty = mk("acme"), mk("quiet"), mk("empty")
	add := func(ws store.Workspace, email string, roles ...string) store.User {
		u, err := w.svc.AddUser(context.Background(), ws, CLI(), authn.NewUser{Email: email, Password: pw, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	add(w.acme, "ada@acme.test", "owner")
	add(w.acme, "bea@acme.test", "owner", "admin")
	add(w.acme, "carl@acme.test", "admin")
	add(w.acme, "dora@acme.test", "member")
	gone := add(w.acme, "eve@acme.test", "owner") // a disabled owner gets nothing
	if err := w.acme.Users().SetStatus(context.Background(), gone.ID, store.UserDisabled); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Invite(context.Background(), w.acme, cliWithPortal(), Invitation{Email: "fay@acme.test", Role: "owner"}); err != nil {
		t.Fatal(err) // nor does an owner who has not accepted the invitation
	}
	add(w.quiet, "quinn@quiet.test", "owner")
	add(w.empty, "emil@empty.test", "member")
	return w
}

// job is instance i's review job (a restarted instance is a new job with a new holder).
func (w *reviewWorld) job(i int, holder string) *ReviewJob {
	st := w.stores[i]
	return &ReviewJob{Store: st, Review: Review{Service: w.svc}, Outbox: st.Outbox(), Holder: holder, Clock: w.clk,
		PortalURL: func(t store.Tenant) string { return "https://" + t.Slug + ".example.com/auth" },
		Off:       func(_ context.Context, ws store.Workspace) (bool, error) { return ws.Slug == "quiet", nil }}
}

// drain takes every queued message out of the outbox (as the worker would, sending
// them), so that an id is free again: only the record of the period stops a repeat.
func (w *reviewWorld) drain(t *testing.T) []notify.Message {
	t.Helper()
	ob := w.stores[1].Outbox()
	ms, err := ob.ClaimDue(context.Background(), w.clk.Now(), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := ob.MarkSent(context.Background(), m.ID, w.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(ms, func(a, b notify.Message) int { return strings.Compare(a.To, b.To) })
	return ms
}

// race runs n rounds of both instances' jobs at once.
func (w *reviewWorld) race(t *testing.T, jobs ...*ReviewJob) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start := make(chan struct{})
	for i := range 8 {
		j := jobs[i%len(jobs)]
		wg.Go(func() {
			<-start
			n, err := j.Once(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return total
}

// TestReviewJobOncePerPeriod: two instances looking at the same moment queue exactly
// one review per active owner; neither they nor a restarted instance send it again
// in the period (even once the messages left the outbox); the next period brings a
// new one; a tenant that turned the review off, and one without an owner, get none.
func TestReviewJobOncePerPeriod(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	j1, j2 := w.job(0, "instance-1"), w.job(1, "instance-2")
	key, _, end := ReviewPeriodOf(w.clk.Now(), DefaultReviewPeriod)

	if n := w.race(t, j1, j2); n != 2 {
		t.Fatalf("first round queued %d messages, want 2", n)
	}
	ms := w.drain(t)
	if len(ms) != 2 || ms[0].To != "ada@acme.test" || ms[1].To != "bea@acme.test" {
		t.Fatalf("mailed %v", ms)
	}
	ada, _ := w.acme.Users().UserByEmail(context.Background(), "ada@acme.test")
	if ms[0].ID != "review/"+w.acme.ID+"/"+key+"/"+ada.ID || ms[0].TenantID != w.acme.ID {
		t.Fatalf("message id %q", ms[0].ID)
	}
	m := ms[0]
	for _, body := range []string{m.Text, m.HTML} {
		for _, want := range []string{"Workspace acme", "carl@acme.test", "dora@acme.test", "eve@acme.test", "disabled", "invited", "owner, admin",
			"never", "none", "https://acme.example.com/auth/admin/team/audit", notifyTime(end)} {
			if !strings.Contains(body, want) {
				t.Errorf("mail lacks %q:\n%s", want, body)
			}
		}
	}
	if !strings.HasPrefix(m.Subject, "Permission review for Workspace acme: 6 members") {
		t.Errorf("subject %q", m.Subject)
	}
	if done, err := w.acme.Periods().PeriodDone(context.Background(), ReviewJobName, key); err != nil || !done {
		t.Fatalf("period recorded: %v %v", done, err)
	}

	// The same instances later on, and a restarted one, within the period: nothing.
	w.clk.Advance(time.Hour)
	if n := w.race(t, j1, j2, w.job(1, "instance-2-restarted")); n != 0 {
		t.Fatalf("queued %d more in the same period", n)
	}
	w.clk.Set(end.Add(-time.Second))
	if n, err := w.job(0, "instance-1-restarted").Once(context.Background()); n != 0 || err != nil {
		t.Fatalf("the period's last second: %d %v", n, err)
	}
	if ms := w.drain(t); len(ms) != 0 {
		t.Fatalf("mailed again within the period: %v", ms)
	}

	// The next period.
	w.clk.Set(end.Add(time.Minute))
	if n := w.race(t, j1, j2); n != 2 {
		t.Fatalf("next period queued %d, want 2", n)
	}
	ms = w.drain(t)
	key2, _, _ := ReviewPeriodOf(w.clk.Now(), DefaultReviewPeriod)
	if len(ms) != 2 || !strings.Contains(ms[0].ID, "/"+key2+"/") || key2 == key {
		t.Fatalf("next period mailed %v", ms)
	}
	recs, err := w.acme.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var periods []string
	for _, r := range recs {
		if r.Action == ActionReviewMailed {
			if r.ActorID != audit.System.UserID || r.Details["owners"] != "2" {
				t.Errorf("record: %+v", r)
			}
			periods = append(periods, r.Details["period"])
		}
	}
	if !slices.Equal(periods, []string{key, key2}) {
		t.Fatalf("audited periods %v", periods)
	}
	for _, ws := range []store.Workspace{w.quiet, w.empty} {
		if done, _ := ws.Periods().PeriodDone(context.Background(), ReviewJobName, key); done {
			t.Errorf("%s recorded done", ws.Slug)
		}
	}

	// Turned on again, the quiet tenant's owner gets the current period's review.
	j1.Off = nil
	if n, err := j1.Once(context.Background()); n != 1 || err != nil {
		t.Fatalf("turned on: %d %v", n, err)
	}
	if ms := w.drain(t); len(ms) != 1 || ms[0].To != "quinn@quiet.test" {
		t.Fatalf("turned on: %v", ms)
	}
}

// notifyTime is how the mail writes a time.
func notifyTime(t time.Time) string { return t.UTC().Format("Mon, 2 Jan 2006 15:04 UTC") }

// flakyOutbox fails the n-th Enqueue.
type flakyOutbox struct {
	notify.Outbox
	mu      sync.Mutex
	calls   int
	failure int
}

func (o *flakyOutbox) Enqueue(ctx context.Context, m notify.Message) error {
	o.mu.Lock()
	o.calls++
	fail := o.calls == o.failure
	o.mu.Unlock()
	if fail {
		return fmt.Errorf("outbox down")
	}
	return o.Outbox.Enqueue(ctx, m)
}

// TestReviewJobRetriesWithoutDuplicates: a round that fails half-way records nothing;
// the next one queues what is missing, and what was queued already is not queued
// twice.
func TestReviewJobRetriesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	j := w.job(0, "instance-1")
	j.Outbox = &flakyOutbox{Outbox: w.stores[0].Outbox(), failure: 2}
	if n, err := j.Once(context.Background()); err == nil || n != 1 {
		t.Fatalf("failing round: %d %v", n, err)
	}
	key, _, _ := ReviewPeriodOf(w.clk.Now(), DefaultReviewPeriod)
	if done, _ := w.acme.Periods().PeriodDone(context.Background(), ReviewJobName, key); done {
		t.Fatal("a failed round recorded the period done")
	}
	// Another instance, after the first one's lease ran out.
	w.clk.Advance(reviewLease)
	if n, err := w.job(1, "instance-2").Once(context.Background()); err != nil || n != 1 {
		t.Fatalf("retry: %d %v", n, err)
	}
	if ms := w.drain(t); len(ms) != 2 || ms[0].To == ms[1].To {
		t.Fatalf("after the retry: %v", ms)
	}
}
