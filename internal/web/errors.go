package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/account"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/httperr"
	"github.com/gatehouse-dev/gatehouse/internal/redirect"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// httpError is the portal's one error type: a status, a stable code for JSON clients,
// a sentence for people, and where a browser may go on from the error page. The cause
// goes to the log, never to the client.
type httpError struct {
	status   int
	code     string
	msg      string
	retry    time.Duration // Retry-After, when set
	link     string        // a way on from the error page ("" = the portal's choice)
	linkText string
	cause    error
}

func (e *httpError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.code, e.cause)
	}
	return fmt.Sprintf("%d %s", e.status, e.code)
}

func (e *httpError) Unwrap() error { return e.cause }

func errorf(status int, code, msg string) *httpError {
	return &httpError{status: status, code: code, msg: msg}
}

func (e *httpError) retryAfter(d time.Duration) *httpError { e.retry = d; return e }

func (e *httpError) goOn(link, text string) *httpError { e.link, e.linkText = link, text; return e }

// Common errors.
var (
	errUnauthenticated = func() *httpError {
		return errorf(http.StatusUnauthorized, "unauthenticated", "Please sign in.")
	}
	errForbidden = func() *httpError {
		return errorf(http.StatusForbidden, "forbidden", "Only owners and admins can do this.")
	}
	errCrossSite = func() *httpError {
		return errorf(http.StatusForbidden, "cross_site_request", "The request came from another site.")
	}
	errFormExpired = func() *httpError {
		return errorf(http.StatusForbidden, "form_expired", "The form expired. Please try again.")
	}
)

// unavailable is the answer to a dependency failure: 503, retry shortly.
func unavailable(cause error) *httpError {
	e := errorf(http.StatusServiceUnavailable, "unavailable", "This is unavailable right now. Please try again in a moment.")
	e.retry, e.cause = 2*time.Second, cause
	return e
}

// outcomeError translates a sign-in outcome that is not a success (nil for one).
func outcomeError(o authn.Outcome) *httpError {
	switch o.Status {
	case authn.SignedIn, authn.SecondFactorDue, authn.EnrolmentRequired:
		return nil
	case authn.Locked, authn.Throttled, authn.Busy:
		return tooMany(o.RetryAfter)
	case authn.Overloaded:
		e := errorf(http.StatusServiceUnavailable, "unavailable", "Too many sign-ins are being checked right now. Please try again in a moment.")
		return e.retryAfter(o.RetryAfter)
	case authn.Blocked:
		return errorf(http.StatusForbidden, "sign_in_blocked", "This sign-in looks unusual (a new device or place), and your workspace does not allow it. We sent you an e-mail; ask an administrator if you need access.")
	case authn.NoPendingSignIn:
		return errorf(http.StatusUnauthorized, "no_pending_sign_in", "Your sign-in expired. Please sign in again.")
	}
	switch o.Reason {
	case authn.ReasonPasskeyUnknown:
		return errorf(http.StatusUnauthorized, "passkey_unknown", "This passkey is not registered here (it may have been removed). Sign in with your password or another passkey.")
	case authn.ReasonPasskeyRejected, "method_not_allowed":
		return errorf(http.StatusUnauthorized, "passkey_not_accepted", "The passkey could not be verified. Please try again.")
	}
	return errorf(http.StatusUnauthorized, "invalid_credentials", "Incorrect e-mail or password.")
}

func tooMany(retry time.Duration) *httpError {
	return errorf(http.StatusTooManyRequests, "too_many_requests", "Too many attempts. Please wait "+humanWait(retry)+" and try again.").retryAfter(retry)
}

func humanWait(d time.Duration) string {
	switch {
	case d <= time.Minute:
		return "a minute"
	case d < 2*time.Hour:
		return strconv.Itoa(int(math.Ceil(d.Minutes()))) + " minutes"
	default:
		return strconv.Itoa(int(math.Ceil(d.Hours()))) + " hours"
	}
}

