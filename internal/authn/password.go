package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrInvalidCredentials is the one answer for every failed password sign-in.
var ErrInvalidCredentials = errors.New("invalid credentials")

// Failure reasons, for the audit record and logs only (never shown to the client).
const (
	ReasonUnknownUser   = "unknown_user"
	ReasonWrongPassword = "wrong_password"
	ReasonNotActive     = "account_not_active"
	ReasonNoPassword    = "no_password"
)

// FailureError carries the internal reason behind ErrInvalidCredentials.
type FailureError struct {
	Reason    string
	UserID    string        // empty for unknown users
	LockedFor time.Duration // > 0: this failure locked the account for that long
}

func (e *FailureError) Error() string { return "invalid credentials: " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidCredentials) hold.
func (e *FailureError) Unwrap() error { return ErrInvalidCredentials }

// Passwords verifies passwords under the lockout and the hashing gate.
type Passwords struct {
	Hasher  *identity.Hasher
	Clock   clock.Clock
	Gate    *Gate    // bounds hashing; nil: unbounded (tests)
	Lockout *Lockout // nil: no lockout
}

// Check verifies email and password in tenant. On success it returns the user
// (re-hashing the password first if the configured cost changed). Every wrong
// credential is a *FailureError wrapping ErrInvalidCredentials; a locked account is a
// *LockedError, an account with attempts in flight a *BusyError, an exhausted hashing
// budget an *OverloadError; other errors are store failures.
func (s *Passwords) Check(ctx context.Context, tenant store.TenantHandle, email, password string) (store.User, error) {
	if err := s.Gate.Admit(); err != nil {
		return store.User{}, err // refused before anything else is done for it
	}
	attempt, err := s.Lockout.Begin(ctx, tenant.TenantID(), email)
	if err != nil {
		return store.User{}, err // locked, busy, or the kv store failed: no password check
	}
	u, err := s.checkPassword(ctx, tenant, email, password)
	var fe *FailureError
	switch {
	case errors.As(err, &fe):
		if fe.LockedFor, err = s.Lockout.Fail(ctx, attempt); err != nil {
			return store.User{}, err
		}
		return store.User{}, fe
	case err != nil:
		_ = s.Lockout.Abort(ctx, attempt)
		return store.User{}, err
	}
	if err := s.Lockout.Succeed(ctx, attempt); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// checkPassword is Check without the lockout.
func (s *Passwords) checkPassword(ctx context.Context, tenant store.TenantHandle, email, password string) (store.User, error) {
	var u store.User
	if norm, err := identity.NormalizeEmail(email); err == nil {
		u, err = tenant.Users().UserByEmail(ctx, norm)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("looking up user: %w", err)
		}
	}
	if u.ID == "" || u.PasswordHash == "" {
		// Same work as a real check: one bcrypt at the configured cost.
		if err := s.Gate.Do(ctx, func() { s.Hasher.EqualiseTiming(password) }); err != nil {
			return store.User{}, err
		}
		reason := ReasonUnknownUser
		if u.ID != "" {
			reason = ReasonNoPassword
		}
		return store.User{}, &FailureError{Reason: reason, UserID: u.ID}
	}
	var ok, rehash bool
	if err := s.Gate.Do(ctx, func() { ok, rehash = s.Hasher.Verify(u.PasswordHash, password) }); err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, &FailureError{Reason: ReasonWrongPassword, UserID: u.ID}
	}
	if u.Status != store.UserActive {
		return store.User{}, &FailureError{Reason: ReasonNotActive, UserID: u.ID}
	}
	if rehash {
		if h, err := s.Hasher.Hash(password); err == nil {
			if err := tenant.Users().SetPasswordHash(ctx, u.ID, h); err != nil {
				return store.User{}, fmt.Errorf("re-hashing password: %w", err)
			}
			u.PasswordHash = h
		}
	}
	return u, nil
}
