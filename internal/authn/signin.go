package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Client is what a sign-in knows of the browser or app making it.
type Client struct {
	audit.Origin        // address, user agent, request id
	Token        string // the session token it carries now (full or pending; "" for none)
	DeviceID     string // its device cookie ("" or invalid: a new one is issued)
	Site         passkey.Site
	// PortalURL is the absolute address of the portal ("https://app.example.com/auth"),
	// for links in mail; "" when there is none to trust (an anonymous request on a host
	// nobody vouched for: a link built from its Host header could point anywhere).
	PortalURL string
}

// ErrNoPortalURL: a link must be mailed but the portal's public address is unknown
// (set base_url).
var ErrNoPortalURL = errors.New("the portal's public address is not configured (base_url)")

// Link is the absolute address of a portal page for a mail, "" without a PortalURL
// (the mail then goes without the link).
func (c Client) Link(path string) string {
	if c.PortalURL == "" {
		return ""
	}
	return c.PortalURL + path
}

// Sessions is what the sign-in flows need of the session manager.
type Sessions interface {
	Create(ctx context.Context, tenant store.TenantHandle, u store.User, methods []string, ip, userAgent string) (string, store.Session, error)
	CreatePending(ctx context.Context, tenant store.TenantHandle, u store.User, methods []string, ip, userAgent string) (string, store.Session, error)
	Validate(ctx context.Context, tenant store.TenantHandle, slug, token string) (*session.Entry, error)
	ValidatePending(ctx context.Context, tenant store.TenantHandle, slug, token string) (*session.Entry, error)
	Revoke(ctx context.Context, tenant store.TenantHandle, sessionID string) error
	RevokeUser(ctx context.Context, tenant store.TenantHandle, userID, except string) (int, error)
	Verify(ctx context.Context, tenant store.TenantHandle, sessionID string) error
}

// PasskeyLogin is what the flows need of the WebAuthn service.
type PasskeyLogin interface {
	BeginLogin(ctx context.Context, tenant store.TenantHandle, site passkey.Site, user *store.User) (json.RawMessage, string, error)
	FinishLogin(ctx context.Context, tenant store.TenantHandle, site passkey.Site, ceremony string, credential []byte) (string, store.Passkey, error)
	FinishSecondFactor(ctx context.Context, tenant store.TenantHandle, site passkey.Site, userID, ceremony string, credential []byte) (store.Passkey, error)
}

// Mailer queues a message in the durable outbox.
type Mailer interface {
	Notify(ctx context.Context, tenantID, to, kind string, data any) (string, error)
}

// Throttle applies the per-account rate limit of an endpoint class.
type Throttle interface {
	Allow(ctx context.Context, class ratelimit.Class, ip, user string) ratelimit.Result
}

// Metrics receives sign-in events; may be nil.
type Metrics interface {
	SignIn(outcome string)
	Lockout()
	RateLimited(class string)
	Anomaly(kind string)
}

// Locator places an address (risk.GeoIP; nil: no locations).
type Locator interface {
	Lookup(ip string) (risk.Location, bool)
}

// SignIn runs the sign-in flows: password, second factor, passkey, forced enrolment,
// first-run setup, sign-out. Each step audits itself before it answers and returns an
// Outcome; the portal and any other front end only translate.
type SignIn struct {
	Passwords   *Passwords
	MFA         *MFA
	Passkeys    PasskeyLogin
	Sessions    Sessions
	Audit       *audit.Writer
	Mail        Mailer   // nil: no mail
	Throttle    Throttle // nil: no per-account limits
	Metrics     Metrics  // nil: none
	Locations   Locator  // nil: device-only anomaly checks
	MaxSpeedKmh float64  // impossible travel above this (default 1000)
	Hasher      *identity.Hasher
	Rules       identity.PasswordRules
	Clock       clock.Clock
	Logger      *zap.Logger
	// Renamed is called after first-run setup renamed the workspace (nil: nothing), so
	// caches of tenant names can forget them.
	Renamed func()
	// OverloadHold is how long an attempt refused for want of hashing budget is held
	// before the answer (0: none). The refusal itself costs nothing, but a client that
	// retries in a tight loop would turn instant refusals into a CPU flood of their own;
	// holding the answer (a sleeping goroutine, no CPU) slows such a client down to a
	// few attempts per second per connection.
	OverloadHold time.Duration
}

func (s *SignIn) log() *zap.Logger {
	if s.Logger == nil {
		return zap.NewNop()
	}
	return s.Logger
}

func (s *SignIn) metric(outcome string) {
	if s.Metrics != nil {
		s.Metrics.SignIn(outcome)
	}
}

