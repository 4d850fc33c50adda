package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// LockoutPolicy: Threshold consecutive failures (password or second factor) lock the
// account for Base; each further lockout doubles it, up to Max, until a successful
// sign-in resets the sequence.
type LockoutPolicy struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
}

// DefaultLockout is SPEC §5: 5 failures, 15 minutes doubling to at most 24 hours.
var DefaultLockout = LockoutPolicy{Threshold: 5, Base: 15 * time.Minute, Max: 24 * time.Hour}

// LockedError: the account is locked; RetryAfter tells when it opens again.
type LockedError struct{ RetryAfter time.Duration }

func (e *LockedError) Error() string { return fmt.Sprintf("account locked for %v", e.RetryAfter) }

// Nil-safe: a nil *Lockout never locks (tests and embedders without a kv store).

// Lockout counts failures in the kv store (shared by every instance when it is Redis).
// Counting is atomic and happens before the password is checked: each attempt first
// takes a numbered slot, and only the first Threshold slots are checked at all, so 100
// concurrent wrong passwords cost at most Threshold password hashes. Unknown e-mail
// addresses are counted and locked exactly like real accounts.
type Lockout struct {
	KV     kv.Store
	Policy LockoutPolicy // the gateway's policy
	Clock  clock.Clock
	// TenantPolicy, when set, returns a tenant's overrides: zero fields keep Policy's.
	TenantPolicy func(ctx context.Context, tenantID string) (LockoutPolicy, error)
}

// policyFor merges the tenant's overrides into the gateway's policy.
func (l *Lockout) policyFor(ctx context.Context, tenantID string) (LockoutPolicy, error) {
	p := l.Policy
	if l.TenantPolicy == nil {
		return p, nil
	}
	t, err := l.TenantPolicy(ctx, tenantID)
	if err != nil {
		return p, fmt.Errorf("reading tenant lockout policy: %w", err)
	}
	if t.Threshold > 0 {
		p.Threshold = t.Threshold
	}
	if t.Base > 0 {
		p.Base = t.Base
	}
	if t.Max > 0 {
		p.Max = t.Max
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	return p, nil
}

// Attempt is a reserved try.
type Attempt struct {
	keys   keys
	n      int64
	policy LockoutPolicy
}

type keys struct{ fails, lock, level string }

// levelMemory is how long the doubling remembers earlier lockouts without a success.
const levelMemory = 30 * 24 * time.Hour

// failWindow: failures count as consecutive while each set of Threshold falls within a
// day of its first failure.
const failWindow = 24 * time.Hour

func lockKeys(tenantID, subject string) keys {
	h := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(strings.TrimSpace(subject))))
	id := hex.EncodeToString(h[:16]) // the e-mail is not kept in the shared store
	return keys{fails: "lockout:f:" + id, lock: "lockout:l:" + id, level: "lockout:n:" + id}
}

// Begin reserves an attempt for subject (the e-mail as typed) in tenant, or returns a
// *LockedError. Any kv error is returned (callers fail closed: 503).
func (l *Lockout) Begin(ctx context.Context, tenantID, subject string) (Attempt, error) {
	if l == nil {
		return Attempt{}, nil
	}
	pol, err := l.policyFor(ctx, tenantID)
	if err != nil {
		return Attempt{}, err
	}
	k := lockKeys(tenantID, subject)
	ttl, err := l.KV.TTL(ctx, k.lock)
	if err != nil {
		return Attempt{}, fmt.Errorf("reading lockout: %w", err)
	}
	if ttl > 0 {
		return Attempt{}, &LockedError{RetryAfter: ttl}
	}
	n, err := l.KV.Incr(ctx, k.fails, failWindow)
	if err != nil {
		return Attempt{}, fmt.Errorf("counting attempt: %w", err)
	}
	if n > int64(pol.Threshold) {
		// The slots are taken by attempts still running (or the lock is being set).
		if ttl, err := l.KV.TTL(ctx, k.lock); err == nil && ttl > 0 {
			return Attempt{}, &LockedError{RetryAfter: ttl}
		}
		return Attempt{}, &LockedError{RetryAfter: pol.Base}
	}
	return Attempt{keys: k, n: n, policy: pol}, nil
}

// Fail records a failed attempt. The attempt that used the last slot locks the account
// and reports the lock's duration (0 when this failure did not lock).
func (l *Lockout) Fail(ctx context.Context, a Attempt) (time.Duration, error) {
	if l == nil || a.n != int64(a.policy.Threshold) {
		return 0, nil
	}
	pol := a.policy
	level, err := l.KV.Incr(ctx, a.keys.level, levelMemory)
	if err != nil {
		return 0, fmt.Errorf("counting lockouts: %w", err)
	}
	d := pol.Base
	for i := int64(1); i < level && d < pol.Max; i++ {
		d *= 2
	}
	d = min(d, pol.Max)
	if err := l.KV.SetInt(ctx, a.keys.lock, level, d); err != nil {
		return 0, fmt.Errorf("locking: %w", err)
	}
	if err := l.KV.Del(ctx, a.keys.fails); err != nil { // a fresh set of slots once it opens
		return 0, fmt.Errorf("resetting attempts: %w", err)
	}
	return d, nil
}

// Succeed resets the subject's failures and back-off.
func (l *Lockout) Succeed(ctx context.Context, a Attempt) error {
	if l == nil {
		return nil
	}
	return l.KV.Del(ctx, a.keys.fails, a.keys.level, a.keys.lock)
}

// Unlock lifts a lock and resets the back-off (admin action).
func (l *Lockout) Unlock(ctx context.Context, tenantID, subject string) error {
	k := lockKeys(tenantID, subject)
	return l.KV.Del(ctx, k.fails, k.level, k.lock)
}

// Locked reports the time left on subject's lock (0: not locked).
func (l *Lockout) Locked(ctx context.Context, tenantID, subject string) (time.Duration, error) {
	return l.KV.TTL(ctx, lockKeys(tenantID, subject).lock)
}

// IsLocked tells a *LockedError.
func IsLocked(err error) (*LockedError, bool) {
	var le *LockedError
	ok := errors.As(err, &le)
	return le, ok
}
