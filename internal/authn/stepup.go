package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionSteppedUp: a signed-in user whose session had used only a password proved a
// second factor (or enrolled one) for a page whose route requires one; the session was
// replaced by one whose methods include it (the new session's sign-in is audited as
// login.success too). Details: the method.
const ActionSteppedUp = "session.stepped_up"

// Why a step-up by enrolment was not granted (Outcome.Reason).
const (
	// ReasonHasSecondFactor: the user had a factor the policy accepts before this
	// enrolment, so they must verify that one: a password alone must not add a factor
	// and count it at once.
	ReasonHasSecondFactor = "has_second_factor"
	// ReasonMethodNotAllowed: the tenant's policy does not accept this method for this
	// user (owners and admins under "passkeys for admins" and an authenticator app).
	ReasonMethodNotAllowed = "method_not_allowed"
	// ReasonReauthRequired: the factor was added after the session began and the
	// session has not proved the password recently.
	ReasonReauthRequired = "reauthentication_required"
)

// StepUp lets a signed-in user whose session used only a password prove a second
// factor, for pages whose route rules require one ("mfa"): the session is replaced by
// one whose methods include the factor, as the second step of a sign-in does. The
// checks are the second step's: the tenant's policy decides which factors count; codes
// are under the per-account limit and the lockout (a wrong one counts as a failed
// sign-in); each authenticator-app time step is accepted once, whichever flow used it.
//
// A session that used a second factor already has nothing to step up: every call
// answers SignedIn without a new session and without checking anything.
type StepUp struct{ *SignIn }

// Needed tells whether the session must step up for a page that requires a second
// factor: the gateway's own test (session.Entry.Subject.MFA: any method but the
// password), so the step-up page and the gateway never disagree.
func (s StepUp) Needed(e *session.Entry) bool { return !e.Subject.MFA }

// Code checks a code — from the authenticator app (MethodTOTP), a recovery code
// (MethodRecovery), or either by its shape ("") — and, when right, replaces the
// client's session e with one whose methods include the method.
func (s StepUp) Code(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, method, code string) (Outcome, error) {
	if !s.Needed(e) {
		return Outcome{Status: SignedIn, User: e.User}, nil
	}
	if err := s.provenFactor(ctx, ws, e); err != nil {
		return Outcome{}, err
	}
	out, method, ok, err := s.checkCode(ctx, ws, c, e.User, e.Session.ID, method, code)
	if !ok || err != nil {
		return out, err
	}
	return out, s.steppedUp(ctx, ws, c, e, method, &out)
}

// PasskeyBegin starts a passkey check of the signed-in user (ErrNoPasskeys when they
// have none): only their own passkeys are offered.
func (s StepUp) PasskeyBegin(ctx context.Context, ws store.Workspace, c Client, e *session.Entry) (json.RawMessage, string, error) {
	return s.Passkeys.BeginLogin(ctx, ws, c.Site, &e.User)
}

