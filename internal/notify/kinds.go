package notify

import (
	"slices"
	"time"
)

// Message kinds: each names a subject, a text and an HTML template.
const (
	// KindAccountLocked tells a user that repeated failed sign-ins locked the
	// account. Data: AccountLocked.
	KindAccountLocked = "account_locked"
	// KindNewSignIn tells a user about a sign-in that looked unusual. Data: NewSignIn.
	KindNewSignIn = "new_sign_in"
	// KindInvite invites someone to a tenant with a link that sets their password.
	// Data: Invite.
	KindInvite = "invite"
	// KindPasswordReset sends a one-time link that sets a new password. Data:
	// PasswordReset.
	KindPasswordReset = "password_reset"
	// KindPasswordChanged tells a user that their password was changed or reset.
	// Data: PasswordChanged.
	KindPasswordChanged = "password_changed"
)

// Anomaly codes for NewSignIn.Anomalies. The templates turn them into words; an
// unknown code is shown as it is, so a new check can alert before its wording exists.
const (
	AnomalyNewDevice        = "new_device"
	AnomalyNewCountry       = "new_country"
	AnomalyImpossibleTravel = "impossible_travel"
)

// AccountLocked is the data of a KindAccountLocked message.
type AccountLocked struct {
	TenantName string
	UserEmail  string
	// LockDuration is how long this lock lasts (15 m, doubling per repeat).
	LockDuration time.Duration
	// LockedAt is when the lock began.
	LockedAt time.Time
	// IP is the client address of the failed attempt that triggered the lock.
	IP string
	// SignInURL is the tenant's sign-in page.
	SignInURL string
}

// LockedUntil is when the lock ends.
func (d AccountLocked) LockedUntil() time.Time { return d.LockedAt.Add(d.LockDuration) }

// NewSignIn is the data of a KindNewSignIn message.
type NewSignIn struct {
	TenantName string
	UserEmail  string
	// Anomalies lists what made the sign-in unusual (Anomaly* codes), at least one.
	Anomalies []string
	// Device describes the browser and system, e.g. "Firefox on Linux".
	Device string
	IP     string
	// Location is the approximate place of IP, e.g. "Lyon, France"; empty when unknown
	// (no GeoIP database, or the user objected to location profiling).
	Location string
	// At is when the sign-in happened.
	At time.Time
	// SecurityURL is the user's security settings page (sessions, password, factors).
	SecurityURL string
}

// Invite is the data of a KindInvite message. The inviter's name, the tenant's name
// and the role are chosen by a tenant administrator, not by the recipient: the
// templates print them on one line and never as a link.
type Invite struct {
	TenantName string
	// InviterName and InviterEmail name the administrator who sent the invitation;
	// either may be empty (an invitation from the command line has neither).
	InviterName  string
	InviterEmail string
	// InviteeEmail is the recipient, the address the account will sign in with.
	InviteeEmail string
	// Role is the role the account gets, e.g. "member".
	Role string
	// AcceptURL is the one-time link that sets the password and activates the account.
	AcceptURL string
	// ExpiresAt is when AcceptURL stops working.
	ExpiresAt time.Time
}

// PasswordReset is the data of a KindPasswordReset message.
type PasswordReset struct {
	TenantName string
	UserEmail  string
	// ResetURL is the one-time link that sets a new password (valid 30 minutes).
	ResetURL string
	// ExpiresAt is when ResetURL stops working.
	ExpiresAt time.Time
	// RequestedIP is the client address that asked for the reset; it is not shown
	// when ByAdmin (it is then the administrator's address).
	RequestedIP string
	// ByAdmin is true when a tenant administrator asked for the reset, false when the
	// user did from the sign-in page.
	ByAdmin bool
}

// PasswordChanged is the data of a KindPasswordChanged message.
type PasswordChanged struct {
	TenantName string
	UserEmail  string
	// ChangedAt is when the new password took effect.
	ChangedAt time.Time
	// IP is the client address that set the new password.
	IP string
	// Reset is true when the password was set through a reset link, false when it was
	// changed in the account settings.
	Reset bool
	// OtherSessionsEnded is true when every other session of the user was signed out.
	OtherSessionsEnded bool
	// SecurityURL is the user's security settings page (sessions, password, factors).
	SecurityURL string
}

// kindSpec describes a kind: the sample data every template of the kind must render
// when loaded, which catches a misspelt field in an operator's override at start.
type kindSpec struct {
	sample any
}

var sampleTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

var kinds = map[string]kindSpec{
	KindPermissionReview:     {sample: samplePermissionReview},     // review.go
	KindEmailChangeConfirm:   {sample: sampleEmailChangeConfirm},   // privacy.go
	KindEmailChangeRequested: {sample: sampleEmailChangeRequested}, // privacy.go
	KindRequestReminder:      {sample: sampleRequestReminder},      // privacy.go
	KindFactorRestored:       {sample: sampleFactorRestored},       // factors.go
	KindAccountLocked: {sample: AccountLocked{
		TenantName:   "Example Clinic",
		UserEmail:    "ada@example.com",
		LockDuration: 15 * time.Minute,
		LockedAt:     sampleTime,
		IP:           "203.0.113.7",
		SignInURL:    "https://auth.example.com/login",
	}},
	KindNewSignIn: {sample: NewSignIn{
		TenantName:  "Example Clinic",
		UserEmail:   "ada@example.com",
		Anomalies:   []string{AnomalyNewDevice, AnomalyNewCountry, AnomalyImpossibleTravel},
		Device:      "Firefox on Linux",
		IP:          "198.51.100.23",
		Location:    "Lyon, France",
		At:          sampleTime,
		SecurityURL: "https://auth.example.com/account/security",
	}},
	KindInvite: {sample: Invite{
		TenantName:   "Example Clinic",
		InviterName:  "Ada Lovelace",
		InviterEmail: "ada@example.com",
		InviteeEmail: "grace@example.com",
		Role:         "member",
		AcceptURL:    "https://auth.example.com/invite/9fK2xQ7mLp",
		ExpiresAt:    sampleTime.Add(7 * 24 * time.Hour),
	}},
	KindPasswordReset: {sample: PasswordReset{
		TenantName:  "Example Clinic",
		UserEmail:   "ada@example.com",
		ResetURL:    "https://auth.example.com/reset/Zr4vN8cWq1",
		ExpiresAt:   sampleTime.Add(30 * time.Minute),
		RequestedIP: "203.0.113.7",
	}},
	KindPasswordChanged: {sample: PasswordChanged{
		TenantName:         "Example Clinic",
		UserEmail:          "ada@example.com",
		ChangedAt:          sampleTime,
		IP:                 "203.0.113.7",
		Reset:              true,
		OtherSessionsEnded: true,
		SecurityURL:        "https://auth.example.com/account/security",
	}},
}

// Kinds lists the message kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