// useCaseError translates an error a use case returned: the errors people can cause
// get their own status and message; anything else is a dependency failure (503).
func useCaseError(err error) *httpError {
	var he *httpError
	var ie *authn.InputError
	var fe *admin.FieldError
	var le *authn.LockedError
	var be *authn.BusyError
	var oe *authn.OverloadError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &ie):
		return errorf(http.StatusBadRequest, "invalid_input", ie.Msg)
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "invalid_"+fe.Field, fe.Error())
	case errors.As(err, &le):
		return tooMany(le.RetryAfter)
	case errors.As(err, &be):
		return tooMany(be.RetryAfter)
	case errors.As(err, &oe):
		return outcomeError(authn.Outcome{Status: authn.Overloaded, RetryAfter: oe.RetryAfter})
	case errors.Is(err, account.ErrWrongPassword):
		return errorf(http.StatusUnauthorized, "wrong_password", "The password is not right.")
	case errors.Is(err, account.ErrNoSecondFactor):
		return errorf(http.StatusConflict, "no_second_factor", "Recovery codes back up an authenticator app or a passkey. Set one up first.")
	case errors.Is(err, account.ErrNoSuchPasskey):
		return errorf(http.StatusNotFound, "no_such_passkey", "No such passkey.")
	case errors.Is(err, authn.ErrTOTPEnrolled):
		return errorf(http.StatusConflict, "totp_already_enrolled", "An authenticator app is already on. Remove it first.")
	case errors.Is(err, authn.ErrNoTOTP):
		return errorf(http.StatusConflict, "no_pending_enrolment", "Start setting up the authenticator app first.")
	case errors.Is(err, authn.ErrInvalidCode), errors.Is(err, authn.ErrCodeReplayed):
		return errorf(http.StatusBadRequest, "invalid_code", "That code is not right. Enter the newest code your app shows.")
	case errors.Is(err, admin.ErrForbidden):
		return errForbidden()
	case errors.Is(err, authn.ErrReauthRequired):
		return errorf(http.StatusUnauthorized, "reauthentication_required", "Confirm your password first (POST /api/v1/reauth).")
	case errors.Is(err, store.ErrLastOwner):
		return errorf(http.StatusConflict, "last_owner", "The workspace needs an active owner: make someone else owner first.")
	case errors.Is(err, admin.ErrSelf):
		return errorf(http.StatusConflict, "not_on_yourself", "You cannot do that to your own account.")
	case errors.Is(err, admin.ErrNoSuchSession), errors.Is(err, account.ErrNoSuchSession):
		return errorf(http.StatusNotFound, "no_such_session", "There is no such session.")
	case errors.Is(err, admin.ErrMemberDisabled):
		return errorf(http.StatusConflict, "member_disabled", "This member is disabled: enable them first.")
	case errors.Is(err, admin.ErrAlreadyMember):
		return errorf(http.StatusConflict, "already_a_member", "That address belongs to a member already.")
	case errors.Is(err, token.ErrInvalidGrant):
		// RFC 6749 §5.2; the client must sign in again.
		return errorf(http.StatusBadRequest, "invalid_grant", "The refresh token is not valid (used, expired, revoked, or its session ended). Sign in again.")
	case errors.Is(err, authn.ErrNoPortalURL):
		return errorf(http.StatusServiceUnavailable, "no_base_url", "Links cannot be mailed: the gateway's public address (base_url) is not configured.")
	case errors.Is(err, admin.ErrDeletedMember):
		return errorf(http.StatusConflict, "deleted_member", "That address belongs to a deleted member: restore them, or wait until they are purged.")
	case errors.Is(err, admin.ErrFactorSuperseded):
		return errorf(http.StatusConflict, "factor_superseded", "This factor cannot be restored: the member has a working one of its kind in its place "+
			"(an authenticator app set up again or restored already, or newer recovery codes).")
	case errors.Is(err, admin.ErrNoSuchFactor):
		return errorf(http.StatusNotFound, "no_such_factor", "There is no such removed factor: it was restored meanwhile, or removed more than 30 days ago and purged.")
	case errors.Is(err, admin.ErrRestoreWindowOver):
		return errorf(http.StatusConflict, "restore_window_over", "This member was deleted more than 30 days ago and cannot be restored.")
	case errors.Is(err, account.ErrInvalidName):
		return errorf(http.StatusBadRequest, "invalid_name", "A name is 1 to 200 characters, without control characters.")
	case errors.Is(err, account.ErrInvalidEmail):
		return errorf(http.StatusBadRequest, "invalid_email", "That is not an e-mail address.")
	case errors.Is(err, account.ErrSameEmail):
		return errorf(http.StatusBadRequest, "same_email", "That is your address already.")
	case errors.Is(err, account.ErrEmailTaken):
		return errorf(http.StatusConflict, "email_taken", takenMessage)
	case errors.Is(err, account.ErrRequestPending):
		return errorf(http.StatusConflict, "request_pending", "You have asked for this already; the request is open.")
	case errors.Is(err, admin.ErrNoSuchRequest):
		return errorf(http.StatusNotFound, "no_such_request", "There is no such open request: it may have been resolved meanwhile.")
	case errors.Is(err, admin.ErrReasonRequired):
		return errorf(http.StatusBadRequest, "invalid_reason", "Say why the request is refused.")
	case errors.Is(err, admin.ErrNoSuchUser):
		return errorf(http.StatusNotFound, "no_such_user", "There is no such member.")
	case errors.Is(err, admin.ErrNoSuchExport):
		return errorf(http.StatusNotFound, "no_such_export", "There is no such export ready for download (a download link works once, for a short time).")
	case errors.Is(err, admin.ErrNoSuchRecord):
		return errorf(http.StatusNotFound, "no_such_record", "There is no such audit record.")
	case errors.Is(err, admin.ErrNoLockoutState):
		return errorf(http.StatusConflict, "no_lockout_state", err.Error())
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "conflict", "That exists already.")
	}
	return unavailable(err)
}

