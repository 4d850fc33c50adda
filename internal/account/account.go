package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Errors a user can cause (the portal shows them; they are not failures).
var (
	// ErrWrongPassword: the current password, asked to confirm a sensitive change, is
	// not right.
	ErrWrongPassword = errors.New("the current password is not right")
	// ErrNoSecondFactor: recovery codes back up a second factor; there is none.
	ErrNoSecondFactor = errors.New("no second factor to back up")
	// ErrNoSuchPasskey: the passkey is not one of the user's.
	ErrNoSuchPasskey = errors.New("no such passkey")
	// ErrNoSuchSession: the session is not one of the user's live sessions.
	ErrNoSuchSession = errors.New("no such session")
)

// PasskeyRegistration is what the account needs of the WebAuthn service.
type PasskeyRegistration interface {
	BeginRegistration(ctx context.Context, tenant store.TenantHandle, site passkey.Site, user store.User) (json.RawMessage, string, error)
	FinishRegistration(ctx context.Context, tenant store.TenantHandle, site passkey.Site, user store.User, ceremony, name string, credential []byte) (store.Passkey, error)
}

// Sessions is what the account needs of the session manager.
type Sessions interface {
	// Forget drops a cached session, so its next request reads the user afresh.
	Forget(sessionID string)
	// ForgetUser drops every cached session of a user (after a change to the user).
	ForgetUser(userID string)
	Revoke(ctx context.Context, tenant store.TenantHandle, sessionID string) error
	RevokeUser(ctx context.Context, tenant store.TenantHandle, userID, except string) (int, error)
}

// Mailer queues a message in the durable outbox.
type Mailer interface {
	Notify(ctx context.Context, tenantID, to, kind string, data any) (string, error)
}

// Service runs the account use cases.
type Service struct {
	MFA       *authn.MFA
	Passwords *authn.Passwords // confirms the current password, hashes new ones
	SignIn    *authn.SignIn    // completes a sign-in that waited for an enrolment
	Passkeys  PasskeyRegistration
	Sessions  Sessions
	Audit     *audit.Writer
	Rules     identity.PasswordRules
	Mail      Mailer          // nil: no notices
	Locations session.Locator // nil: sessions without locations
	ReauthAge time.Duration   // default authn.DefaultReauthAge
	Clock     clock.Clock
}

// fresh refuses a sensitive action when the session proved who its user is too long
// ago (authn.ErrReauthRequired: the portal asks for the password again).
func (s *Service) fresh(me Self) error {
	if !authn.Fresh(me.Session, s.ReauthAge, s.Clock.Now()) {
		return authn.ErrReauthRequired
	}
	return nil
}

// Self is a user acting on their own account through a session: a full one, or a
// pending one whose only way forward is to enrol a factor (authn.SignIn.MayEnrol).
type Self struct {
	Session *session.Entry
	Client  authn.Client
}

func (me Self) user() store.User { return me.Session.User }

// record audits an action of the user on their own account.
func (s *Service) record(ctx context.Context, ws store.Workspace, me Self, action string, details map[string]string) error {
	u := me.user()
	rec := audit.Event(action, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email, SessionID: me.Session.Session.ID}, me.Client.Origin)
	rec.Target, rec.Details = audit.UserTarget(u.ID), details
	return s.Audit.Record(ctx, ws, rec)
}

// Overview is what the security page shows.
type Overview struct {
	Factors           authn.Factors
	Passkeys          []store.Passkey
	LocationProfiling bool
}

// Security reads the user's factors, passkeys and privacy choice.
func (s *Service) Security(ctx context.Context, ws store.Workspace, me Self) (Overview, error) {
	f, err := s.MFA.Factors(ctx, ws, me.user().ID)
	if err != nil {
		return Overview{}, err
	}
	pks, err := ws.Passkeys().ListPasskeys(ctx, me.user().ID)
	if err != nil {
		return Overview{}, fmt.Errorf("listing passkeys: %w", err)
	}
	return Overview{Factors: f, Passkeys: pks, LocationProfiling: !me.user().NoLocationProfiling}, nil
}

// confirmPassword checks the user's current password (under the lockout, so the
// settings page is no way around it). A wrong one is ErrWrongPassword; a lock or an
// exhausted budget comes back as the authn error.
func (s *Service) confirmPassword(ctx context.Context, ws store.Workspace, me Self, password string) error {
	_, err := s.Passwords.Check(ctx, ws, me.user().Email, password)
	if errors.Is(err, authn.ErrInvalidCredentials) {
		return ErrWrongPassword
	}
	return err
}

// SetLocationProfiling records the user's choice about location profiling (GDPR art.
// 21 objection when off): their sign-ins are then not geolocated. A new objection is
// also kept as a fulfilled data-subject request of kind objection.
func (s *Service) SetLocationProfiling(ctx context.Context, ws store.Workspace, me Self, on bool) error {
	if err := ws.Users().SetNoLocationProfiling(ctx, me.user().ID, !on); err != nil {
		return fmt.Errorf("saving privacy choice: %w", err)
	}
	s.Sessions.Forget(me.Session.Session.ID) // the cached user record is out of date
	if !on && !me.user().NoLocationProfiling {
		if err := s.recordObjection(ctx, ws, me); err != nil {
			return err
		}
	}
	return s.record(ctx, ws, me, audit.ActionPrivacyObjection, map[string]string{"objects": strconv.FormatBool(!on)})
}
