package authn

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// counters is a small fake of the lockout's Counters: a map under one mutex, expiry
// read from a clock. (kv.Memory and Redis pass the kv conformance suite; the e2e tests
// run the lockout on both.)
type counters struct {
	mu  sync.Mutex
	clk clock.Clock
	m   map[string]counter
}

type counter struct {
	n       int64
	expires time.Time // zero: none
}

func newCounters(clk clock.Clock) *counters { return &counters{clk: clk, m: map[string]counter{}} }

func (c *counters) live(key string) (counter, bool) {
	v, ok := c.m[key]
	if ok && !v.expires.IsZero() && !c.clk.Now().Before(v.expires) {
		delete(c.m, key)
		return counter{}, false
	}
	return v, ok
}

func (c *counters) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.live(key)
	if !ok && ttl > 0 {
		v.expires = c.clk.Now().Add(ttl)
	}
	v.n++
	c.m[key] = v
	return v.n, nil
}

func (c *counters) Decr(_ context.Context, key string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.live(key)
	if !ok || v.n <= 1 {
		delete(c.m, key)
		return 0, nil
	}
	v.n--
	c.m[key] = v
	return v.n, nil
}

func (c *counters) GetInt(_ context.Context, key string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, _ := c.live(key)
	return v.n, nil
}

func (c *counters) SetInt(_ context.Context, key string, n int64, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := counter{n: n}
	if ttl > 0 {
		v.expires = c.clk.Now().Add(ttl)
	}
	c.m[key] = v
	return nil
}

func (c *counters) TTL(_ context.Context, key string) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.live(key)
	if !ok || v.expires.IsZero() {
		return 0, nil
	}
	return v.expires.Sub(c.clk.Now()), nil
}

func (c *counters) Del(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}

const goodPassword = "an entirely adequate passphrase"

func lockedService(t *testing.T, clk clock.Clock) (*Passwords, store.TenantHandle) {
	t.Helper()
	th := newTenant(t)
	h := &identity.Hasher{Cost: 4}
	u, err := PrepareUser(NewUser{Email: "lock@example.com", Password: goodPassword, Roles: []string{"member"}}, h, identity.PasswordRules{}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &Passwords{Hasher: h, Clock: clk, Gate: NewGate(GateConfig{Slots: 64, Share: 1, Procs: 64}),
		Lockout: &Lockout{KV: newCounters(clk), Policy: DefaultLockout}}, th
}

// TestConcurrentWrongPasswordsHashAtMostFive: 100 concurrent wrong passwords for one
// account evaluate at most 5 password hashes and leave the account locked.
func TestConcurrentWrongPasswordsHashAtMostFive(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = s.Check(context.Background(), th, "lock@example.com", "wrong password guess") })
	}
	wg.Wait()
	if n := s.Gate.Evaluated(); n > 5 {
		t.Fatalf("%d password hashes evaluated, want at most 5", n)
	}
	_, err := s.Check(context.Background(), th, "lock@example.com", goodPassword)
	if le, ok := IsLocked(err); !ok || le.RetryAfter <= 0 || le.RetryAfter > 15*time.Minute {
		t.Fatalf("right password on a locked account: %v", err)
	}
}

// TestConcurrentCorrectPasswordsAreNeverLocked: ten simultaneous sign-ins with the
// right password all succeed. (Attempts used to take numbered slots, so those past the
// threshold were refused as locked for 15 minutes although nothing had failed.)
func TestConcurrentCorrectPasswordsAreNeverLocked(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Check(context.Background(), th, "lock@example.com", goodPassword) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sign-in %d: %v", i, err)
		}
	}
	if d, _ := s.Lockout.Locked(context.Background(), th.TenantID(), "lock@example.com"); d != 0 {
		t.Fatalf("locked for %v after ten correct passwords", d)
	}
}

// TestBusyIsAShortRetryNotALock: while the places are held by attempts still being
// checked, a further attempt waits, then gets a one-second retry — never a lock.
func TestBusyIsAShortRetryNotALock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := clock.Real{} // fake time inside the bubble
		l := &Lockout{KV: newCounters(clk), Policy: LockoutPolicy{Threshold: 2, Base: 15 * time.Minute, Max: time.Hour}, Wait: time.Second}
		ctx := context.Background()
		a1, err1 := l.Begin(ctx, "t", "ann@example.com")
		a2, err2 := l.Begin(ctx, "t", "ann@example.com")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		_, err := l.Begin(ctx, "t", "ann@example.com")
		var be *BusyError
		if !errors.As(err, &be) || be.RetryAfter != time.Second {
			t.Fatalf("third concurrent attempt: %v, want a one-second retry", err)
		}
		if _, locked := IsLocked(err); locked {
			t.Fatal("concurrency reported as a lock")
		}
		// One attempt succeeds while the next waits: the waiter is admitted.
		done := make(chan error)
		go func() {
			a, err := l.Begin(ctx, "t", "ann@example.com")
			if err == nil {
				err = l.Succeed(ctx, a)
			}
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		if err := l.Succeed(ctx, a1); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiting attempt: %v", err)
		}
		if err := l.Abort(ctx, a2); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLockoutBackOffAndReset: 15 m, 30 m, 1 h … capped at 24 h; a success resets it;