// fail answers err: JSON ({"error": code, "message": …}) for API calls, a page for
// browsers. Causes of 5xx answers are logged.
func (p *Portal) fail(c *call, err error) {
	if errors.Is(err, errHandled) {
		return
	}
	if errors.Is(err, authn.ErrReauthRequired) && !c.api {
		// A browser confirms the password, then comes back to the page it was on.
		back := p.path("/settings/security")
		if v := c.r.PostFormValue("back"); v != "" {
			if safe, ok := redirect.Safe(v); ok {
				back = safe
			}
		}
		http.Redirect(c.w, c.r, withRD(p.path("/reauth"), back), http.StatusSeeOther)
		return
	}
	e := useCaseError(err)
	if e.status >= 500 {
		p.Logger.Error("portal request failed", zap.String("path", c.r.URL.Path), zap.String("code", e.code), zap.Error(e.cause))
	}
	if c.api {
		httperr.WriteJSON(c.w, e.status, e.code, e.msg, e.retry)
		return
	}
	if e.retry > 0 {
		c.w.Header().Set("Retry-After", strconv.FormatInt(httperr.RetrySeconds(e.retry), 10))
	}
	link, text := e.link, e.linkText
	if link == "" {
		link, text = p.wayOn(c)
	}
	p.render(c, e.status, "message", pageInfo{Title: titleFor(e.status)}, messagePage{Message: e.msg, Link: link, LinkText: text})
}

// wayOn is where an error page leads: back to the security page for signed-in users,
// to sign-in otherwise.
func (p *Portal) wayOn(c *call) (string, string) {
	if e, _ := p.session(c); e != nil {
		return p.path("/settings/security"), "Back to your security settings"
	}
	return p.path("/login"), "Go to sign-in"
}

func titleFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusMethodNotAllowed:
		return "Not possible here"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusUnauthorized:
		return "Not signed in"
	case http.StatusBadRequest, http.StatusConflict:
		return "Please check"
	case http.StatusServiceUnavailable:
		return "Try again later"
	}
	return http.StatusText(status)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
