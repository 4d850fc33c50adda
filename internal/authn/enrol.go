package authn

import (
	"context"
	"slices"

	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Factor kinds a user enrols ("totp", "webauthn"), as Requirement.Methods names them.
const (
	KindTOTP    = "totp"
	KindPasskey = "webauthn"
)

// MayEnrol tells whether a pending session may enrol a factor of kind: only when the
// tenant's policy leaves its user nothing but enrolment and kind is among the choices.
// Finishing the enrolment then completes the sign-in (CompleteEnrolment).
func (s *SignIn) MayEnrol(ctx context.Context, ws store.Workspace, pending *session.Entry, kind string) (bool, error) {
	need, err := s.Requirement(ctx, ws, pending.User)
	if err != nil {
		return false, err
	}
	return (need.Step == StepEnrol || need.Step == StepEnrolPasskey) && slices.Contains(need.Methods, kind), nil
}

// CompleteEnrolment finishes a sign-in that was waiting for an enrolment: the pending
// session is replaced by a full one whose methods include the new factor (method: otp
// or hwk). For a full session it does nothing (a user adding a factor later).
func (s *SignIn) CompleteEnrolment(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, method string) (Outcome, error) {
	if !e.Session.Pending {
		return Outcome{Status: SignedIn, User: e.User}, nil
	}
	out := Outcome{User: e.User}
	return out, s.start(ctx, ws, c, e.User, append(append([]string(nil), e.Session.AuthMethods...), method), &out)
}
