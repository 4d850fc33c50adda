package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
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

// BusyError: other attempts for the same account are being checked right now and
// together with the recorded failures they could reach the threshold, so this one may
// not start yet. It is not a lock: the client retries after RetryAfter (a second).
type BusyError struct{ RetryAfter time.Duration }

func (e *BusyError) Error() string {
	return fmt.Sprintf("other sign-in attempts for this account are in progress; retry after %v", e.RetryAfter)
}

// Counters is what the lockout needs of the hot shared state (kv.Store: memory, or
// Redis shared by every instance). Every operation is atomic.
type Counters interface {
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	Decr(ctx context.Context, key string) (int64, error)
	GetInt(ctx context.Context, key string) (int64, error)
	SetInt(ctx context.Context, key string, v int64, ttl time.Duration) error
	TTL(ctx context.Context, key string) (time.Duration, error)
	Del(ctx context.Context, keys ...string) error
}

// Lockout counts consecutive failures per account (the e-mail as typed, so unknown
// addresses are counted and locked exactly like real ones) in Counters.
//
// Only failures lock. Concurrency is handled by admission, not by counting attempts
// as failures: an attempt may start only while the recorded failures plus the
// attempts still being checked stay within the threshold. So 100 concurrent wrong
// passwords evaluate at most Threshold passwords (the rest wait, then find the account
// locked), while 10 concurrent *correct* passwords all succeed — the later ones wait a
// moment for a free place instead of being refused as locked.
//
// Keys per account: f (recorded failures, within a day), i (attempts in flight), l
// (the lock, its TTL the lock's remaining time), n (how many locks since the last
// success, for the doubling).
type Lockout struct {
	KV     Counters
	Policy LockoutPolicy // the gateway's policy
	// TenantPolicy, when set, returns a tenant's overrides: zero fields keep Policy's.
	TenantPolicy func(ctx context.Context, tenantID string) (LockoutPolicy, error)
	// Wait is how long an attempt waits for a free place before it is answered
	// BusyError (default 3 s); Poll how often it looks (default 50 ms).
	Wait, Poll time.Duration
}

// Effective is the policy in effect for a tenant: its overrides merged into the
// gateway's policy.
func (l *Lockout) Effective(ctx context.Context, tenantID string) (LockoutPolicy, error) {
	if l.TenantPolicy == nil {
		return l.Merge(LockoutPolicy{}), nil
	}
	t, err := l.TenantPolicy(ctx, tenantID)
	if err != nil {
		return l.Merge(LockoutPolicy{}), fmt.Errorf("reading tenant lockout policy: %w", err)
	}
	return l.Merge(t), nil
}

// Merge applies a tenant's overrides t (zero fields: the gateway's) to the gateway's
// policy.
func (l *Lockout) Merge(t LockoutPolicy) LockoutPolicy {
	p := l.Policy
	if p.Threshold <= 0 {
		p = DefaultLockout
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
	return p
}

// Attempt is an admitted try; it must end with exactly one of Fail, Succeed or Abort.
type Attempt struct {
	keys   keys
	policy LockoutPolicy
	active bool
}

type keys struct{ fails, inflight, lock, level string }

// levelMemory is how long the doubling remembers earlier lockouts without a success.
const levelMemory = 30 * 24 * time.Hour

// failWindow: failures count as consecutive while they fall within a day of the first.
const failWindow = 24 * time.Hour

// inflightTTL bounds how long a crashed instance's in-flight attempts can hold places.
const inflightTTL = time.Minute

func lockKeys(tenantID, subject string) keys {
	h := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(strings.TrimSpace(subject))))
	id := hex.EncodeToString(h[:16]) // the e-mail is not kept in the shared store
	return keys{fails: "lockout:f:" + id, inflight: "lockout:i:" + id, lock: "lockout:l:" + id, level: "lockout:n:" + id}
}

