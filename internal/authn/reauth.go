package authn

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultReauthAge is how long after proving who they are a user may do sensitive
// things (change the password, remove a factor, administer members) without proving
// it again.
const DefaultReauthAge = 10 * time.Minute

// ErrReauthRequired: the action is sensitive and the session's last proof of identity
// is older than the re-authentication age; the user must enter the password again.
var ErrReauthRequired = errors.New("re-authentication required")

// ActionReauthenticated: a user proved who they are again in a session.
const ActionReauthenticated = "session.reauthenticated"

// Reauth lets a signed-in user prove who they are again (password or passkey) before
// a sensitive action, with the sign-in's checks: the lockout, passkey verification.
type Reauth struct{ *SignIn }

// Fresh tells whether the session proved who its user is within age of now.
func Fresh(e *session.Entry, age time.Duration, now time.Time) bool {
	if age <= 0 {
		age = DefaultReauthAge
	}
	return now.Sub(e.Verified()) <= age
}

// Reauthenticate checks the signed-in user's password again (under the lockout: a
// wrong one counts as a failure) and, when right, records it on the session. A wrong
// password is Refused; a locked account Locked.
func (s Reauth) Reauthenticate(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, password string) (Outcome, error) {
	_, err := s.Passwords.Check(ctx, ws, e.User.Email, password)
	if o, done, err := s.checkFailed(ctx, ws, c, err, e.User.Email, MethodPassword, e.Session.ID); done {
		return o, err
	}
	return s.reauthenticated(ctx, ws, c, e, MethodPassword)
}

// ReauthPasskeyBegin starts a passkey check of the signed-in user (ErrNoPasskeys when
// they have none): only their own passkeys are offered.
func (s Reauth) ReauthPasskeyBegin(ctx context.Context, ws store.Workspace, c Client, e *session.Entry) (json.RawMessage, string, error) {
	return s.Passkeys.BeginLogin(ctx, ws, c.Site, &e.User)
}

// ReauthPasskeyFinish verifies the assertion of a ceremony begun for this user by
// ReauthPasskeyBegin and, when it holds, records the proof on the session. Someone
// else's passkey, or a ceremony begun for someone else, is Refused.
func (s Reauth) ReauthPasskeyFinish(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, ceremony string, credential []byte) (Outcome, error) {
	if _, err := s.Passkeys.FinishSecondFactor(ctx, ws, c.Site, e.User.ID, ceremony, credential); err != nil {
		return s.passkeyRefused(ctx, ws, c, e.User.ID, err)
	}
	return s.reauthenticated(ctx, ws, c, e, MethodPasskey)
}

func (s Reauth) reauthenticated(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, method string) (Outcome, error) {
	if err := s.Sessions.Verify(ctx, ws, e.Session.ID); err != nil {
		return Outcome{}, err
	}
	rec := audit.Event(ActionReauthenticated, audit.Success, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
	rec.Details = map[string]string{"method": method}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: SignedIn, User: e.User}, nil
}
