package session

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testpg"
)

// TestPurgeOnceAcrossInstances runs the purge job of two instances (two stores opened
// separately on one database) against each other. Each database is the test's own (a
// SQLite file in its temporary directory, a fresh PostgreSQL schema), so the purge,
// which spans tenants, touches nothing of other tests.
func TestPurgeOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "purge.db") }},
		{"Postgres", func(t *testing.T) string { return testpg.DSN(t) }}, // skipped under -short; fails in CI when unreachable
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testPurgeOnce(t, b.dsn(t))
		})
	}
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// race runs the purgers' Once at the same moment and returns which of them ran, with
// what each of those purged.
func race(t *testing.T, ps ...*Purger) (winners []int, purged []store.PurgeResult) {
	t.Helper()
	type answer struct {
		ran bool
		res store.PurgeResult
		err error
	}
	answers := make([]answer, len(ps))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			<-start
			a := &answers[i]
			a.ran, a.res, a.err = p.Once(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("instance %d: %v", i, a.err)
		}
		if a.ran {
			winners, purged = append(winners, i), append(purged, a.res)
		} else if a.res != (store.PurgeResult{}) {
			t.Fatalf("instance %d did not run but reports %+v", i, a.res)
		}
	}
	return winners, purged
}

// testPurgeOnce: of two instances purging at the same moment exactly one runs; it
// removes what ended over an hour ago (sessions, tokens) or was used over ten minutes
// ago (TOTP steps) and keeps live and recently ended records; within the round the
// other instance does not run, in the next round one does, with the cut-offs moved on.
func testPurgeOnce(t *testing.T, dsn string) {
	ctx := context.Background()
	a, b := openStore(t, dsn), openStore(t, dsn)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	now := clk.Now()
	tn := store.Tenant{ID: secret.NewID(), Slug: "acme", Name: "Acme", CreatedAt: now}
	if err := a.Tenants().CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	th := a.Tenant(tn.ID)
	u := store.User{ID: secret.NewID(), Email: "p@example.com", Status: store.UserActive, Roles: []string{"member"}, CreatedAt: now}
	if err := th.Users().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var never time.Time
	sess := func(expires, revoked time.Time, pending bool) string {
		t.Helper()
		s := store.Session{ID: secret.NewID(), UserID: u.ID, TokenHash: secret.HashToken(secret.NewToken()), AuthMethods: []string{"pwd"},
			CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: expires, LastActive: now.Add(-48 * time.Hour), RevokedAt: revoked, Pending: pending}
		if err := th.Sessions().CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	month := 30 * 24 * time.Hour
	gone := []string{
		sess(now.Add(month), now.Add(-2*time.Hour), false),   // revoked two hours ago
		sess(now.Add(-2*time.Hour), never, false),            // expired two hours ago
		sess(now.Add(-61*time.Minute), never, true),          // a half-done sign-in, expired
		sess(now.Add(month), now.Add(-61*time.Minute), true), // a half-done sign-in, revoked
	}
	kept := []string{
		sess(now.Add(month), never, false),                    // live
		sess(now.Add(5*time.Minute), never, true),             // a live half-done sign-in
		sess(now.Add(month), now.Add(-30*time.Minute), false), // revoked half an hour ago
		sess(now.Add(-30*time.Minute), never, false),          // expired half an hour ago
	}
	nextRound := sess(now.Add(month), now.Add(-55*time.Minute), false) // an hour old in the next round

	token := func(expires, used time.Time) []byte {
		t.Helper()
		h := secret.HashToken(secret.NewToken())
		if err := th.OneTimeTokens().CreateOneTimeToken(ctx, "password_reset", h, u.ID, expires); err != nil {
			t.Fatal(err)
		}
		if !used.IsZero() {
			if _, err := th.OneTimeTokens().ConsumeOneTimeToken(ctx, "password_reset", h, used); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	token(now.Add(time.Hour), now.Add(-2*time.Hour))    // used two hours ago: goes
	token(now.Add(-2*time.Hour), never)                 // expired two hours ago: goes
	unused := token(now.Add(24*time.Hour), never)       // live: stays
	token(now.Add(time.Hour), now.Add(-30*time.Minute)) // used half an hour ago: stays
	token(now.Add(-30*time.Minute), never)              // expired half an hour ago: stays

	for step, at := range map[int64]time.Time{1: now.Add(-20 * time.Minute), 2: now.Add(-5 * time.Minute)} {
		if err := th.TOTP().UseTOTPStep(ctx, u.ID, step, at); err != nil {
			t.Fatal(err)
		}
	}

	ps := []*Purger{
		{Store: a.Maintenance(), Holder: "instance-a", Interval: 10 * time.Minute, Clock: clk},
		{Store: b.Maintenance(), Holder: "instance-b", Interval: 10 * time.Minute, Clock: clk},
	}
	winners, purged := race(t, ps...)
	if len(winners) != 1 {
		t.Fatalf("%d instances purged, want exactly 1", len(winners))
	}
	if want := (store.PurgeResult{Sessions: int64(len(gone)), TOTPSteps: 1, Tokens: 2}); purged[0] != want {
		t.Fatalf("purged %+v, want %+v", purged[0], want)
	}
	// What one instance purged, the other no longer sees.
	hb := b.Tenant(tn.ID)
	for _, id := range gone {
		if _, err := hb.Sessions().SessionByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s: %v, want it purged", id, err)
		}
	}
	for _, id := range append(kept, nextRound) {
		if _, err := hb.Sessions().SessionByID(ctx, id); err != nil {
			t.Errorf("session %s: %v, want it kept", id, err)
		}
	}
	if sub, err := hb.OneTimeTokens().CheckOneTimeToken(ctx, "password_reset", unused, now); err != nil || sub != u.ID {
		t.Errorf("the unused link: %q %v", sub, err)
	}
	if err := hb.TOTP().UseTOTPStep(ctx, u.ID, 2, now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the recently used step was forgotten: %v", err)
	}

	// Within the round (the lease lasts nine tenths of the interval) the other
	// instance does not run.
	clk.Advance(9*time.Minute - time.Second)
	if ran, res, err := ps[1-winners[0]].Once(ctx); ran || err != nil || res != (store.PurgeResult{}) {
		t.Fatalf("the other instance purged within the round: %v %+v %v", ran, res, err)
	}

	// In the next round exactly one runs again, with the cut-offs moved on.
	clk.Advance(time.Minute + time.Second)
	if winners, purged = race(t, ps...); len(winners) != 1 || purged[0] != (store.PurgeResult{Sessions: 1, TOTPSteps: 1}) {
		t.Fatalf("next round: %v purged %+v, want one instance purging the session and the step that came of age", winners, purged)
	}
	if _, err := hb.Sessions().SessionByID(ctx, nextRound); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session revoked 65 minutes ago: %v", err)
	}
	// The records that stayed are still there to be purged later: a cut-off an hour
	// on removes exactly them (the live session and the unused link stay).
	later, err := a.Maintenance().Purge(ctx, store.PurgeBefore{Sessions: now.Add(time.Hour), TOTPSteps: now.Add(time.Hour), Tokens: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.PurgeResult{Sessions: 3, Tokens: 2}); later != want {
		t.Fatalf("left for later: %+v, want %+v", later, want)
	}
}

// touchCounter counts the activity writes that reach the store.
type touchCounter struct {
	store.SessionStore
	n atomic.Int64
}

func (c *touchCounter) TouchSession(ctx context.Context, id string, at time.Time, ip string) error {
	c.n.Add(1)
	return c.SessionStore.TouchSession(ctx, id, at, ip)
}

type countingHandle struct {
	store.TenantHandle
	sessions *touchCounter
}

func (h countingHandle) Sessions() store.SessionStore { return h.sessions }

// TestSeenCoalescesActivityWrites: of two uses of a session within the touch interval
// only the first is written; the next use after the interval is written again.
func TestSeenCoalescesActivityWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{TouchInterval: time.Minute, CacheTTL: time.Hour})
	t.Cleanup(m.Close)
	tok, s, err := m.Create(ctx, e.th, e.user, []string{"pwd"}, "192.0.2.1", "UA")
	if err != nil {
		t.Fatal(err)
	}
	counted := countingHandle{TenantHandle: e.th, sessions: &touchCounter{SessionStore: e.th.Sessions()}}
	seen := func(ip string) {
		t.Helper()
		got, err := m.Validate(ctx, counted, "acme", tok)
		if err != nil {
			t.Fatal(err)
		}
		m.Seen(counted, got, ip)
		m.Flush()
	}
	stored := func() store.Session {
		t.Helper()
		s, err := e.th.Sessions().SessionByID(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Used right after sign-in: the creation was the last activity, nothing to write.
	seen("192.0.2.1")
	if n := counted.sessions.n.Load(); n != 0 {
		t.Fatalf("%d writes right after creation", n)
	}
	e.clk.Advance(2 * time.Minute)
	first := e.clk.Now()
	seen("198.51.100.1")
	e.clk.Advance(59 * time.Second)
	seen("198.51.100.2")
	if n := counted.sessions.n.Load(); n != 1 {
		t.Fatalf("%d writes for two uses within a minute, want 1", n)
	}
	if got := stored(); !got.LastActive.Equal(first) || got.LastIP != "198.51.100.1" {
		t.Fatalf("stored activity %v from %q, want %v from the first use", got.LastActive, got.LastIP, first)
	}
	e.clk.Advance(time.Second)
	seen("198.51.100.3")
	if got := stored(); counted.sessions.n.Load() != 2 || !got.LastActive.Equal(e.clk.Now()) || got.LastIP != "198.51.100.3" {
		t.Fatalf("after the interval: %d writes, stored %v from %q", counted.sessions.n.Load(), got.LastActive, got.LastIP)
	}
}
