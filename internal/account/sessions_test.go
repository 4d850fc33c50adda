package account

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// another starts one more session for me's user (pending: half signed in) and returns
// its token and record.
func (f *fixture) another(t *testing.T, me Self, pending bool, userAgent string) (string, store.Session) {
	t.Helper()
	create := f.sessions.Create
	if pending {
		create = f.sessions.CreatePending
	}
	tok, s, err := create(context.Background(), f.ws, me.Session.User, []string{authn.MethodPassword}, "198.51.100.4", userAgent)
	if err != nil {
		t.Fatal(err)
	}
	return tok, s
}

// live tells whether a full session with token is accepted.
func (f *fixture) live(t *testing.T, token string) bool {
	t.Helper()
	_, err := f.sessions.Validate(context.Background(), f.ws, f.ws.Slug, token)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		t.Fatal(err)
	}
	return err == nil
}

// TestListSessionsShowsOnlyLiveOnes: the user's full, live sessions, the one asking
// marked; half-done sign-ins, revoked sessions and other users' sessions are left out.
func TestListSessionsShowsOnlyLiveOnes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	bob := f.me(t, "bob@acme.test", false)
	_, phone := f.another(t, me, false, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1")
	_, pending := f.another(t, me, true, "test")
	_, revoked := f.another(t, me, false, "test")
	if err := f.sessions.Revoke(ctx, f.ws, revoked.ID); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.ListSessions(ctx, f.ws, me)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]session.View{}
	for _, v := range list {
		got[v.ID] = v
	}
	if len(list) != 2 || len(got) != 2 {
		t.Fatalf("listed %+v, want this session and the phone", list)
	}
	if v, ok := got[me.Session.Session.ID]; !ok || !v.Current || v.IP != "192.0.2.1" {
		t.Errorf("this session: %+v", v)
	}
	if v, ok := got[phone.ID]; !ok || v.Current || v.Device == "" || v.IP != "198.51.100.4" || len(v.Methods) != 1 {
		t.Errorf("the phone: %+v", v)
	}
	for name, id := range map[string]string{"pending": pending.ID, "revoked": revoked.ID, "bob's": bob.Session.Session.ID} {
		if _, ok := got[id]; ok {
			t.Errorf("the %s session is listed", name)
		}
	}
}

// TestRevokeSessionOnlyOwnSessions: revoking another user's session (or a pending,
// revoked or unknown one) is "no such session" and changes nothing; revoking one of
// one's own ends exactly that one, audited.
func TestRevokeSessionOnlyOwnSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	bob := f.me(t, "bob@acme.test", false)
	otherTok, other := f.another(t, me, false, "test")
	_, pending := f.another(t, me, true, "test")
	_, revoked := f.another(t, me, false, "test")
	if err := f.sessions.Revoke(ctx, f.ws, revoked.ID); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"bob's": bob.Session.Session.ID, "pending": pending.ID, "revoked": revoked.ID, "unknown": "no-such-id"} {
		if err := f.svc.RevokeSession(ctx, f.ws, me, id); !errors.Is(err, ErrNoSuchSession) {
			t.Errorf("revoking the %s session: %v", name, err)
		}
	}
	if !f.live(t, bob.Client.Token) {
		t.Fatal("bob's session was ended by ann")
	}
	if len(f.actions(t)) != 0 {
		t.Fatalf("refusals audited as revocations: %v", f.actions(t))
	}
	if err := f.svc.RevokeSession(ctx, f.ws, me, other.ID); err != nil {
		t.Fatal(err)
	}
	if f.live(t, otherTok) || !f.live(t, me.Client.Token) || !f.live(t, bob.Client.Token) {
		t.Fatal("not exactly the one session ended")
	}
	recs, _ := f.ws.Audit().ListAudit(ctx, 0, 100)
	if len(recs) != 1 || recs[0].Action != ActionSessionRevoked || recs[0].Details["session"] != other.ID ||
		recs[0].Details["current"] != "false" || recs[0].ActorID != me.Session.User.ID || recs[0].SessionID != me.Session.Session.ID {
		t.Fatalf("audit: %+v", recs)
	}
}

// TestRevokeOtherSessionsKeepsThisOne: "sign out everywhere else" ends every other
// session of the user (a half-done sign-in too) and keeps this one and other users'.
func TestRevokeOtherSessionsKeepsThisOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	me := f.me(t, "ann@acme.test", false)
	bob := f.me(t, "bob@acme.test", false)
	laptop, _ := f.another(t, me, false, "test")
	phone, _ := f.another(t, me, false, "test")
	pending, _ := f.another(t, me, true, "test")
	n, err := f.svc.RevokeOtherSessions(ctx, f.ws, me)
	if err != nil || n != 3 {
		t.Fatalf("ended %d: %v, want 3", n, err)
	}
	if f.live(t, laptop) || f.live(t, phone) {
		t.Fatal("another session survived")
	}
	if _, err := f.sessions.ValidatePending(ctx, f.ws, f.ws.Slug, pending); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("the half-done sign-in survived: %v", err)
	}
	if !f.live(t, me.Client.Token) || !f.live(t, bob.Client.Token) {
		t.Fatal("this session or another user's ended")
	}
	recs, _ := f.ws.Audit().ListAudit(ctx, 0, 100)
	if len(recs) != 1 || recs[0].Action != ActionOtherSessionsRevoked || recs[0].Details["count"] != "3" || recs[0].SessionID != me.Session.Session.ID {
		t.Fatalf("audit: %+v", recs)
	}
	if list, err := f.svc.ListSessions(ctx, f.ws, me); err != nil || len(list) != 1 || !list[0].Current {
		t.Fatalf("left: %+v %v", list, err)
	}
}