// Password checks e-mail and password. A user without a second factor (or in a 2FA
// grace period) is signed in; one with a second factor gets a pending session that only
// the second step accepts; one whom the tenant's policy leaves only enrolment gets a
// pending session that may only enrol. Either way the client's old session is revoked
// and a new token issued, so a token planted before sign-in is worthless after it.
func (s *SignIn) Password(ctx context.Context, ws store.Workspace, c Client, email, password string) (Outcome, error) {
	if o, limited := s.throttle(ctx, ratelimit.Login, email); limited {
		return o, nil
	}
	u, err := s.Passwords.Check(ctx, ws, email, password)
	if o, done, err := s.checkFailed(ctx, ws, c, err, email, MethodPassword, ""); done {
		return o, err
	}
	return s.afterPassword(ctx, ws, c, u)
}

// afterPassword continues a sign-in whose password was right (or just set, accepting an
// invitation): the tenant's second-factor policy and anomaly gate decide what comes next.
func (s *SignIn) afterPassword(ctx context.Context, ws store.Workspace, c Client, u store.User) (Outcome, error) {
	need, err := s.Requirement(ctx, ws, u)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{User: u}
	if blocked, err := s.anomalyGate(ctx, ws, c, u, need, &out); blocked || err != nil {
		return out, err
	}
	switch need.Step {
	case StepSignedIn, StepRemind:
		out.RemindBy = need.Deadline
		return out, s.start(ctx, ws, c, u, []string{MethodPassword}, &out)
	}
	if err := s.startPending(ctx, ws, c, u, &out); err != nil {
		return Outcome{}, err
	}
	out.Status, out.Methods = SecondFactorDue, need.Methods
	if need.Step != StepVerify {
		out.Status = EnrolmentRequired
	}
	return out, nil
}

// checkFailed turns what Passwords.Check (or a code check) answered into an outcome
// when it was not a success: done reports that the flow ends here. Failures are
// audited (with the internal reason) and counted; the failure that locks the account
// also audits and mails the lock.
func (s *SignIn) checkFailed(ctx context.Context, ws store.Workspace, c Client, err error, email, method, sessionID string) (Outcome, bool, error) {
	if err == nil {
		return Outcome{}, false, nil
	}
	var fe *FailureError
	var le *LockedError
	var be *BusyError
	var oe *OverloadError
	switch {
	case errors.As(err, &fe):
		rec := audit.Event(audit.ActionLoginFailure, audit.Failure, audit.Actor{UserID: fe.UserID, Email: audit.Clip(email, 254), SessionID: sessionID}, c.Origin)
		if method != MethodPassword {
			rec.Action = audit.ActionSecondFactorFailure
		}
		rec.Details = map[string]string{"reason": fe.Reason, "method": method}
		if err := s.Audit.Record(ctx, ws, rec); err != nil {
			return Outcome{}, true, err
		}
		s.metric("failure")
		if fe.LockedFor > 0 {
			if err := s.locked(ctx, ws, c, fe.UserID, email, fe.LockedFor); err != nil {
				return Outcome{}, true, err
			}
		}
		return Outcome{Status: Refused, Reason: fe.Reason}, true, nil
	case errors.As(err, &le):
		s.metric("locked")
		return Outcome{Status: Locked, RetryAfter: le.RetryAfter}, true, nil
	case errors.As(err, &be):
		s.metric("busy")
		return Outcome{Status: Busy, RetryAfter: be.RetryAfter}, true, nil
	case errors.As(err, &oe):
		s.metric("overloaded")
		if s.OverloadHold > 0 {
			t := time.NewTimer(s.OverloadHold)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		return Outcome{Status: Overloaded, RetryAfter: oe.RetryAfter}, true, nil
	}
	s.log().Error("sign-in check failed", zap.Error(err))
	s.metric("error")
	return Outcome{}, true, err
}

// throttle applies the per-account limit of class to the e-mail as typed.
func (s *SignIn) throttle(ctx context.Context, class ratelimit.Class, email string) (Outcome, bool) {
	if s.Throttle == nil {
		return Outcome{}, false
	}
	res := s.Throttle.Allow(ctx, class, "", strings.ToLower(strings.TrimSpace(email)))
	if res.Allowed {
		return Outcome{}, false
	}
	if s.Metrics != nil {
		s.Metrics.RateLimited(string(class))
	}
	return Outcome{Status: Throttled, RetryAfter: res.RetryAfter}, true
}

// locked audits, counts, logs and mails a lock that failures just caused.
func (s *SignIn) locked(ctx context.Context, ws store.Workspace, c Client, userID, email string, d time.Duration) error {
	if s.Metrics != nil {
		s.Metrics.Lockout()
	}
	rec := audit.Event(audit.ActionAccountLocked, audit.Denied, audit.Actor{UserID: userID, Email: audit.Clip(email, 254)}, c.Origin)
	rec.Target, rec.Details = audit.UserTarget(userID), map[string]string{"duration": d.String()}
	s.log().Warn("account locked after repeated failures", zap.String("user_id", userID), zap.Duration("duration", d))
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return err
	}
	if userID != "" { // unknown addresses are locked alike, but there is nobody to tell
		s.mailLocked(ctx, ws, c, email, d)
	}
	return nil
}

