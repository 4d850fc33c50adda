package audit

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Actions recorded so far.
const (
	ActionLoginSuccess = "login.success"
	ActionLoginFailure = "login.failure"
	ActionLogout       = "logout"
	ActionSetup        = "setup.owner_created"
	ActionSetupLink    = "setup.link_issued"
	ActionUserCreate   = "user.create"
	ActionTenantCreate = "tenant.create"

	ActionLoginPassword       = "login.password_verified" // second factor next
	ActionSecondFactorFailure = "login.second_factor_failure"
	ActionRecoveryCodeUsed    = "mfa.recovery_code_used"
	ActionTOTPEnrolStarted    = "mfa.totp_enrol_started"
	ActionTOTPEnrolled        = "mfa.totp_enrolled"
	ActionTOTPRemoved         = "mfa.totp_removed"
	ActionRecoveryRegenerated = "mfa.recovery_codes_regenerated"
	ActionPasskeyAdded        = "mfa.passkey_added"
	ActionPasskeyRenamed      = "mfa.passkey_renamed"
	ActionPasskeyRemoved      = "mfa.passkey_removed"
	ActionPasskeyRegression   = "mfa.passkey_sign_count_regression"
	ActionFactorsReset        = "mfa.reset"
	ActionSecuritySettings    = "settings.security_changed"
	ActionAccountLocked       = "account.locked"
	ActionAccountUnlocked     = "account.unlocked"
	ActionLoginAnomaly        = "login.anomaly"
	ActionPrivacyObjection    = "user.location_profiling_objection"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Writer appends audit records. Security events are written synchronously: the call
// returns only when the record is durable, so a response is never sent for an event
// that was not recorded.
type Writer struct {
	clk clock.Clock
}

// NewWriter returns a Writer.
func NewWriter(clk clock.Clock) *Writer { return &Writer{clk: clk} }

// Write appends r to tenant's trail, filling in time and tenant.
func (w *Writer) Write(ctx context.Context, tenant store.TenantHandle, r store.AuditRecord) (store.AuditRecord, error) {
	if r.Time.IsZero() {
		r.Time = w.clk.Now()
	}
	r.TenantID = tenant.TenantID()
	out, err := tenant.Audit().Append(ctx, r, Hash)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("writing audit record %s: %w", r.Action, err)
	}
	return out, nil
}

// Verify walks a tenant's whole trail and returns the first break (*VerifyError) or nil,
// with the number of records checked.
func Verify(ctx context.Context, tenant store.TenantHandle) (int64, error) {
	v := NewVerifier()
	var after int64
	for {
		recs, err := tenant.Audit().ListAudit(ctx, after, 1000)
		if err != nil {
			return after, fmt.Errorf("reading audit trail: %w", err)
		}
		for _, r := range recs {
			if err := v.Check(r); err != nil {
				return after, err
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			return after, nil
		}
	}
}
