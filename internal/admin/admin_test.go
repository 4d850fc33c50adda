package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

const pw = "an entirely adequate passphrase"

type fixture struct {
	svc *Service
	ws  store.Workspace
	st  store.Store
	clk *clock.Fake
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testdb.Store(t)
	clk := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc := &Service{
		Lockout: &authn.Lockout{KV: kv.NewMemory(clk, 100), Policy: authn.DefaultLockout},
		MFA:     &authn.MFA{Clock: clk}, Audit: audit.NewWriter(clk),
		Hasher: &identity.Hasher{Cost: 4}, Rules: identity.PasswordRules{MinLength: 15}, Clock: clk,
	}
	return &fixture{svc: svc, ws: testdb.Workspace(t, st, "acme"), st: st, clk: clk}
}

func (f *fixture) user(t *testing.T, email, role string) (store.User, Admin) {
	t.Helper()
	u, err := f.svc.AddUser(context.Background(), f.ws, CLI(), authn.NewUser{Email: email, Password: pw, Roles: []string{role}})
	if err != nil {
		t.Fatal(err)
	}
	return u, Admin{Actor: audit.Actor{UserID: u.ID, Email: u.Email, SessionID: "s-" + role}, Roles: u.Roles,
		Origin: audit.Origin{IP: "192.0.2.7", UserAgent: "test", RequestID: "req-1"}, Verified: f.clk.Now()}
}

// lastRecord returns the newest audit record.
func (f *fixture) lastRecord(t *testing.T) store.AuditRecord {
	t.Helper()
	recs, err := f.ws.Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil || len(recs) == 0 {
		t.Fatalf("audit trail: %v (%d records)", err, len(recs))
	}
	return recs[len(recs)-1]
}

