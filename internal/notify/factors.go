package notify

import "time"

// KindFactorRestored tells a member that an administrator restored one of their
// removed second factors (issue 12 §4): a factor they may have removed because it was
// lost or stolen signs in again, so they must hear of it. Data: FactorRestored.
const KindFactorRestored = "factor_restored"

// FactorRestored is the data of a KindFactorRestored message.
type FactorRestored struct {
	TenantName string
	UserEmail  string
	// Factor is "totp", "passkey" or "recovery_codes"; PasskeyName names a passkey
	// (the member's own words: printed through oneline, never as a link).
	Factor      string
	PasskeyName string
	// By is the administrator who restored it ("the operator" for the command line).
	By         string
	RemovedAt  time.Time
	RestoredAt time.Time
	// SecurityURL is the member's security page ("" when the portal's public address
	// is not known).
	SecurityURL string
}

var sampleFactorRestored = FactorRestored{TenantName: "Example Clinic", UserEmail: "ada@example.com", Factor: "passkey",
	PasskeyName: "YubiKey 5C", By: "grace@example.com", RemovedAt: sampleTime.Add(-3 * 24 * time.Hour), RestoredAt: sampleTime,
	SecurityURL: "https://auth.example.com/auth/settings/security"}
