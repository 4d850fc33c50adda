package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Errors an administrator can cause.
var (
	// ErrForbidden: the caller's role does not allow this (only owners act on owners
	// and admins; only owners and admins administer at all).
	ErrForbidden = errors.New("not allowed for this role")
	// ErrNoSuchUser: no such member in this workspace.
	ErrNoSuchUser = errors.New("no such user")
)

// FieldError is a value an administrator typed that cannot be used; Field names the
// setting (as the API and the CLI spell it), Msg says why.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Admin is who administers: a signed-in owner or admin (with the session and request
// they act through), or the CLI, which acts as an owner.
type Admin struct {
	audit.Actor
	Origin audit.Origin
	Roles  []string
	// Verified is when the administrator last proved who they are in this session
	// (member administration needs it recent); zero for the CLI, which is exempt.
	Verified time.Time
	// PortalURL is the portal's absolute address, for the links in invitations and
	// reset mails ("https://app.example.com/auth").
	PortalURL string
}

// CLI is the administrator of command-line actions.
func CLI() Admin { return Admin{Actor: audit.CLI, Roles: []string{identity.RoleOwner}} }

// IsOwner tells an owner (the CLI is one).
func (a Admin) IsOwner() bool { return slices.Contains(a.Roles, identity.RoleOwner) }

// IsAdmin tells an owner or admin.
func (a Admin) IsAdmin() bool { return a.IsOwner() || slices.Contains(a.Roles, identity.RoleAdmin) }

// Sessions is what the administrator's use cases need of the session manager.
type Sessions interface {
	RevokeUser(ctx context.Context, tenant store.TenantHandle, userID, except string) (int, error)
	Revoke(ctx context.Context, tenant store.TenantHandle, sessionID string) error
	ForgetUser(userID string)
}

// ResetLinks makes and mails password-reset links (authn.Links).
type ResetLinks interface {
	SendReset(ctx context.Context, ws store.Workspace, c authn.Client, u store.User, by audit.Actor, byAdmin bool) (string, error)
}

// Mailer queues a message in the durable outbox.
type Mailer interface {
	Notify(ctx context.Context, tenantID, to, kind string, data any) (string, error)
}

// Service runs the administrator's use cases.
type Service struct {
	Lockout   *authn.Lockout // nil: no lockout state reachable (unlock is refused)
	MFA       *authn.MFA
	Audit     *audit.Writer
	AuditKeys store.AuditKeyStore // the audit keys that sign expiry cuts; nil: a trail cut by retention verifies as broken
	Hasher    *identity.Hasher
	Rules     identity.PasswordRules
	Clock     clock.Clock
	Sessions  Sessions        // nil: the CLI without a running gateway (revocations only in the store)
	Links     ResetLinks      // sends reset links
	Mail      Mailer          // nil: no invitation mail (the link is returned)
	Locations session.Locator // nil: member sessions without locations
	ReauthAge time.Duration   // default authn.DefaultReauthAge
}

// fresh refuses member administration from a session whose last proof of identity is
// older than the re-authentication age (authn.ErrReauthRequired).
func (s *Service) fresh(by Admin) error {
	if by.UserID == audit.CLI.UserID {
		return nil
	}
	age := s.ReauthAge
	if age <= 0 {
		age = authn.DefaultReauthAge
	}
	if by.Verified.IsZero() || s.Clock.Now().Sub(by.Verified) > age {
		return authn.ErrReauthRequired
	}
	return nil
}

// ErrNoLockoutState: this process cannot reach the lockout counters (the CLI of a
// gateway that keeps them in its own memory).
var ErrNoLockoutState = errors.New("the lockout counters live in the running gateway's memory")

func (s *Service) record(ctx context.Context, ws store.Workspace, by Admin, action, target string, details map[string]string) error {
	rec := audit.Event(action, audit.Success, by.Actor, by.Origin)
	rec.Target, rec.Details = target, details
	return s.Audit.Record(ctx, ws, rec)
}

// Target names a member by id or by e-mail.
type Target struct{ UserID, Email string }

// find looks the target up (ErrNoSuchUser when there is none).
func (s *Service) find(ctx context.Context, ws store.Workspace, t Target) (store.User, error) {
	var u store.User
	var err error
	if t.UserID != "" {
		u, err = ws.Users().UserByID(ctx, t.UserID)
	} else {
		email, nerr := identity.NormalizeEmail(t.Email)
		if nerr != nil {
			return store.User{}, ErrNoSuchUser
		}
		u, err = ws.Users().UserByEmail(ctx, email)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNoSuchUser
	}
	if err != nil {
		return store.User{}, fmt.Errorf("looking up user: %w", err)
	}
	return u, nil
}

