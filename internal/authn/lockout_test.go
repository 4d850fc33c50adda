package authn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

func lockedService(t *testing.T, clk *clock.Fake) (*Service, store.TenantHandle) {
	t.Helper()
	th := newTenant(t)
	h := &identity.Hasher{Cost: 4}
	u, err := PrepareUser(NewUser{Email: "lock@example.com", Password: "an entirely adequate passphrase", Roles: []string{"member"}}, h, identity.PasswordRules{}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &Service{Hasher: h, Clock: clk, Gate: NewGate(64, time.Second),
		Lockout: &Lockout{KV: kv.NewMemory(clk, 1000), Clock: clk, Policy: DefaultLockout}}, th
}

// TestConcurrentWrongPasswordsHashAtMostFive: 100 concurrent wrong passwords for one
// account evaluate at most 5 password hashes and leave the account locked.
func TestConcurrentWrongPasswordsHashAtMostFive(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = s.PasswordLogin(context.Background(), th, "lock@example.com", "wrong password guess") })
	}
	wg.Wait()
	if n := s.Gate.Evaluated(); n > 5 {
		t.Fatalf("%d password hashes evaluated, want at most 5", n)
	}
	_, err := s.PasswordLogin(context.Background(), th, "lock@example.com", "an entirely adequate passphrase")
	if le, ok := IsLocked(err); !ok || le.RetryAfter <= 0 || le.RetryAfter > 15*time.Minute {
		t.Fatalf("right password on a locked account: %v", err)
	}
}

// TestLockoutBackOffAndReset: 15 m, 30 m, 1 h … capped at 24 h; a success resets it;
// an unknown e-mail behaves exactly like a known one.
func TestLockoutBackOffAndReset(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	ctx := context.Background()
	lockWith := func(email string) time.Duration {
		t.Helper()
		var locked time.Duration
		for i := range 5 {
			_, err := s.PasswordLogin(ctx, th, email, "wrong password guess")
			var fe *FailureError
			if !errors.As(err, &fe) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			if (fe.LockedFor > 0) != (i == 4) {
				t.Fatalf("attempt %d locked for %v", i+1, fe.LockedFor)
			}
			locked = fe.LockedFor
		}
		if _, err := s.PasswordLogin(ctx, th, email, "wrong password guess"); !isLockedErr(err) {
			t.Fatalf("6th attempt: %v", err)
		}
		return locked
	}
	for _, email := range []string{"lock@example.com", "nobody@example.com"} {
		var got []time.Duration
		for range 9 {
			d := lockWith(email)
			got = append(got, d)
			clk.Advance(d + time.Second)
		}
		want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: lock durations %v, want %v", email, got, want)
			}
		}
	}
	// A success resets the back-off: the next lock is 15 minutes again.
	if _, err := s.PasswordLogin(ctx, th, "lock@example.com", "an entirely adequate passphrase"); err != nil {
		t.Fatalf("sign-in after the lock: %v", err)
	}
	if d := lockWith("lock@example.com"); d != 15*time.Minute {
		t.Fatalf("after a success the next lock is %v, want 15m", d)
	}
	// An admin unlock opens it at once.
	if err := s.Lockout.Unlock(ctx, th.TenantID(), "LOCK@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PasswordLogin(ctx, th, "lock@example.com", "an entirely adequate passphrase"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func isLockedErr(err error) bool { _, ok := IsLocked(err); return ok }

// TestLockoutFailsClosed: when the kv store cannot count, no password is checked.
func TestLockoutFailsClosed(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s, th := lockedService(t, clk)
	s.Lockout.KV = downKV{}
	_, err := s.PasswordLogin(context.Background(), th, "lock@example.com", "an entirely adequate passphrase")
	if !errors.Is(err, kv.ErrUnavailable) || s.Gate.Evaluated() != 0 {
		t.Fatalf("kv down: %v, %d hashes", err, s.Gate.Evaluated())
	}
}

type downKV struct{ kv.Store }

func (downKV) TTL(context.Context, string) (time.Duration, error) { return 0, kv.ErrUnavailable }

// TestTenantLockoutPolicy: a tenant's own threshold and durations replace the gateway's.
func TestTenantLockoutPolicy(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	s.Lockout.TenantPolicy = func(context.Context, string) (LockoutPolicy, error) {
		return LockoutPolicy{Threshold: 3, Base: time.Minute}, nil // Max stays the gateway's
	}
	ctx := context.Background()
	var locked time.Duration
	for i := range 3 {
		_, err := s.PasswordLogin(ctx, th, "lock@example.com", "wrong password guess")
		var fe *FailureError
		if !errors.As(err, &fe) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		locked = fe.LockedFor
	}
	if locked != time.Minute {
		t.Fatalf("third failure locked for %v, want the tenant's 1m", locked)
	}
	if _, err := s.PasswordLogin(ctx, th, "lock@example.com", "an entirely adequate passphrase"); !isLockedErr(err) {
		t.Fatalf("4th attempt: %v", err)
	}
}
