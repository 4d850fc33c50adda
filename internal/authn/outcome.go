package authn

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Status is how a sign-in step ended. Wrong credentials, locks and refusals are
// statuses, not errors: an error from a sign-in use case always means a dependency
// failed (the client gets 503 and nothing else happened).
type Status int

// Statuses. The zero value is Refused, so an outcome nobody filled in grants nothing.
const (
	Refused           Status = iota // wrong credentials or code (Reason says which, for the audit record only)
	SignedIn                        // a full session was started (Session)
	SecondFactorDue                 // the password was right; a pending session waits for the second factor (Methods)
	EnrolmentRequired               // the password was right; the tenant's policy leaves only enrolment (Methods)
	Locked                          // the account is locked for RetryAfter
	Busy                            // other attempts for this account are being checked: retry after RetryAfter
	Throttled                       // the per-account rate limit: retry after RetryAfter
	Overloaded                      // password checking is at capacity (the sign-in budget): retry after RetryAfter
	Blocked                         // the tenant refuses this unusual sign-in (anomaly policy)
	NoPendingSignIn                 // a second step without a first: start again
)

var statusNames = [...]string{"refused", "signed_in", "second_factor", "enrolment_required", "locked", "busy",
	"throttled", "overloaded", "blocked", "no_pending_sign_in"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Issued is a session the client must carry from now on (the cookie, for browsers).
type Issued struct {
	Token   string
	Expires time.Time
	Pending bool // half-signed-in: only the second step accepts it
}

// Outcome is what a sign-in step led to.
type Outcome struct {
	Status Status
	User   store.User // who (when known and the password or passkey was right)
	// Session, when set, replaces whatever session the client carried (the old one was
	// revoked): set the cookie.
	Session *Issued
	// DeviceID, when set, is a new device id the client should keep (cookie).
	DeviceID string
	// Methods: for SecondFactorDue the second factors the user may use, for
	// EnrolmentRequired what they may enrol ("totp", "webauthn", "recovery").
	Methods []string
	// RemindBy: SignedIn during a 2FA grace period: a second factor is required by then.
	RemindBy time.Time
	// RetryAfter: Locked, Busy, Throttled, Overloaded.
	RetryAfter time.Duration
	// Recovery: a recovery code completed the sign-in; RecoveryCodesLeft remain.
	Recovery          bool
	RecoveryCodesLeft int
	// Reason is the internal cause of a refusal (audited, logged; never shown).
	Reason string
}
