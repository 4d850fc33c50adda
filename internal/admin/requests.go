package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Errors of data-subject requests.
var (
	// ErrNoSuchRequest: no open request of the workspace has the id.
	ErrNoSuchRequest = errors.New("no such open request")
	// ErrReasonRequired: a refusal must say why.
	ErrReasonRequired = errors.New("a refusal needs a reason")
)

// maxReason bounds the reason of a resolution.
const maxReason = 500

// Requests runs the administrators' side of data-subject requests with the
// Service's writer, clock and sessions: Requests{Service: svc}.List(…).
type Requests struct{ *Service }

// Request is a data-subject request as the Requests page shows it.
type Request struct {
	store.PrivacyRequest
	// Email and Name are the member's while they exist; both are empty once the
	// member is erased (Erased).
	Email, Name string
	Erased      bool
	// DaysLeft is how many days remain to the deadline, a started day counting as
	// one; 0 once it has passed. Overdue: an open request past its deadline.
	DaysLeft int
	Overdue  bool
}

// List lists every data-subject request of the workspace, newest first, with
// the member and the days left to the deadline (owners and admins).
func (s Requests) List(ctx context.Context, ws store.Workspace, by Admin) ([]Request, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	rs, err := ws.PrivacyRequests().ListPrivacyRequests(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	people := map[string]store.User{}
	live, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing members: %w", err)
	}
	deleted, err := ws.Users().DeletedUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing deleted members: %w", err)
	}
	for _, u := range append(live, deleted...) {
		people[u.ID] = u
	}
	now := s.Clock.Now()
	out := make([]Request, 0, len(rs))
	for _, r := range rs {
		v := Request{PrivacyRequest: r}
		if u, ok := people[r.UserID]; ok {
			v.Email, v.Name = u.Email, u.DisplayName
		} else {
			v.Erased = true
		}
		if left := r.Deadline.Sub(now); left > 0 {
			v.DaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
		v.Overdue = r.Status == store.RequestOpen && !now.Before(r.Deadline)
		out = append(out, v)
	}
	return out, nil
}

// openRequest finds an open request for a resolution, after the role and
// re-authentication checks.
func (s Requests) openRequest(ctx context.Context, ws store.Workspace, by Admin, id string) (store.PrivacyRequest, error) {
	if !by.IsAdmin() {
		return store.PrivacyRequest{}, ErrForbidden
	}
	if err := s.fresh(by); err != nil {
		return store.PrivacyRequest{}, err
	}
	r, err := ws.PrivacyRequests().PrivacyRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && r.Status != store.RequestOpen {
		return store.PrivacyRequest{}, ErrNoSuchRequest
	}
	if err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("reading request: %w", err)
	}
	if u, err := ws.Users().UserByID(ctx, r.UserID); err == nil && !mayManage(by, u) {
		return store.PrivacyRequest{}, ErrForbidden // an admin does not erase an owner
	}
	return r, nil
}

// resolve closes the request and audits it (privacy.fulfilled or privacy.refused).
// The details name the request, its kind and the reason, never the member's
// personal data: for an erasure the record outlives it.
func (s Requests) resolve(ctx context.Context, ws store.Workspace, by Admin, r store.PrivacyRequest, status, reason string) (store.PrivacyRequest, error) {
	now := s.Clock.Now()
	if err := ws.PrivacyRequests().ResolvePrivacyRequest(ctx, r.ID, status, by.UserID, reason, now); errors.Is(err, store.ErrNotFound) {
		return store.PrivacyRequest{}, ErrNoSuchRequest // resolved meanwhile
	} else if err != nil {
		return store.PrivacyRequest{}, fmt.Errorf("resolving request: %w", err)
	}
	r.Status, r.ResolvedAt, r.ResolvedBy, r.Reason = status, now, by.UserID, reason
	action := audit.ActionPrivacyFulfilled
	if status == store.RequestRefused {
		action = audit.ActionPrivacyRefused
	}
	details := map[string]string{"request": r.ID, "kind": r.Kind}
	if reason != "" {
		details["reason"] = reason
	}
	return r, s.record(ctx, ws, by, action, audit.UserTarget(r.UserID), details)
}