// Begin admits an attempt for subject (the e-mail as typed) in tenant, or returns a
// *LockedError (locked) or a *BusyError (no free place within Wait). Any store error
// is returned: callers fail closed (503) and check nothing.
func (l *Lockout) Begin(ctx context.Context, tenantID, subject string) (Attempt, error) {
	if l == nil {
		return Attempt{}, nil
	}
	pol, err := l.Effective(ctx, tenantID)
	if err != nil {
		return Attempt{}, err
	}
	k := lockKeys(tenantID, subject)
	wait, poll := l.Wait, l.Poll
	if wait <= 0 {
		wait = 3 * time.Second
	}
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	var deadline <-chan time.Time
	for {
		ok, err := l.admit(ctx, k, pol)
		if err != nil || ok {
			return Attempt{keys: k, policy: pol, active: ok}, err
		}
		// Every place is taken by failures and attempts in flight: wait for one of
		// them to end (a success frees them all, a failure may lock).
		if deadline == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-time.After(poll):
		case <-deadline:
			return Attempt{}, &BusyError{RetryAfter: time.Second}
		case <-ctx.Done():
			return Attempt{}, ctx.Err()
		}
	}
}

// admit takes a place when failures + attempts in flight stay within the threshold.
// The order of the steps makes it safe without a transaction: the in-flight count is
// raised before the failures are read, a failure is recorded before its in-flight
// place is given back (so every attempt is counted at least once), and the lock is set
// before the failures are cleared (so the final check below sees it).
func (l *Lockout) admit(ctx context.Context, k keys, pol LockoutPolicy) (bool, error) {
	if err := l.locked(ctx, k); err != nil {
		return false, err
	}
	n, err := l.KV.Incr(ctx, k.inflight, inflightTTL)
	if err != nil {
		return false, fmt.Errorf("counting attempt: %w", err)
	}
	f, err := l.KV.GetInt(ctx, k.fails)
	if err == nil && n+f <= int64(pol.Threshold) {
		if err = l.locked(ctx, k); err == nil {
			return true, nil
		}
	}
	if _, derr := l.KV.Decr(ctx, k.inflight); derr != nil && err == nil {
		err = fmt.Errorf("releasing attempt: %w", derr)
	}
	if err != nil {
		return false, err
	}
	return false, l.locked(ctx, k)
}

// locked returns a *LockedError while the lock key lives.
func (l *Lockout) locked(ctx context.Context, k keys) error {
	ttl, err := l.KV.TTL(ctx, k.lock)
	if err != nil {
		return fmt.Errorf("reading lockout: %w", err)
	}
	if ttl > 0 {
		return &LockedError{RetryAfter: ttl}
	}
	return nil
}

// Fail records a failed attempt. The failure that reaches the threshold locks the
// account and reports the lock's duration (0 when this failure did not lock).
func (l *Lockout) Fail(ctx context.Context, a Attempt) (time.Duration, error) {
	if l == nil || !a.active {
		return 0, nil
	}
	f, err := l.KV.Incr(ctx, a.keys.fails, failWindow)
	if err != nil {
		return 0, fmt.Errorf("counting failure: %w", err)
	}
	var d time.Duration
	if f >= int64(a.policy.Threshold) {
		if d, err = l.lock(ctx, a); err != nil {
			return 0, err
		}
	}
	if _, err := l.KV.Decr(ctx, a.keys.inflight); err != nil {
		return 0, fmt.Errorf("releasing attempt: %w", err)
	}
	return d, nil
}

func (l *Lockout) lock(ctx context.Context, a Attempt) (time.Duration, error) {
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
	if err := l.KV.Del(ctx, a.keys.fails); err != nil { // a fresh count once it opens
		return 0, fmt.Errorf("resetting failures: %w", err)
	}
	return d, nil
}

// Succeed resets the subject's failures and back-off.
func (l *Lockout) Succeed(ctx context.Context, a Attempt) error {
	if l == nil || !a.active {
		return nil
	}
	if err := l.KV.Del(ctx, a.keys.fails, a.keys.level, a.keys.lock); err != nil {
		return fmt.Errorf("resetting lockout: %w", err)
	}
	return l.Abort(ctx, a)
}

// Abort gives the attempt's place back without recording anything (the check could
// not run: the sign-in budget was exhausted or a dependency failed).
func (l *Lockout) Abort(ctx context.Context, a Attempt) error {
	if l == nil || !a.active {
		return nil
	}
	if _, err := l.KV.Decr(ctx, a.keys.inflight); err != nil {
		return fmt.Errorf("releasing attempt: %w", err)
	}
	return nil
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
