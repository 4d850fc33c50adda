package authn

import (
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultGracePeriod is how long a member may sign in without a second factor after
// "require 2FA" starts to apply to them.
const DefaultGracePeriod = 7 * 24 * time.Hour

// Step is what a correct password leads to under the tenant's policy.
type Step int

// Steps.
const (
	StepSignedIn     Step = iota // no second factor needed: signed in
	StepRemind                   // signed in, reminded to enrol before Deadline
	StepVerify                   // verify a second factor (Methods)
	StepEnrol                    // only enrolment is open (Methods: what may be enrolled)
	StepEnrolPasskey             // an owner/admin must enrol a passkey
)

// Requirement is the policy's answer for one user at one time.
type Requirement struct {
	Step     Step
	Methods  []string  // "totp", "webauthn", "recovery" to verify; or enrolable kinds
	Deadline time.Time // StepRemind, StepEnrol: end of the grace period
}

// IsAdmin tells whether the user is an owner or admin (for "passkeys for admins").
func IsAdmin(u store.User) bool {
	return slices.Contains(u.Roles, identity.RoleOwner) || slices.Contains(u.Roles, identity.RoleAdmin)
}

// Require evaluates the tenant policy s for user u with factors f at now.
//   - Owners/admins under "require passkeys for admins" verify with a passkey only
//     (TOTP and recovery codes are refused); without a passkey they may only enrol one.
//   - A user with a second factor verifies it.
//   - Under "require 2FA", a user without one is reminded until the grace period —
//     counted from when the policy applied to them, the later of the policy's start and
//     their account's creation — ends, and may only enrol after it.
func Require(s store.SecuritySettings, u store.User, f Factors, now time.Time) Requirement {
	if s.RequirePasskeysForAdmins && IsAdmin(u) {
		if f.Passkeys > 0 {
			return Requirement{Step: StepVerify, Methods: []string{"webauthn"}}
		}
		return Requirement{Step: StepEnrolPasskey, Methods: []string{"webauthn"}}
	}
	if f.Any() {
		return Requirement{Step: StepVerify, Methods: f.Methods()}
	}
	if !s.Require2FA {
		return Requirement{Step: StepSignedIn}
	}
	grace := s.GracePeriod
	if grace <= 0 && s.UpdatedAt.IsZero() {
		grace = DefaultGracePeriod // never configured; a configured 0 means no grace
	}
	start := s.Require2FASince
	if u.CreatedAt.After(start) {
		start = u.CreatedAt
	}
	deadline := start.Add(grace)
	if now.Before(deadline) {
		return Requirement{Step: StepRemind, Deadline: deadline}
	}
	return Requirement{Step: StepEnrol, Methods: []string{"totp", "webauthn"}, Deadline: deadline}
}

// Allows tells whether a second-factor method may complete this requirement.
func (r Requirement) Allows(method string) bool {
	name := map[string]string{MethodTOTP: "totp", MethodRecovery: "recovery", MethodPasskey: "webauthn"}[method]
	return slices.Contains(r.Methods, name)
}

// UpdateSettings applies a change to the tenant's policy: "require 2FA" records when
// it was switched on (the grace period counts from then), and keeps that time while
// it stays on.
func UpdateSettings(old store.SecuritySettings, require2FA bool, grace time.Duration, passkeysForAdmins bool, by string, now time.Time) store.SecuritySettings {
	s := old
	if require2FA && !old.Require2FA {
		s.Require2FASince = now
	}
	if !require2FA {
		s.Require2FASince = time.Time{}
	}
	s.Require2FA, s.GracePeriod, s.RequirePasskeysForAdmins = require2FA, grace, passkeysForAdmins
	s.UpdatedAt, s.UpdatedBy = now, by
	return s
}
