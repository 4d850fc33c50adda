package sqlstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// refreshFixture creates a tenant with user u1 and a live first token r0 of family
// f1, session s1, and returns the handle and the token.
func refreshFixture(t *testing.T, s *Store) (store.TenantHandle, store.RefreshToken) {
	t.Helper()
	h := newTenant(t, s)
	if err := h.Users().CreateUser(t.Context(), store.User{ID: "u1", Email: "a@example.test", Status: store.UserActive}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	root := store.RefreshToken{ID: "r0", FamilyID: "f1", SessionID: "s1", UserID: "u1", TokenHash: randBytes(32),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := h.RefreshTokens().CreateRefreshToken(t.Context(), root); err != nil {
		t.Fatal(err)
	}
	return h, root
}

// TestRotateRefreshTokenChecksChild: a child that does not continue its parent (other
// parent id, family, session or user) is refused with an error, not stored, and the
// parent stays unused; refused arguments change nothing either.
func TestRotateRefreshTokenChecksChild(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h, root := refreshFixture(t, s)
		if err := h.Users().CreateUser(t.Context(), store.User{ID: "u2", Email: "b@example.test", Status: store.UserActive}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		good := func() store.RefreshToken {
			return store.RefreshToken{ID: "r-" + rand16(), FamilyID: root.FamilyID, ParentID: root.ID, SessionID: root.SessionID,
				UserID: root.UserID, TokenHash: randBytes(32), CreatedAt: now, ExpiresAt: root.ExpiresAt}
		}
		bad := map[string]func(*store.RefreshToken){
			"other parent id": func(c *store.RefreshToken) { c.ParentID = "r-other" },
			"no parent id":    func(c *store.RefreshToken) { c.ParentID = "" },
			"other family":    func(c *store.RefreshToken) { c.FamilyID = "f2" },
			"other session":   func(c *store.RefreshToken) { c.SessionID = "s2" },
			"other user":      func(c *store.RefreshToken) { c.UserID = "u2" },
			"no expiry":       func(c *store.RefreshToken) { c.ExpiresAt = time.Time{} },
		}
		for what, spoil := range bad {
			child := good()
			spoil(&child)
			ok, err := h.RefreshTokens().RotateRefreshToken(t.Context(), root.ID, child, now)
			if ok || err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: RotateRefreshToken = %v, %v; want a plain error", what, ok, err)
			}
			if _, err := h.RefreshTokens().RefreshTokenByHash(t.Context(), child.TokenHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the refused child was stored (%v)", what, err)
			}
		}
		if ok, err := h.RefreshTokens().RotateRefreshToken(t.Context(), root.ID, good(), time.Time{}); ok || err == nil {
			t.Errorf("RotateRefreshToken without a time = %v, %v; want an error", ok, err)
		}
		if got, err := h.RefreshTokens().RefreshTokenByHash(t.Context(), root.TokenHash); err != nil || !got.UsedAt.IsZero() {
			t.Fatalf("parent after the refused rotations: %+v, %v; want unused", got, err)
		}
		if ok, err := h.RefreshTokens().RotateRefreshToken(t.Context(), root.ID, good(), now); !ok || err != nil {
			t.Fatalf("RotateRefreshToken with a proper child: %v, %v", ok, err)
		}
	})
}

// TestRefreshTokenArguments: a token needs an expiry; revocation needs a time.
func TestRefreshTokenArguments(t *testing.T) {
	s := openT(t, "sqlite::memory:")
	h, root := refreshFixture(t, s)
	noExpiry := root
	noExpiry.ID, noExpiry.TokenHash, noExpiry.ExpiresAt = "r9", randBytes(32), time.Time{}
	if err := h.RefreshTokens().CreateRefreshToken(t.Context(), noExpiry); err == nil {
		t.Error("CreateRefreshToken without an expiry succeeded")
	}
	if n, err := h.RefreshTokens().RevokeRefreshFamily(t.Context(), root.FamilyID, time.Time{}); err == nil || n != 0 {
		t.Errorf("RevokeRefreshFamily without a time = %d, %v; want an error", n, err)
	}
	if err := s.SigningKeys().CreateSigningKey(t.Context(), store.SigningKey{KID: "", Algorithm: "ES256",
		PublicKey: randBytes(91), PrivateKey: randBytes(150)}); err == nil {
		t.Error("CreateSigningKey with an empty kid succeeded")
	}
	if err := s.SigningKeys().CreateSigningKey(t.Context(), store.SigningKey{KID: "k", Algorithm: "ES256"}); err == nil {
		t.Error("CreateSigningKey without key material succeeded")
	}
}

// TestTwoStoresOneRotation: instances that share a database (two Store values opened
// separately, as two gateway processes would be) rotate one refresh token at once;
// exactly one rotation succeeds and exactly one child is stored (on SQLite the
// in-process write mutex cannot help here, the database's write lock must).
func TestTwoStoresOneRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		h, _ := refreshFixture(t, s1)
		for round := range 5 {
			parent := store.RefreshToken{ID: fmt.Sprintf("p%d", round), FamilyID: "f1", SessionID: "s1", UserID: "u1",
				TokenHash: randBytes(32), ExpiresAt: time.Now().Add(time.Hour)}
			if err := h.RefreshTokens().CreateRefreshToken(t.Context(), parent); err != nil {
				t.Fatal(err)
			}
			const n = 16
			children := make([]store.RefreshToken, n)
			oks := make([]bool, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				children[i] = store.RefreshToken{ID: fmt.Sprintf("c%d-%d", round, i), FamilyID: "f1", ParentID: parent.ID,
					SessionID: "s1", UserID: "u1", TokenHash: randBytes(32), ExpiresAt: parent.ExpiresAt}
				rs := []*Store{s1, s2}[i%2].Tenant(h.TenantID()).RefreshTokens()
				wg.Go(func() {
					<-start
					oks[i], errs[i] = rs.RotateRefreshToken(t.Context(), parent.ID, children[i], time.Now())
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("round %d: RotateRefreshToken: %v", round, errs[i])
				}
				if oks[i] {
					wins++
				}
			}
			var stored int
			if err := s1.db.QueryRowContext(t.Context(), s1.q(`SELECT COUNT(*) FROM refresh_tokens
				WHERE tenant_id = ? AND parent_id = ?`), h.TenantID(), parent.ID).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if wins != 1 || stored != 1 {
				t.Fatalf("round %d: %d rotations succeeded, %d children stored; want 1 and 1", round, wins, stored)
			}
		}
	})
}