// PasskeyFinish verifies the assertion of a ceremony begun for this user by
// PasskeyBegin and, when it holds, replaces the session with one whose methods include
// the passkey. Someone else's passkey, or a ceremony begun for someone else, is Refused.
// As in the second step of a sign-in, a passkey is its own authenticator: the password
// lockout does not block it (the per-address limit of its route does apply).
func (s StepUp) PasskeyFinish(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, ceremony string, credential []byte) (Outcome, error) {
	if !s.Needed(e) {
		return Outcome{Status: SignedIn, User: e.User}, nil
	}
	if err := s.provenFactor(ctx, ws, e); err != nil {
		return Outcome{}, err
	}
	need, err := s.Requirement(ctx, ws, e.User)
	if err != nil {
		return Outcome{}, err
	}
	if need.Step != StepVerify || !need.Allows(MethodPasskey) {
		rec := audit.Event(audit.ActionSecondFactorFailure, audit.Failure, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
		rec.Details = map[string]string{"method": MethodPasskey, "reason": ReasonMethodNotAllowed}
		return Outcome{Status: Refused, Reason: ReasonMethodNotAllowed}, s.Audit.Record(ctx, ws, rec)
	}
	if _, err := s.Passkeys.FinishSecondFactor(ctx, ws, c.Site, e.User.ID, ceremony, credential); err != nil {
		return s.passkeyRefused(ctx, ws, c, e.User.ID, err)
	}
	out := Outcome{User: e.User}
	return out, s.steppedUp(ctx, ws, c, e, MethodPasskey, &out)
}

// Enrolled steps the session up after it enrolled a factor on its way to a page that
// requires one — what CompleteEnrolment does for a sign-in that waited for an
// enrolment. method is MethodTOTP or MethodPasskey, and the enrolment must have just
// proved it (a code from the new app, the new passkey's registration): the caller
// vouches for that. It is Refused (nothing changes; the user then verifies on the
// step-up page) when the user had a factor the policy accepts before this one
// (ReasonHasSecondFactor), or the policy does not accept the new one
// (ReasonMethodNotAllowed).
func (s StepUp) Enrolled(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, method string) (Outcome, error) {
	if e.Session.Pending || !s.Needed(e) {
		return Outcome{Status: SignedIn, User: e.User}, nil
	}
	if !Fresh(e, DefaultReauthAge, s.Clock.Now()) {
		// The factor is new: only a recent proof of the password lets it count for
		// this session (a stolen session cookie alone must not add one that does).
		return Outcome{Status: Refused, Reason: ReasonReauthRequired}, nil
	}
	f, err := s.MFA.Factors(ctx, ws, e.User.ID)
	if err != nil {
		return Outcome{}, err
	}
	set, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading security settings: %w", err)
	}
	before := f
	switch method {
	case MethodTOTP:
		before.TOTP = false
	case MethodPasskey:
		before.Passkeys--
	default:
		return Outcome{Status: Refused, Reason: ReasonMethodNotAllowed}, nil
	}
	now := s.Clock.Now()
	if Require(set, e.User, before, now).Step == StepVerify {
		return Outcome{Status: Refused, Reason: ReasonHasSecondFactor}, nil
	}
	if need := Require(set, e.User, f, now); need.Step != StepVerify || !need.Allows(method) {
		return Outcome{Status: Refused, Reason: ReasonMethodNotAllowed}, nil
	}
	out := Outcome{User: e.User}
	return out, s.steppedUp(ctx, ws, c, e, method, &out)
}

// steppedUp replaces the client's session e with a full one whose methods add method
// (start audits the sign-in of the new session), and audits the step-up.
func (s StepUp) steppedUp(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, method string, out *Outcome) error {
	methods := append(append([]string(nil), e.Session.AuthMethods...), method)
	if err := s.start(ctx, ws, c, e.User, methods, out); err != nil {
		return err
	}
	rec := audit.Event(ActionSteppedUp, audit.Success, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
	rec.Details = map[string]string{"method": method}
	return s.Audit.Record(ctx, ws, rec)
}

// provenFactor refuses a step-up with ErrReauthRequired when the user added a second
// factor after this session began and the session has not proved the password
// within DefaultReauthAge: whoever holds only a session cookie could otherwise enrol
// a factor of their own and step up with it. A factor that existed when the session
// began was enrolled by someone who then proved more than the cookie.
func (s StepUp) provenFactor(ctx context.Context, ws store.Workspace, e *session.Entry) error {
	now := s.Clock.Now()
	if Fresh(e, DefaultReauthAge, now) {
		return nil
	}
	began := e.Session.CreatedAt
	t, err := ws.TOTP().TOTPByUser(ctx, e.User.ID)
	switch {
	case err == nil && !t.ConfirmedAt.IsZero() && t.ConfirmedAt.After(began):
		return ErrReauthRequired
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("reading the authenticator app: %w", err)
	}
	keys, err := ws.Passkeys().ListPasskeys(ctx, e.User.ID)
	if err != nil {
		return fmt.Errorf("reading passkeys: %w", err)
	}
	for _, k := range keys {
		if k.CreatedAt.After(began) {
			return ErrReauthRequired
		}
	}
	return nil
}
