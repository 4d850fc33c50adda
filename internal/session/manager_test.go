package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

type env struct {
	st   store.Store
	clk  *clock.Fake
	th   store.TenantHandle
	user store.User
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	tn := store.Tenant{ID: secret.NewID(), Slug: "acme", Name: "Acme", CreatedAt: clk.Now()}
	if err := st.Tenants().CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	th := st.Tenant(tn.ID)
	u := store.User{ID: secret.NewID(), Email: "s@example.com", Status: store.UserActive, Roles: []string{"member"}, CreatedAt: clk.Now()}
	if err := th.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, clk: clk, th: th, user: u}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{IdleTimeout: 2 * time.Hour})
	tok, s, err := m.Create(ctx, e.th, e.user, []string{"pwd"}, "192.0.2.1", "UA")
	if err != nil {
		t.Fatal(err)
	}
	if s.ExpiresAt.Sub(s.CreatedAt) != 30*24*time.Hour {
		t.Fatalf("default lifetime %v, want 30 days", s.ExpiresAt.Sub(s.CreatedAt))
	}
	got, err := m.Validate(ctx, e.th, "acme", tok)
	if err != nil || got.User.ID != e.user.ID || got.Headers.Get("X-Gatehouse-Session-Id") != s.ID {
		t.Fatalf("validate: %v %+v", err, got)
	}
	// Wrong and empty tokens are no session.
	for _, bad := range []string{"", "x", tok + "x", secret.NewToken()} {
		if _, err := m.Validate(ctx, e.th, "acme", bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	// Idle timeout: activity keeps it alive (coalesced touches), silence ends it.
	for range 5 {
		e.clk.Advance(90 * time.Minute)
		got, err := m.Validate(ctx, e.th, "acme", tok)
		if err != nil {
			t.Fatalf("active session ended: %v", err)
		}
		m.Seen(e.th, got, "198.51.100.7") // what the gateway and the portal do with each request
		m.Flush()
	}
	if s, err := e.th.Sessions().SessionByID(ctx, s.ID); err != nil || s.LastIP != "198.51.100.7" || !s.LastActive.Equal(e.clk.Now()) {
		t.Fatalf("activity not recorded: %v %v %v", err, s.LastIP, s.LastActive)
	}
	e.clk.Advance(2*time.Hour + time.Second)
	if _, err := m.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle session still valid: %v", err)
	}
}

func TestAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{})
	tok, _, err := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30*24*time.Hour - time.Minute)
	if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	e.clk.Advance(2 * time.Minute)
	if _, err := m.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after 30 days: %v", err)
	}
}

// TestRevocationElsewhereWithinCacheTTL: a second manager (another instance) revokes;
// this one stops accepting the token once its cache entry is older than CacheTTL.
func TestRevocationElsewhereWithinCacheTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := NewManager(e.st, e.clk, Options{CacheTTL: time.Second})
	b := NewManager(e.st, e.clk, Options{CacheTTL: time.Second})
	tok, s, _ := a.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if _, err := a.Validate(ctx, e.th, "acme", tok); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, e.th, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("revoking instance still accepts the token")
	}
	e.clk.Advance(1001 * time.Millisecond)
	if _, err := a.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("other instance accepts a revoked token after CacheTTL")
	}
}

func TestSessionBoundToTenantAndActiveUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{})
	tok, _, _ := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
		t.Fatal(err)
	}
	other := store.Tenant{ID: secret.NewID(), Slug: "other", Name: "Other", CreatedAt: e.clk.Now()}
	if err := e.st.Tenants().CreateTenant(ctx, other); err != nil {
		t.Fatal(err)
	}
	// Cached or not, tenant B's handle does not accept tenant A's token.
	if _, err := m.Validate(ctx, e.st.Tenant(other.ID), "other", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("token of tenant A valid in tenant B (cached): %v", err)
	}
	if _, err := NewManager(e.st, e.clk, Options{}).Validate(ctx, e.st.Tenant(other.ID), "other", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("token of tenant A valid in tenant B (store): %v", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{CacheSize: 10})
	for range 25 {
		tok, _, err := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.cache.len(); n > 10 {
		t.Fatalf("cache holds %d entries, bound is 10", n)
	}
}

// BenchmarkValidateCacheHit is the per-request session check (SPEC §13: ≤ 2 µs).
func BenchmarkValidateCacheHit(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	m := NewManager(e.st, clock.Real{}, Options{CacheTTL: time.Hour})
	tok, _, err := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Validate(ctx, e.th, "acme", tok); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPendingSessionOnlyForSecondStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{})
	tok, s, err := m.CreatePending(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Pending || s.ExpiresAt.Sub(s.CreatedAt) != PendingLifetime {
		t.Fatalf("pending session %+v", s)
	}
	if _, err := m.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("pending session accepted as full: %v", err)
	}
	if _, err := m.ValidatePending(ctx, e.th, "acme", tok); err != nil {
		t.Fatalf("pending session: %v", err)
	}
	// A full session is not a pending one either.
	full, _, _ := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	if _, err := m.ValidatePending(ctx, e.th, "acme", full); !errors.Is(err, ErrNoSession) {
		t.Fatalf("full session accepted as pending: %v", err)
	}
	e.clk.Advance(PendingLifetime + time.Second)
	if _, err := m.ValidatePending(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("pending session alive after 5 minutes: %v", err)
	}
}

// TestRevokeDuringLoadIsNotRecached: a validation that read the session just before it
// was revoked must not put it back into the cache.
func TestRevokeDuringLoadIsNotRecached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{CacheTTL: time.Hour})
	tok, s, _ := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	// Simulate the interleaving: read from the store, then the revocation, then caching.
	key := sha256.Sum256([]byte(tok))
	m.cache.revoke(s.ID, e.clk.Now())
	if _, err := m.load(ctx, e.th, "acme", key, e.clk.Now()); !errors.Is(err, ErrNoSession) {
		t.Fatalf("load after a concurrent revocation: %v", err)
	}
	if m.cache.get(key) != nil {
		t.Fatal("revoked session cached")
	}
}

// TestIdleSessionIsRevoked: a session refused for idleness stays dead even if the idle
// timeout is raised afterwards.
func TestIdleSessionIsRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := NewManager(e.st, e.clk, Options{IdleTimeout: time.Hour})
	tok, _, _ := m.Create(ctx, e.th, e.user, []string{"pwd"}, "", "")
	e.clk.Advance(2 * time.Hour)
	if _, err := m.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("idle session accepted")
	}
	lenient := NewManager(e.st, e.clk, Options{IdleTimeout: 24 * time.Hour})
	if _, err := lenient.Validate(ctx, e.th, "acme", tok); !errors.Is(err, ErrNoSession) {
		t.Fatal("idle session revived by a longer idle timeout")
	}
}
