package authn

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrNoPasskeys: the user of the pending sign-in has no passkey to verify with.
var ErrNoPasskeys = passkey.ErrNoPasskeys

// Passkey refusal reasons (Outcome.Reason), which the client may be told apart: a
// passkey this workspace does not know (never registered here, or removed) is a
// different problem from one that failed verification.
const (
	ReasonPasskeyUnknown  = "passkey_unknown"
	ReasonPasskeyRejected = "passkey_rejected"
)

// passkeyStep returns the pending sign-in a passkey completes as the second factor, or
// nil for a passwordless sign-in. The sign-in page asks for passwordless explicitly:
// there a passkey always starts a sign-in of its own (and replaces any half-done one),
// never the second step of a password that someone else may have typed on this browser.
func (s *SignIn) passkeyStep(ctx context.Context, ws store.Workspace, c Client, passwordless bool) (*session.Entry, error) {
	if passwordless {
		return nil, nil
	}
	return s.Pending(ctx, ws, c)
}

// PasskeyBegin starts a passkey ceremony: the second factor of the client's pending
// sign-in, or a passwordless (discoverable) sign-in.
func (s *SignIn) PasskeyBegin(ctx context.Context, ws store.Workspace, c Client, passwordless bool) (json.RawMessage, string, error) {
	pending, err := s.passkeyStep(ctx, ws, c, passwordless)
	if err != nil {
		return nil, "", err
	}
	var user *store.User
	if pending != nil {
		user = &pending.User
	}
	return s.Passkeys.BeginLogin(ctx, ws, c.Site, user)
}

// PasskeyFinish verifies the assertion and starts a full session. A passkey is its own
// authenticator: a password lockout does not block it.
func (s *SignIn) PasskeyFinish(ctx context.Context, ws store.Workspace, c Client, passwordless bool, ceremony string, credential []byte) (Outcome, error) {
	pending, err := s.passkeyStep(ctx, ws, c, passwordless)
	if err != nil {
		return Outcome{}, err
	}
	var userID string
	var methods []string
	if pending != nil {
		need, err := s.Requirement(ctx, ws, pending.User)
		if err != nil {
			return Outcome{}, err
		}
		if need.Step != StepVerify || !need.Allows(MethodPasskey) {
			rec := audit.Event(audit.ActionSecondFactorFailure, audit.Failure, audit.Actor{UserID: pending.User.ID, Email: pending.User.Email, SessionID: pending.Session.ID}, c.Origin)
			rec.Details = map[string]string{"method": MethodPasskey, "reason": "method_not_allowed"}
			return Outcome{Status: Refused, Reason: "method_not_allowed"}, s.Audit.Record(ctx, ws, rec)
		}
		_, err = s.Passkeys.FinishSecondFactor(ctx, ws, c.Site, pending.User.ID, ceremony, credential)
		userID, methods = pending.User.ID, append(append([]string(nil), pending.Session.AuthMethods...), MethodPasskey)
		if err == nil {
			return s.passkeyUser(ctx, ws, c, userID, methods)
		}
		return s.passkeyRefused(ctx, ws, c, userID, err)
	}
	userID, _, err = s.Passkeys.FinishLogin(ctx, ws, c.Site, ceremony, credential)
	if err != nil {
		return s.passkeyRefused(ctx, ws, c, userID, err)
	}
	return s.passkeyUser(ctx, ws, c, userID, []string{MethodPasskey})
}

func (s *SignIn) passkeyUser(ctx context.Context, ws store.Workspace, c Client, userID string, methods []string) (Outcome, error) {
	u, err := ws.Users().UserByID(ctx, userID)
	if err == nil && u.Status != store.UserActive {
		err = passkey.ErrUnknownCredential // a restricted or deleted account's passkeys sign nobody in
	}
	if err != nil {
		return s.passkeyRefused(ctx, ws, c, userID, err)
	}
	out := Outcome{User: u}
	return out, s.start(ctx, ws, c, u, methods, &out)
}

// passkeyRefused audits a refused passkey (a sign-count regression as its own action:
// it suggests a cloned authenticator) and returns the outcome; other errors pass.
func (s *SignIn) passkeyRefused(ctx context.Context, ws store.Workspace, c Client, userID string, err error) (Outcome, error) {
	reason := ReasonPasskeyRejected
	switch {
	case errors.Is(err, passkey.ErrUnknownCredential), errors.Is(err, store.ErrNotFound):
		reason = ReasonPasskeyUnknown
	case errors.Is(err, passkey.ErrCeremony), errors.Is(err, passkey.ErrVerification), errors.Is(err, passkey.ErrSignCountRegression):
	default:
		return Outcome{}, err
	}
	action := audit.ActionLoginFailure
	if errors.Is(err, passkey.ErrSignCountRegression) {
		action = audit.ActionPasskeyRegression
	}
	rec := audit.Event(action, audit.Failure, audit.Actor{UserID: userID}, c.Origin)
	rec.Details = map[string]string{"method": MethodPasskey, "reason": err.Error()}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	s.metric("failure")
	return Outcome{Status: Refused, Reason: reason}, nil
}
