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
}
