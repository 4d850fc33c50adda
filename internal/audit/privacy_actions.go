package audit

// Actions of data-subject requests (issue 12 §3; SPEC §10). The names are stable.
const (
	// ActionPrivacyRequested: a member asked for erasure or restriction (details: the
	// request id and kind).
	ActionPrivacyRequested = "privacy.requested"
	// ActionPrivacyFulfilled: an administrator fulfilled a request (for erasure: the
	// member was erased; details name no personal data).
	ActionPrivacyFulfilled = "privacy.fulfilled"
	// ActionPrivacyRefused: an administrator refused a request, with a reason.
	ActionPrivacyRefused = "privacy.refused"
	// ActionDataDownloaded: a member downloaded everything Gatehouse holds about them
	// (access and portability, a fulfilled request of kind access).
	ActionDataDownloaded = "privacy.data_downloaded"
	// ActionUserRestricted: a member restricted the processing of their data: no
	// sign-in, every session ended, data kept, until an administrator lifts it.
	ActionUserRestricted = "user.restricted"
	// ActionRestrictionLifted: an administrator lifted a member's restriction.
	ActionRestrictionLifted = "user.restriction_lifted"
	// ActionEmailChangeRequested: a member asked to change their e-mail address; a
	// link went to the new one (details: the new address).
	ActionEmailChangeRequested = "user.email_change_requested"
	// ActionEmailChanged: a member confirmed the change from the link sent to the new
	// address (details: the rectification request, the old and the new address).
	ActionEmailChanged = "user.email_changed"
)