// Unlocked is what an unlock found.
type Unlocked struct {
	Email     string
	User      store.User // zero when no member has the address (it can be locked all the same)
	WasLocked bool
}

// Unlock lifts a sign-in lockout. Lockouts are kept for the e-mail as typed — unknown
// addresses are locked alike, so lockout reveals nothing — so an address without an
// account can be unlocked too; the answer tells the administrator (only them) whether
// it was locked and whether it belongs to a member.
func (s *Service) Unlock(ctx context.Context, ws store.Workspace, by Admin, t Target) (Unlocked, error) {
	if !by.IsAdmin() {
		return Unlocked{}, ErrForbidden
	}
	if err := s.fresh(by); err != nil {
		return Unlocked{}, err
	}
	if s.Lockout == nil || s.Lockout.KV == nil {
		return Unlocked{}, ErrNoLockoutState
	}
	var out Unlocked
	u, err := s.find(ctx, ws, t)
	switch {
	case err == nil:
		out.User, out.Email = u, u.Email
	case errors.Is(err, ErrNoSuchUser) && t.UserID == "":
		out.Email = strings.ToLower(strings.TrimSpace(t.Email))
		if out.Email == "" {
			return Unlocked{}, &FieldError{Field: "email", Msg: "an e-mail address is required"}
		}
	default:
		return Unlocked{}, err
	}
	left, err := s.Lockout.Locked(ctx, ws.TenantID(), out.Email)
	if err != nil {
		return Unlocked{}, fmt.Errorf("reading lockout: %w", err)
	}
	out.WasLocked = left > 0
	if err := s.Lockout.Unlock(ctx, ws.TenantID(), out.Email); err != nil {
		return Unlocked{}, fmt.Errorf("unlocking: %w", err)
	}
	details := map[string]string{"email": audit.Clip(out.Email, 254), "was_locked": fmt.Sprint(out.WasLocked)}
	return out, s.record(ctx, ws, by, audit.ActionAccountUnlocked, audit.UserTarget(out.User.ID), details)
}

// ResetFactors removes every second factor of a member (they sign in with the password
// and enrol again). Admins reset members; only owners reset owners and admins.
func (s *Service) ResetFactors(ctx context.Context, ws store.Workspace, by Admin, t Target) (store.User, error) {
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return store.User{}, err
	}
	if err := s.MFA.ResetFactors(ctx, ws, u.ID); err != nil {
		return store.User{}, err
	}
	return u, s.record(ctx, ws, by, audit.ActionFactorsReset, audit.UserTarget(u.ID), map[string]string{"email": u.Email})
}

// AddUser creates a member with a password (the CLI's `user add`) and any of the
// workspace's roles. Only owners make owners. A bad entry is an *authn.InputError; a
// taken e-mail is store.ErrConflict.
func (s *Service) AddUser(ctx context.Context, ws store.Workspace, by Admin, n authn.NewUser) (store.User, error) {
	if !by.IsAdmin() {
		return store.User{}, ErrForbidden
	}
	if err := s.mayGrant(ctx, ws, by, n.Roles); err != nil {
		return store.User{}, err
	}
	u, err := s.prepareUser(ctx, ws, n)
	if err != nil {
		return store.User{}, err
	}
	if err := ws.Users().CreateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("creating user: %w", err)
	}
	return u, s.record(ctx, ws, by, audit.ActionUserCreate, audit.UserTarget(u.ID),
		map[string]string{"email": u.Email, "roles": strings.Join(u.Roles, ",")})
}

// prepareUser is authn.PrepareUser for the workspace's roles, its own included:
// PrepareUser knows only the built-in ones, so it checks the rest of n with a
// built-in role in their place.
func (s *Service) prepareUser(ctx context.Context, ws store.Workspace, n authn.NewUser) (store.User, error) {
	roles := n.Roles
	if err := s.checkAssignable(ctx, ws, "roles", roles); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return store.User{}, &authn.InputError{Field: fe.Field, Msg: fe.Msg}
		}
		return store.User{}, err
	}
	n.Roles = []string{identity.RoleMember}
	u, err := authn.PrepareUser(n, s.Hasher, s.Rules, s.Clock)
	if err != nil {
		return store.User{}, err
	}
	u.Roles = roles
	return u, nil
}
