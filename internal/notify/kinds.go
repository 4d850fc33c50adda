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

// kindSpec describes a kind: the sample data every template of the kind must render
// when loaded, which catches a misspelt field in an operator's override at start.
type kindSpec struct {
	sample any
}

var sampleTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

var kinds = map[string]kindSpec{
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
