package store

import (
	"context"
	"time"
)

// Kinds of data-subject request (GDPR arts. 15–21; SPEC §10).
const (
	RequestAccess        = "access"
	RequestRectification = "rectification"
	RequestErasure       = "erasure"
	RequestPortability   = "portability"
	RequestRestriction   = "restriction"
	RequestObjection     = "objection"
)

// Statuses of a data-subject request.
const (
	RequestOpen      = "open"
	RequestFulfilled = "fulfilled"
	RequestRefused   = "refused"
)

// PrivacyRequestDeadline is how long the workspace has to answer a data-subject
// request.
const PrivacyRequestDeadline = 30 * 24 * time.Hour

// PrivacyRequest is a data-subject request of one member. It names the member by id
// only, so that it holds no personal data once the member is erased.
type PrivacyRequest struct {
	ID         string
	TenantID   string
	UserID     string
	Kind       string // one of the Request* kinds
	Status     string // RequestOpen, RequestFulfilled or RequestRefused
	CreatedAt  time.Time
	Deadline   time.Time // CreatedAt + PrivacyRequestDeadline
	ResolvedAt time.Time // zero while open
	ResolvedBy string    // actor id of who resolved it ("" while open)
	Reason     string    // why it was refused (or a note on fulfilment)
	// Reminded7d and Reminded2d are when the administrators were reminded of the
	// open request at 7 and at 2 days left (zero: not yet).
	Reminded7d, Reminded2d time.Time
}

// PrivacyRequestStore keeps a tenant's data-subject requests.
type PrivacyRequestStore interface {
	// CreatePrivacyRequest inserts r (r.TenantID is ignored); ErrConflict if its id
	// is taken.
	CreatePrivacyRequest(ctx context.Context, r PrivacyRequest) error
	// PrivacyRequestByID finds a request (ErrNotFound when none).
	PrivacyRequestByID(ctx context.Context, id string) (PrivacyRequest, error)
	// ListPrivacyRequests returns the tenant's requests, newest first; userID ""
	// lists everybody's, another only that member's.
	ListPrivacyRequests(ctx context.Context, userID string) ([]PrivacyRequest, error)
	// ResolvePrivacyRequest moves an open request to status (RequestFulfilled or
	// RequestRefused) with who, when and why; ErrNotFound when no open request has
	// the id. Of concurrent resolutions of one request exactly one succeeds.
	ResolvePrivacyRequest(ctx context.Context, id, status, by, reason string, at time.Time) error
	// ClaimReminder records that reminder (Reminder7Days or Reminder2Days) of the
	// open request goes out at at; false, changing nothing, when it was claimed
	// already or the request is not open. Of concurrent claims exactly one gets true.
	ClaimReminder(ctx context.Context, id, reminder string, at time.Time) (bool, error)
	// ReleaseReminder undoes a claim whose reminder could not be queued, so that a
	// later round sends it (idempotent).
	ReleaseReminder(ctx context.Context, id, reminder string) error
}

// Reminders to the administrators about an open request, by days left to its
// deadline (PrivacyRequestStore.ClaimReminder).
const (
	Reminder7Days = "7d"
	Reminder2Days = "2d"
)

// EmailChange is a member's request to change their e-mail address, waiting for the
// link mailed to the new address to be opened. The link's token is a one-time token
// (OneTimeTokenStore); TokenHash binds the change to it.
type EmailChange struct {
	UserID    string
	NewEmail  string // case-folded
	TokenHash []byte // SHA-256 of the link's token
	CreatedAt time.Time
	ExpiresAt time.Time // when the link stops working
}

// EmailChangeStore keeps the pending e-mail changes of a tenant's members, one per
// member. A member's pending change goes with them when they are purged.
type EmailChangeStore interface {
	// PutEmailChange stores c as the member's pending change, replacing an earlier
	// one; ErrNotFound when no live user has c.UserID.
	PutEmailChange(ctx context.Context, c EmailChange) error
	// EmailChangeOf returns the member's pending change (ErrNotFound when none).
	EmailChangeOf(ctx context.Context, userID string) (EmailChange, error)
	// DeleteEmailChange removes the member's pending change (idempotent).
	DeleteEmailChange(ctx context.Context, userID string) error
}