// TestUnlockSaysWhatItFound: the administrator learns whether the address was locked
// and whether it belongs to a member; the unlock is audited with who did it and from
// where; members cannot unlock.
func TestUnlockSaysWhatItFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	member, asMember := f.user(t, "ann@acme.test", identity.RoleMember)

	u, err := f.svc.Unlock(ctx, f.ws, owner, Target{Email: "nobody@acme.test"})
	if err != nil || u.WasLocked || u.User.ID != "" || u.Email != "nobody@acme.test" {
		t.Fatalf("unknown, unlocked address: %+v %v", u, err)
	}
	for range 5 { // lock the member
		a, err := f.svc.Lockout.Begin(ctx, f.ws.TenantID(), member.Email)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Lockout.Fail(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Unlock(ctx, f.ws, asMember, Target{UserID: member.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member unlocking: %v", err)
	}
	u, err = f.svc.Unlock(ctx, f.ws, owner, Target{UserID: member.ID})
	if err != nil || !u.WasLocked || u.User.ID != member.ID {
		t.Fatalf("locked member: %+v %v", u, err)
	}
	if d, _ := f.svc.Lockout.Locked(ctx, f.ws.TenantID(), member.Email); d != 0 {
		t.Fatalf("still locked for %v", d)
	}
	rec := f.lastRecord(t)
	if rec.Action != audit.ActionAccountUnlocked || rec.ActorID != owner.UserID || rec.SessionID != "s-owner" || rec.IP != "192.0.2.7" ||
		rec.Target != "user:"+member.ID || rec.Details["was_locked"] != "true" {
		t.Fatalf("audit record: %+v", rec)
	}
	if _, err := f.svc.Unlock(ctx, f.ws, owner, Target{UserID: "no-such-id"}); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown id: %v", err)
	}
	f.svc.Lockout.KV = nil // the CLI of a gateway with in-memory counters
	if _, err := f.svc.Unlock(ctx, f.ws, CLI(), Target{Email: member.Email}); !errors.Is(err, ErrNoLockoutState) {
		t.Fatalf("without reachable counters: %v", err)
	}
}

// TestResetFactorsRespectsRoles: admins reset members; only owners reset admins.
func TestResetFactorsRespectsRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	adm, asAdmin := f.user(t, "adm@acme.test", identity.RoleAdmin)
	mem, asMember := f.user(t, "mem@acme.test", identity.RoleMember)
	if _, err := f.svc.ResetFactors(ctx, f.ws, asMember, Target{UserID: mem.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member resetting: %v", err)
	}
	if _, err := f.svc.ResetFactors(ctx, f.ws, asAdmin, Target{UserID: adm.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin resetting an admin: %v", err)
	}
	if _, err := f.svc.ResetFactors(ctx, f.ws, asAdmin, Target{Email: "MEM@acme.test"}); err != nil {
		t.Fatalf("admin resetting a member: %v", err)
	}
	if _, err := f.svc.ResetFactors(ctx, f.ws, owner, Target{UserID: adm.ID}); err != nil {
		t.Fatalf("owner resetting an admin: %v", err)
	}
	if rec := f.lastRecord(t); rec.Action != audit.ActionFactorsReset || rec.Target != "user:"+adm.ID || rec.ActorID != owner.UserID {
		t.Fatalf("audit record: %+v", rec)
	}
}

// TestUpdateSecurityValidatesAndAudits: every unusable value is refused with the field
// it concerns; a change is audited with the old and new values; defaults are shown as
// they apply (7-day grace, alert, the gateway's lockout).
func TestUpdateSecurityValidatesAndAudits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	_, member := f.user(t, "mem@acme.test", identity.RoleMember)
	sec, err := f.svc.Security(ctx, f.ws)
	if err != nil || sec.Grace != authn.DefaultGracePeriod || sec.AnomalyAction != "alert" || sec.Lockout != authn.DefaultLockout {
		t.Fatalf("defaults: %+v %v", sec, err)
	}
	neg, big, bad := -time.Second, 91*24*time.Hour, "panic"
	thr := 101
	for field, ch := range map[string]SecurityChange{
		"grace_period":      {Grace: &big},
		"anomaly_action":    {AnomalyAction: &bad},
		"lockout_threshold": {LockoutThreshold: &thr},
		"lockout_duration":  {LockoutDuration: &neg},
	} {
		var fe *FieldError
		if _, err := f.svc.UpdateSecurity(ctx, f.ws, owner, ch); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := f.svc.UpdateSecurity(ctx, f.ws, member, SecurityChange{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member changing the policy: %v", err)
	}
	on, three, min5 := true, 3, 5*time.Minute
	sec, err = f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{Require2FA: &on, LockoutThreshold: &three, LockoutDuration: &min5})
	if err != nil || !sec.Require2FA || !sec.Require2FASince.Equal(f.clk.Now()) || sec.Grace != authn.DefaultGracePeriod ||
		sec.Lockout.Threshold != 3 || sec.Lockout.Base != min5 || sec.Lockout.Max != authn.DefaultLockout.Max || sec.LockoutOverride.Max != 0 {
		t.Fatalf("after the change: %+v %v", sec, err)
	}
	rec := f.lastRecord(t)
	if rec.Action != audit.ActionSecuritySettings || rec.Details["require_2fa"] != "true" || rec.Details["was_require_2fa"] != "false" ||
		rec.Details["lockout_threshold"] != "3" || rec.ActorID != owner.UserID {
		t.Fatalf("audit record: %+v", rec)
	}
	// Switching it on again later keeps when it started (the grace period counts from then).
	f.clk.Advance(time.Hour)
	if sec, _ = f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{Require2FA: &on}); !sec.Require2FASince.Equal(f.clk.Now().Add(-time.Hour)) {
		t.Fatalf("require 2FA restarted at %v", sec.Require2FASince)
	}
}

// TestAddUserAndTenantsNameTheField: bad entries say which input is wrong; only owners
// make owners; only the operator (CLI) creates workspaces.
func TestAddUserAndTenantsNameTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, asAdmin := f.user(t, "adm@acme.test", identity.RoleAdmin)
	var ie *authn.InputError
	if _, err := f.svc.AddUser(ctx, f.ws, CLI(), authn.NewUser{Email: "not-an-address", Password: pw, Roles: []string{"member"}}); !errors.As(err, &ie) || ie.Field != "email" {
		t.Fatalf("bad e-mail: %v", err)
	}
	if _, err := f.svc.AddUser(ctx, f.ws, CLI(), authn.NewUser{Email: "x@acme.test", Password: "short", Roles: []string{"member"}}); !errors.As(err, &ie) || ie.Field != "password" {
		t.Fatalf("short password: %v", err)
	}
	if _, err := f.svc.AddUser(ctx, f.ws, asAdmin, authn.NewUser{Email: "o2@acme.test", Password: pw, Roles: []string{"owner"}}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin making an owner: %v", err)
	}
	if _, err := f.svc.AddUser(ctx, f.ws, CLI(), authn.NewUser{Email: "ADM@acme.test", Password: pw, Roles: []string{"member"}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("taken e-mail: %v", err)
	}
	var fe *FieldError
	if _, err := f.svc.CreateTenant(ctx, f.st, CLI(), NewTenant{Slug: "Bad Slug"}); !errors.As(err, &fe) || fe.Field != "slug" {
		t.Fatalf("bad slug: %v", err)
	}
	if _, err := f.svc.CreateTenant(ctx, f.st, CLI(), NewTenant{Slug: "beta", Hosts: []string{"https://beta.example"}}); !errors.As(err, &fe) || fe.Field != "host" {
		t.Fatalf("bad host: %v", err)
	}
	if _, err := f.svc.CreateTenant(ctx, f.st, asAdmin, NewTenant{Slug: "beta"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a tenant admin creating a workspace: %v", err)
	}
	tn, err := f.svc.CreateTenant(ctx, f.st, CLI(), NewTenant{Slug: "beta", Name: "Beta"})
	if err != nil || tn.Name != "Beta" {
		t.Fatalf("create: %+v %v", tn, err)
	}
	if _, err := f.svc.CreateTenant(ctx, f.st, CLI(), NewTenant{Slug: "beta"}); !errors.As(err, &fe) || fe.Field != "slug" {
		t.Fatalf("taken slug: %v", err)
	}
}

// TestEnsureDefaultTenantOnce: several instances starting together create the default
// workspace once; a store with other tenants gets none.
func TestEnsureDefaultTenantOnce(t *testing.T) {
	t.Parallel()
	st := testdb.Store(t)
	clk := clock.Real{}
	ids := make(chan string, 8)
	for range 8 {
		go func() {
			tn, err := EnsureDefaultTenant(context.Background(), st, clk)
			if err != nil {
				t.Error(err)
			}
			ids <- tn.ID
		}()
	}
	first := <-ids
	for range 7 {
		if id := <-ids; id != first || id == "" {
			t.Fatalf("default tenants %q and %q", first, id)
		}
	}
	other := testdb.Store(t)
	testdb.Workspace(t, other, "acme")
	if tn, err := EnsureDefaultTenant(context.Background(), other, clk); err != nil || tn.ID != "" {
		t.Fatalf("store with tenants: %+v %v", tn, err)
	}
}
