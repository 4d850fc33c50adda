package authn

import (
	"context"
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
func (s *SignIn) Reauthenticate(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, password string) (Outcome, error) {
	_, err := s.Passwords.Check(ctx, ws, e.User.Email, password)
	if o, done, err := s.checkFailed(ctx, ws, c, err, e.User.Email, MethodPassword, e.Session.ID); done {
		return o, err
	}
	if err := s.Sessions.Verify(ctx, ws, e.Session.ID); err != nil {
		return Outcome{}, err
	}
	rec := audit.Event(ActionReauthenticated, audit.Success, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: SignedIn, User: e.User}, nil
}
