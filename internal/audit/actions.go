package audit

// Actions recorded so far. The names are stable: searches and exports use them.
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
	ActionTenantRenamed       = "tenant.renamed"
	ActionAccountLocked       = "account.locked"
	ActionAccountUnlocked     = "account.unlocked"
	ActionLoginAnomaly        = "login.anomaly"
	ActionPrivacyObjection    = "user.location_profiling_objection"

	// A proxied request the route records (by default every POST, PUT, PATCH and
	// DELETE), written by group commit after the upstream answered.
	ActionProxyRequest = "proxy.request"
	// Requests the policy refused, one record per actor, rule and minute with a count.
	ActionPolicyDenied = "policy.denied"
)
