package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrInvalidName: a name that is empty, longer than 200 characters or has control
// characters.
var ErrInvalidName = errors.New("a name is 1 to 200 characters, without control characters")

// ErrRequestPending: the member has an open request of that kind already.
var ErrRequestPending = errors.New("a request of this kind is already open")

// newRequest is a data-subject request of the member, created now with the 30-day
// deadline.
func (s *Service) newRequest(me Self, kind, status string) store.PrivacyRequest {
	now := s.Clock.Now()
	r := store.PrivacyRequest{ID: "pr-" + secret.NewID(), UserID: me.user().ID, Kind: kind, Status: status,
		CreatedAt: now, Deadline: now.Add(store.PrivacyRequestDeadline)}
	if status != store.RequestOpen {
		r.ResolvedAt, r.ResolvedBy = now, me.user().ID
	}
	return r
}

// openRequest creates an open request of kind, refusing (ErrRequestPending) when the
// member has one open of that kind, and audits privacy.requested.
func (s *Service) openRequest(ctx context.Context, ws store.Workspace, me Self, kind string) (store.PrivacyRequest, error) {
	mine, err := ws.PrivacyRequests().ListPrivacyRequests(ctx, me.user().ID)
	if err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("listing requests: %w", err)
	}
	for _, r := range mine {
		if r.Kind == kind && r.Status == store.RequestOpen {
			return r, ErrRequestPending
		}
	}
	r := s.newRequest(me, kind, store.RequestOpen)
	if err := ws.PrivacyRequests().CreatePrivacyRequest(ctx, r); err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("recording request: %w", err)
	}
	return r, s.record(ctx, ws, me, audit.ActionPrivacyRequested, map[string]string{"request": r.ID, "kind": kind})
}

// MyRequests lists the member's data-subject requests, newest first.
func (s *Service) MyRequests(ctx context.Context, ws store.Workspace, me Self) ([]store.PrivacyRequest, error) {
	rs, err := ws.PrivacyRequests().ListPrivacyRequests(ctx, me.user().ID)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	return rs, nil
}

// RequestErasure records the member's request to be erased (GDPR art. 17): an open
// request with a 30-day deadline that an administrator fulfils (which erases the
// member at once) or refuses with a reason. It needs a recent re-authentication.
func (s *Service) RequestErasure(ctx context.Context, ws store.Workspace, me Self) (store.PrivacyRequest, error) {
	if err := s.fresh(me); err != nil {
		return store.PrivacyRequest{}, err
	}
	return s.openRequest(ctx, ws, me, store.RequestErasure)
}

// Restrict restricts the processing of the member's data at their request (GDPR art.
// 18): from now on they cannot sign in, every session of theirs (this one included)
// has ended, and their data is kept, until an administrator lifts the restriction by
// resolving the open restriction request. The workspace's last active owner cannot
// restrict themselves (store.ErrLastOwner). It needs a recent re-authentication.
func (s *Service) Restrict(ctx context.Context, ws store.Workspace, me Self) (store.PrivacyRequest, error) {
	if err := s.fresh(me); err != nil {
		return store.PrivacyRequest{}, err
	}
	if err := ws.Users().SetStatus(ctx, me.user().ID, store.UserRestricted); err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("restricting account: %w", err)
	}
	r, err := s.openRequest(ctx, ws, me, store.RequestRestriction)
	if err != nil && !errors.Is(err, ErrRequestPending) {
		return store.PrivacyRequest{}, err
	}
	if err := s.record(ctx, ws, me, audit.ActionUserRestricted, map[string]string{"request": r.ID}); err != nil {
		return store.PrivacyRequest{}, err
	}
	if _, err := s.Sessions.RevokeUser(ctx, ws, me.user().ID, ""); err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("ending sessions: %w", err)
	}
	return r, nil
}

// Rectify corrects the member's name (GDPR art. 16) at once: kept as a fulfilled
// rectification request and audited (privacy.fulfilled, kind rectification, with the
// old and the new name among the record's personal fields, erasable like the rest).
func (s *Service) Rectify(ctx context.Context, ws store.Workspace, me Self, name string) (store.PrivacyRequest, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return store.PrivacyRequest{}, ErrInvalidName
	}
	old := me.user().DisplayName
	if err := ws.Users().SetDisplayName(ctx, me.user().ID, name); err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("correcting the name: %w", err)
	}
	s.Sessions.Forget(me.Session.Session.ID) // the cached user record is out of date
	r := s.newRequest(me, store.RequestRectification, store.RequestFulfilled)
	if err := ws.PrivacyRequests().CreatePrivacyRequest(ctx, r); err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("recording the rectification: %w", err)
	}
	return r, s.record(ctx, ws, me, audit.ActionPrivacyFulfilled, map[string]string{"request": r.ID, "kind": store.RequestRectification,
		"field": "name", "from": old, "to": name})
}

// recordObjection keeps the member's objection to location profiling (art. 21) as a
// fulfilled request: it takes effect at once.
func (s *Service) recordObjection(ctx context.Context, ws store.Workspace, me Self) error {
	if err := ws.PrivacyRequests().CreatePrivacyRequest(ctx, s.newRequest(me, store.RequestObjection, store.RequestFulfilled)); err != nil {
		return fmt.Errorf("recording objection request: %w", err)
	}
	return nil
}