// Fulfil fulfils an open request: an erasure erases the member at once
// (EraseMember), a restriction is lifted (the member may sign in again); the other
// kinds took effect when asked and are only closed. It needs a recent
// re-authentication; admins resolve the requests of members and managers only.
func (s Requests) Fulfil(ctx context.Context, ws store.Workspace, by Admin, id, note string) (store.PrivacyRequest, error) {
	note = strings.TrimSpace(note)
	if len(note) > maxReason {
		return store.PrivacyRequest{}, &FieldError{Field: "reason", Msg: "at most " + strconv.Itoa(maxReason) + " characters"}
	}
	r, err := s.openRequest(ctx, ws, by, id)
	if err != nil {
		return store.PrivacyRequest{}, err
	}
	switch r.Kind {
	case store.RequestErasure:
		if err := s.eraseMember(ctx, ws, r.UserID); err != nil {
			return store.PrivacyRequest{}, err
		}
	case store.RequestRestriction:
		if err := s.liftRestriction(ctx, ws, by, r); err != nil {
			return store.PrivacyRequest{}, err
		}
	}
	return s.resolve(ctx, ws, by, r, store.RequestFulfilled, note)
}

// Refuse refuses an open request with a reason the member can be told. A
// refused restriction is lifted all the same: the account does not stay blocked
// without an open request. It needs a recent re-authentication.
func (s Requests) Refuse(ctx context.Context, ws store.Workspace, by Admin, id, reason string) (store.PrivacyRequest, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.PrivacyRequest{}, ErrReasonRequired
	}
	if len(reason) > maxReason {
		return store.PrivacyRequest{}, &FieldError{Field: "reason", Msg: "at most " + strconv.Itoa(maxReason) + " characters"}
	}
	r, err := s.openRequest(ctx, ws, by, id)
	if err != nil {
		return store.PrivacyRequest{}, err
	}
	if r.Kind == store.RequestRestriction {
		if err := s.liftRestriction(ctx, ws, by, r); err != nil {
			return store.PrivacyRequest{}, err
		}
	}
	return s.resolve(ctx, ws, by, r, store.RequestRefused, reason)
}

// liftRestriction makes a restricted member active again (user.restriction_lifted);
// a member no longer restricted (or gone) is left as they are.
func (s Requests) liftRestriction(ctx context.Context, ws store.Workspace, by Admin, r store.PrivacyRequest) error {
	u, err := ws.Users().UserByID(ctx, r.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Status != store.UserRestricted {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading member: %w", err)
	}
	if err := ws.Users().SetStatus(ctx, u.ID, store.UserActive); err != nil {
		return fmt.Errorf("lifting restriction: %w", err)
	}
	return s.record(ctx, ws, by, audit.ActionRestrictionLifted, audit.UserTarget(u.ID), map[string]string{"request": r.ID})
}

// eraseMember erases a member now, as the purge job does after the restore window:
// the member is deleted (their sessions and tokens end), the personal fields of
// their audit records are erased (the chain still verifies), and the member with
// their factors, sessions and sign-in history is removed. A member already deleted
// or purged is carried on from where they are, so a retry after a failure finishes
// the job. The workspace's last active owner is not erased (ErrLastOwner).
func (s Requests) eraseMember(ctx context.Context, ws store.Workspace, userID string) error {
	now := s.Clock.Now()
	err := ws.Users().DeleteUser(ctx, userID, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("deleting member: %w", err)
	}
	if s.Sessions != nil {
		if _, err := s.Sessions.RevokeUser(ctx, ws, userID, ""); err != nil {
			return err
		}
	}
	_, err = s.Deletions().purge(ctx, ws, userID, now.Add(time.Nanosecond), map[string]string{"erasure_request": "true"})
	return err
}
