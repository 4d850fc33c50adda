package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func newTenant(t *testing.T) store.TenantHandle {
	t.Helper()
	return testdb.Workspace(t, testdb.Store(t), "acme")
}

func bcryptCost(t *testing.T, hash string) int {
	t.Helper()
	i := strings.Index(hash, "$2")
	c, err := bcrypt.Cost([]byte(hash[i:]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPasswordCheckOutcomes(t *testing.T) {
	t.Parallel()
	th := newTenant(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	old := &identity.Hasher{Cost: 4}
	mk := func(email, status, pw string) store.User {
		u, err := PrepareUser(NewUser{Email: email, Password: pw, Roles: []string{"member"}}, old, identity.PasswordRules{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		u.Status = status
		if err := th.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	active := mk("Active@Example.com", store.UserActive, "an entirely adequate passphrase")
	mk("restricted@example.com", store.UserRestricted, "an entirely adequate passphrase")
	nopw, _ := PrepareUser(NewUser{Email: "nopw@example.com", Roles: []string{"member"}}, old, identity.PasswordRules{}, clk)
	if err := th.Users().CreateUser(ctx, nopw); err != nil {
		t.Fatal(err)
	}

	// The configured cost went up: a successful sign-in re-hashes.
	svc := &Passwords{Hasher: &identity.Hasher{Cost: 5}, Clock: clk}
	u, err := svc.Check(ctx, th, " ACTIVE@example.com ", "an entirely adequate passphrase")
	if err != nil || u.ID != active.ID {
		t.Fatalf("valid login: %v", err)
	}
	stored, _ := th.Users().UserByID(ctx, active.ID)
	if bcryptCost(t, stored.PasswordHash) != 5 || bcryptCost(t, active.PasswordHash) != 4 {
		t.Fatal("password not re-hashed at the new cost")
	}
	if !stored.LastLoginAt.IsZero() {
		t.Errorf("a password check alone (re-authentication, password change) recorded a sign-in at %v", stored.LastLoginAt)
	}
	if _, err := svc.Check(ctx, th, "active@example.com", "an entirely adequate passphrase"); err != nil {
		t.Fatalf("login after re-hash: %v", err)
	}

	for _, c := range []struct{ email, pw, reason string }{
		{"active@example.com", "an entirely adequate passphrasE", ReasonWrongPassword},
		{"ghost@example.com", "an entirely adequate passphrase", ReasonUnknownUser},
		{"not-an-email", "an entirely adequate passphrase", ReasonUnknownUser},
		{"restricted@example.com", "an entirely adequate passphrase", ReasonNotActive},
		{"nopw@example.com", "", ReasonNoPassword},
	} {
		_, err := svc.Check(ctx, th, c.email, c.pw)
		var fe *FailureError
		if !errors.Is(err, ErrInvalidCredentials) || !errors.As(err, &fe) || fe.Reason != c.reason {
			t.Errorf("%s: %v, want reason %s", c.email, err, c.reason)
		}
	}
}

func TestSetupTokenIsSingleUseAndOnlyForEmptyTenant(t *testing.T) {
	t.Parallel()
	th := newTenant(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	h := &identity.Hasher{Cost: 4}
	tok, err := IssueSetupToken(ctx, th, clk)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := PrepareUser(NewUser{Email: "o@example.com", Password: "an entirely adequate passphrase", Roles: []string{"owner"}}, h, identity.PasswordRules{}, clk)
	if err != nil {
		t.Fatal(err)
	}
	// Expired after an hour.
	clk.Advance(SetupLinkLifetime + time.Second)
	if err := CompleteSetup(ctx, th, tok, owner, clk); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	tok, _ = IssueSetupToken(ctx, th, clk)
	if err := CompleteSetup(ctx, th, tok, owner, clk); err != nil {
		t.Fatal(err)
	}
	second, _ := PrepareUser(NewUser{Email: "x@example.com", Password: "an entirely adequate passphrase", Roles: []string{"owner"}}, h, identity.PasswordRules{}, clk)
	if err := CompleteSetup(ctx, th, tok, second, clk); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("second setup: %v", err)
	}
	if _, err := IssueSetupToken(ctx, th, clk); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("setup token issued for a tenant with users: %v", err)
	}
}

func TestPrepareUserRejectsBadInput(t *testing.T) {
	t.Parallel()
	h := &identity.Hasher{Cost: 4}
	for _, n := range []NewUser{
		{Email: "bad", Password: "an entirely adequate passphrase", Roles: []string{"member"}},
		{Email: "a@example.com", Password: "short", Roles: []string{"member"}},
		{Email: "a@example.com", Password: "an entirely adequate passphrase", Roles: []string{"root"}},
		{Email: "a@example.com", DisplayName: "Evil\r\nX-Gatehouse-Roles: owner", Password: "an entirely adequate passphrase", Roles: []string{"member"}},
	} {
		var ie *InputError
		if _, err := PrepareUser(n, h, identity.PasswordRules{}, clock.Real{}); !errors.As(err, &ie) {
			t.Errorf("%+v: %v", n, err)
		}
	}
}

// TestConcurrentSetupCreatesOneOwner: several live setup links used at the same moment
// (one is logged per start) create exactly one owner.
func TestConcurrentSetupCreatesOneOwner(t *testing.T) {
	t.Parallel()
	th := newTenant(t)
	ctx := context.Background()
	clk := clock.Real{}
	h := &identity.Hasher{Cost: 4}
	var toks []string
	for range 6 {
		tok, err := IssueSetupToken(ctx, th, clk)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	// Every setup passes the "no users yet" check before any creates its owner: the
	// interleaving that a check-then-act implementation loses.
	barrier := &countBarrier{UserStore: th.Users()}
	barrier.wg.Add(len(toks))
	bth := barrierHandle{TenantHandle: th, users: barrier}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i, tok := range toks {
		u, err := PrepareUser(NewUser{Email: fmt.Sprintf("o%d@example.com", i), Password: "an entirely adequate passphrase", Roles: []string{"owner"}}, h, identity.PasswordRules{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if CompleteSetup(ctx, bth, tok, u, clk) == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n, _ := th.Users().CountUsers(ctx)
	if won != 1 || n != 1 {
		t.Fatalf("%d setups succeeded, %d users exist; want exactly 1", won, n)
	}
}

// countBarrier holds every CountUsers call until all expected callers have made one.
type countBarrier struct {
	store.UserStore
	wg sync.WaitGroup
}

func (c *countBarrier) CountUsers(ctx context.Context) (int, error) {
	n, err := c.UserStore.CountUsers(ctx)
	c.wg.Done()
	c.wg.Wait()
	return n, err
}

type barrierHandle struct {
	store.TenantHandle
	users *countBarrier
}

func (b barrierHandle) Users() store.UserStore { return b.users }
