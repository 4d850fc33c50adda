package authn

import (
	"context"
	"errors"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/recovery"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errMethodNotAllowed: the tenant policy does not accept this method for this user.
var errMethodNotAllowed = errors.New("method not allowed by policy")

// SecondFactor checks a code — from the authenticator app (method MethodTOTP), a
// recovery code (MethodRecovery), or either by its shape (method "") — for the client's
// pending sign-in and, when right, replaces the pending session with a full one.
// Wrong codes count towards the same lockout as passwords.
func (s *SignIn) SecondFactor(ctx context.Context, ws store.Workspace, c Client, method, code string) (Outcome, error) {
	pending, err := s.Pending(ctx, ws, c)
	if err != nil || pending == nil {
		return Outcome{Status: NoPendingSignIn}, err
	}
	out, method, ok, err := s.checkCode(ctx, ws, c, pending.User, pending.Session.ID, method, code)
	if !ok || err != nil {
		return out, err
	}
	return out, s.start(ctx, ws, c, pending.User, append(append([]string(nil), pending.Session.AuthMethods...), method), &out)
}

// checkCode checks a code of u's — from the authenticator app (MethodTOTP), a
// recovery code (MethodRecovery), or either by its shape ("") — in the session
// sessionID (for the audit), under the second factor's rate limit and the lockout,
// with TOTP replay protection, as the tenant's policy allows. ok: the code is right
// (a recovery code is spent and audited, out says how many are left), and method is
// the method it was; otherwise out is the answer to give.
func (s *SignIn) checkCode(ctx context.Context, ws store.Workspace, c Client, u store.User, sessionID, method, code string) (out Outcome, _ string, ok bool, _ error) {
	if method == "" {
		method = MethodTOTP
		if recovery.LooksLikeCode(code) {
			method = MethodRecovery
		}
	}
	if o, limited := s.throttle(ctx, ratelimit.SecondFactor, u.Email); limited {
		return o, method, false, nil
	}
	attempt, err := s.Passwords.Lockout.Begin(ctx, ws.TenantID(), u.Email)
	if o, done, err := s.checkFailed(ctx, ws, c, err, u.Email, method, sessionID); done {
		return o, method, false, err
	}
	need, err := s.Requirement(ctx, ws, u)
	if err != nil {
		_ = s.Passwords.Lockout.Abort(ctx, attempt)
		return Outcome{}, method, false, err
	}
	left := 0
	switch {
	case need.Step != StepVerify || !need.Allows(method):
		err = errMethodNotAllowed // e.g. an admin under "passkeys for admins" offering a TOTP code
	case method == MethodRecovery:
		left, err = s.MFA.UseRecoveryCode(ctx, ws, u.ID, code)
	default:
		err = s.MFA.VerifyTOTP(ctx, ws, u.ID, code)
	}
	if reason := codeFailure(err); reason != "" {
		fe := &FailureError{Reason: reason, UserID: u.ID}
		if fe.LockedFor, err = s.Passwords.Lockout.Fail(ctx, attempt); err != nil {
			return Outcome{}, method, false, err
		}
		o, _, err := s.checkFailed(ctx, ws, c, fe, u.Email, method, sessionID)
		return o, method, false, err
	}
	if err != nil {
		_ = s.Passwords.Lockout.Abort(ctx, attempt)
		return Outcome{}, method, false, err
	}
	if err := s.Passwords.Lockout.Succeed(ctx, attempt); err != nil {
		return Outcome{}, method, false, err
	}
	out = Outcome{User: u}
	if method == MethodRecovery {
		rec := audit.Event(audit.ActionRecoveryCodeUsed, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email, SessionID: sessionID}, c.Origin)
		rec.Details = map[string]string{"remaining": strconv.Itoa(left)}
		if err := s.Audit.Record(ctx, ws, rec); err != nil {
			return Outcome{}, method, false, err
		}
		out.Recovery, out.RecoveryCodesLeft = true, left
	}
	return out, method, true, nil
}

// codeFailure names a wrong-code outcome ("" when err is not one).
func codeFailure(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errMethodNotAllowed):
		return "method_not_allowed"
	case errors.Is(err, ErrCodeReplayed):
		return "code_replayed"
	case errors.Is(err, ErrNoTOTP):
		return "no_totp"
	case errors.Is(err, ErrInvalidCode):
		return "invalid_code"
	}
	return ""
}