// an unknown e-mail behaves exactly like a known one.
func TestLockoutBackOffAndReset(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	ctx := context.Background()
	lockWith := func(email string) time.Duration {
		t.Helper()
		var locked time.Duration
		for i := range 5 {
			_, err := s.Check(ctx, th, email, "wrong password guess")
			var fe *FailureError
			if !errors.As(err, &fe) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			if (fe.LockedFor > 0) != (i == 4) {
				t.Fatalf("attempt %d locked for %v", i+1, fe.LockedFor)
			}
			locked = fe.LockedFor
		}
		if _, err := s.Check(ctx, th, email, "wrong password guess"); !isLockedErr(err) {
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
	if _, err := s.Check(ctx, th, "lock@example.com", goodPassword); err != nil {
		t.Fatalf("sign-in after the lock: %v", err)
	}
	if d := lockWith("lock@example.com"); d != 15*time.Minute {
		t.Fatalf("after a success the next lock is %v, want 15m", d)
	}
	// An admin unlock opens it at once.
	if err := s.Lockout.Unlock(ctx, th.TenantID(), "LOCK@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, th, "lock@example.com", goodPassword); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

// TestFailuresBetweenSuccessesDoNotAccumulate: only consecutive failures lock.
func TestFailuresBetweenSuccessesDoNotAccumulate(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	ctx := context.Background()
	for round := range 4 {
		for i := range 4 {
			if _, err := s.Check(ctx, th, "lock@example.com", "wrong "+strconv.Itoa(i)); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("round %d failure %d: %v", round, i, err)
			}
		}
		if _, err := s.Check(ctx, th, "lock@example.com", goodPassword); err != nil {
			t.Fatalf("round %d: the right password after 4 failures: %v", round, err)
		}
	}
}

func isLockedErr(err error) bool { _, ok := IsLocked(err); return ok }

// TestLockoutFailsClosed: when the counters cannot be read, no password is checked.
func TestLockoutFailsClosed(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	s, th := lockedService(t, clk)
	s.Lockout.KV = downCounters{}
	_, err := s.Check(context.Background(), th, "lock@example.com", goodPassword)
	if !errors.Is(err, kv.ErrUnavailable) || s.Gate.Evaluated() != 0 {
		t.Fatalf("kv down: %v, %d hashes", err, s.Gate.Evaluated())
	}
}

type downCounters struct{ Counters }

func (downCounters) TTL(context.Context, string) (time.Duration, error) { return 0, kv.ErrUnavailable }

// TestTenantLockoutPolicy: a tenant's own threshold and durations replace the gateway's.
func TestTenantLockoutPolicy(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	s.Lockout.TenantPolicy = func(context.Context, string) (LockoutPolicy, error) {
		return LockoutPolicy{Threshold: 3, Base: time.Minute}, nil // Max stays the gateway's
	}
	ctx := context.Background()
	var locked time.Duration
	for i := range 3 {
		_, err := s.Check(ctx, th, "lock@example.com", "wrong password guess")
		var fe *FailureError
		if !errors.As(err, &fe) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		locked = fe.LockedFor
	}
	if locked != time.Minute {
		t.Fatalf("third failure locked for %v, want the tenant's 1m", locked)
	}
	if _, err := s.Check(ctx, th, "lock@example.com", goodPassword); !isLockedErr(err) {
		t.Fatalf("4th attempt: %v", err)
	}
}

// TestOverloadDoesNotCount: an attempt refused for want of hashing budget is neither a
// failure nor a lock.
func TestOverloadDoesNotCount(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s, th := lockedService(t, clk)
	s.Gate = NewGate(GateConfig{Procs: 1, Share: 0.001, Burst: time.Millisecond})
	s.Gate.mu.Lock()
	s.Gate.tokens = -10 // spent
	s.Gate.mu.Unlock()
	for range 20 {
		if _, err := s.Check(context.Background(), th, "lock@example.com", "wrong password guess"); !errors.Is(err, ErrBusy) {
			t.Fatalf("over budget: %v", err)
		}
	}
	if d, _ := s.Lockout.Locked(context.Background(), th.TenantID(), "lock@example.com"); d != 0 || s.Gate.Evaluated() != 0 {
		t.Fatalf("refused attempts locked the account (%v) or were hashed (%d)", d, s.Gate.Evaluated())
	}
}