// Requirement evaluates the tenant's second-factor policy for u now.
func (s *SignIn) Requirement(ctx context.Context, ws store.Workspace, u store.User) (Requirement, error) {
	f, err := s.MFA.Factors(ctx, ws, u.ID)
	if err != nil {
		return Requirement{}, err
	}
	set, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return Requirement{}, fmt.Errorf("reading security settings: %w", err)
	}
	return Require(set, u, f, s.Clock.Now()), nil
}

// start revokes the client's old session, starts a full one, audits the success and
// records the sign-in in the user's history (flagging anomalies).
func (s *SignIn) start(ctx context.Context, ws store.Workspace, c Client, u store.User, methods []string, out *Outcome) error {
	if err := s.revokeCurrent(ctx, ws, c); err != nil {
		return err
	}
	token, sess, err := s.Sessions.Create(ctx, ws, u, methods, c.IP, c.UserAgent)
	if err != nil {
		return err
	}
	// The last sign-in is a completed one: not a password step still waiting for its
	// second factor, not a re-authentication or a password change.
	if err := ws.Users().SetLastLogin(ctx, u.ID, sess.CreatedAt); err != nil {
		_ = s.Sessions.Revoke(ctx, ws, sess.ID)
		return fmt.Errorf("recording sign-in: %w", err)
	}
	rec := audit.Event(audit.ActionLoginSuccess, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email, SessionID: sess.ID}, c.Origin)
	rec.Details = map[string]string{"methods": strings.Join(methods, ",")}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		_ = s.Sessions.Revoke(ctx, ws, sess.ID)
		return err
	}
	out.Status, out.User = SignedIn, u
	out.Session = &Issued{Token: token, Expires: sess.ExpiresAt}
	s.metric("success")
	s.assess(ctx, ws, c, u, out)
	return nil
}

// startPending replaces the client's session with a half-signed-in one after a correct
// password, and audits the password step.
func (s *SignIn) startPending(ctx context.Context, ws store.Workspace, c Client, u store.User, out *Outcome) error {
	if err := s.revokeCurrent(ctx, ws, c); err != nil {
		return err
	}
	token, sess, err := s.Sessions.CreatePending(ctx, ws, u, []string{MethodPassword}, c.IP, c.UserAgent)
	if err != nil {
		return err
	}
	rec := audit.Event(audit.ActionLoginPassword, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email, SessionID: sess.ID}, c.Origin)
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		_ = s.Sessions.Revoke(ctx, ws, sess.ID)
		return err
	}
	out.Session = &Issued{Token: token, Expires: sess.ExpiresAt, Pending: true}
	return nil
}

// revokeCurrent revokes whatever session (full or pending) the client carries.
func (s *SignIn) revokeCurrent(ctx context.Context, ws store.Workspace, c Client) error {
	if c.Token == "" {
		return nil
	}
	for _, validate := range []func(context.Context, store.TenantHandle, string, string) (*session.Entry, error){s.Sessions.Validate, s.Sessions.ValidatePending} {
		e, err := validate(ctx, ws, ws.Slug, c.Token)
		if errors.Is(err, session.ErrNoSession) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.Sessions.Revoke(ctx, ws, e.Session.ID); err != nil {
			return fmt.Errorf("revoking previous session: %w", err)
		}
	}
	return nil
}

// Pending returns the client's half-signed-in session, or nil.
func (s *SignIn) Pending(ctx context.Context, ws store.Workspace, c Client) (*session.Entry, error) {
	if c.Token == "" {
		return nil, nil
	}
	e, err := s.Sessions.ValidatePending(ctx, ws, ws.Slug, c.Token)
	if errors.Is(err, session.ErrNoSession) {
		return nil, nil
	}
	return e, err
}

// SignOut revokes the client's session (audited) and any half-done sign-in. It fails
// (and the caller must not report success) when the revocation could not be stored.
func (s *SignIn) SignOut(ctx context.Context, ws store.Workspace, c Client) error {
	if c.Token == "" {
		return nil
	}
	e, err := s.Sessions.Validate(ctx, ws, ws.Slug, c.Token)
	switch {
	case err == nil:
		if err := s.Sessions.Revoke(ctx, ws, e.Session.ID); err != nil {
			return fmt.Errorf("revoking session at sign-out: %w", err)
		}
		rec := audit.Event(audit.ActionLogout, audit.Success, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
		if err := s.Audit.Record(ctx, ws, rec); err != nil {
			return err
		}
	case !errors.Is(err, session.ErrNoSession):
		return err
	}
	pending, err := s.Pending(ctx, ws, c)
	if err != nil {
		return err
	}
	if pending != nil { // abandoning a half-done sign-in
		if err := s.Sessions.Revoke(ctx, ws, pending.Session.ID); err != nil {
			return fmt.Errorf("revoking pending session: %w", err)
		}
	}
	return nil
}
