package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of deleting and restoring members (issue 12 §4).
const (
	ActionUserDeleted  = "user.deleted"
	ActionUserRestored = "user.restored"
	// ActionUserPurged: the purge job removed a member deleted more than
	// store.DeletedUserRestoreWindow ago (actor: the system).
	ActionUserPurged = "user.purged"
)

// ErrRestoreWindowOver: the member was deleted longer ago than the restore window
// (the purge job removes them on its next round).
var ErrRestoreWindowOver = errors.New("deleted too long ago to restore")

// DeletedMember is a deleted member as the Deleted list shows them.
type DeletedMember struct {
	User    store.User
	PurgeAt time.Time // when the restore window ends and the purge job may remove them
	// DaysLeft is how many days of the window remain, a started day counting as one
	// (30 just after the delete, 1 in its last day, 0 once it is over).
	DaysLeft int
}

// purgeAt is the end of u's restore window.
func purgeAt(u store.User) time.Time { return u.DeletedAt.Add(store.DeletedUserRestoreWindow) }

// Deletions are the soft delete, restore and purge of members.
type Deletions struct{ s *Service }

// Deletions returns the member deletion use cases.
func (s *Service) Deletions() Deletions { return Deletions{s} }

// Delete soft-deletes a member: from now on they cannot sign in, every session
// and refresh token of theirs has ended (this instance's cache drops them at once;
// other instances refuse them on their next read of the user), and they are hidden
// from the member lists, while their e-mail stays reserved. They can be restored
// for store.DeletedUserRestoreWindow. Like other member administration it needs a
// recent re-authentication; administrators cannot delete themselves, admins delete
// members and managers only, and the last active owner stays (ErrLastOwner).
func (d Deletions) Delete(ctx context.Context, ws store.Workspace, by Admin, t Target) (store.User, error) {
	s := d.s
	if by.IsAdmin() && (t.UserID != "" && t.UserID == by.UserID || t.UserID == "" && by.Email != "" && strings.EqualFold(strings.TrimSpace(t.Email), by.Email)) {
		return store.User{}, ErrSelf
	}
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return store.User{}, err
	}
	if u.ID == by.UserID {
		return store.User{}, ErrSelf
	}
	now := s.Clock.Now()
	if err := ws.Users().DeleteUser(ctx, u.ID, now); err != nil {
		return store.User{}, fmt.Errorf("deleting member: %w", err)
	}
	if s.Sessions != nil {
		// The store revoked the sessions with the deletion; this drops them from the
		// cache, so that not even a request already in flight here passes.
		if _, err := s.Sessions.RevokeUser(ctx, ws, u.ID, ""); err != nil {
			return store.User{}, err
		}
	}
	u.DeletedAt = now
	return u, s.record(ctx, ws, by, ActionUserDeleted, audit.UserTarget(u.ID), map[string]string{
		"email": u.Email, "restorable_until": purgeAt(u).UTC().Format(time.RFC3339)})
}

// Deleted lists the workspace's deleted members with the time left to restore
// them (owners and admins).
func (d Deletions) Deleted(ctx context.Context, ws store.Workspace, by Admin) ([]DeletedMember, error) {
	s := d.s
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	us, err := ws.Users().DeletedUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing deleted members: %w", err)
	}
	now := s.Clock.Now()
	out := make([]DeletedMember, 0, len(us))
	for _, u := range us {
		end := purgeAt(u)
		days := 0
		if left := end.Sub(now); left > 0 {
			days = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
		out = append(out, DeletedMember{User: u, PurgeAt: end, DaysLeft: days})
	}
	return out, nil
}

// Restore brings a deleted member back within the restore window, as they were
// (role, teams, status, factors); the sessions the deletion ended stay ended, so they
// sign in again. It needs a recent re-authentication; admins restore members and
// managers only. A member deleted longer ago is ErrRestoreWindowOver.
func (d Deletions) Restore(ctx context.Context, ws store.Workspace, by Admin, t Target) (store.User, error) {
	s := d.s
	if !by.IsAdmin() {
		return store.User{}, ErrForbidden
	}
	if err := s.fresh(by); err != nil {
		return store.User{}, err
	}
	u, err := d.find(ctx, ws, t)
	if err != nil {
		return store.User{}, err
	}
	if !mayManage(by, u) {
		return store.User{}, ErrForbidden
	}
	if !s.Clock.Now().Before(purgeAt(u)) {
		return store.User{}, ErrRestoreWindowOver
	}
	if err := ws.Users().RestoreUser(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNoSuchUser // restored or purged meanwhile
	} else if err != nil {
		return store.User{}, fmt.Errorf("restoring member: %w", err)
	}
	deleted := u.DeletedAt
	u.DeletedAt = time.Time{}
	return u, s.record(ctx, ws, by, ActionUserRestored, audit.UserTarget(u.ID), map[string]string{
		"email": u.Email, "deleted_at": deleted.UTC().Format(time.RFC3339)})
}

// find finds a deleted member by id or e-mail (ErrNoSuchUser when none).
func (d Deletions) find(ctx context.Context, ws store.Workspace, t Target) (store.User, error) {
	email := ""
	if t.UserID == "" {
		var err error
		if email, err = identity.NormalizeEmail(t.Email); err != nil {
			return store.User{}, ErrNoSuchUser
		}
	}
	us, err := ws.Users().DeletedUsers(ctx)
	if err != nil {
		return store.User{}, fmt.Errorf("listing deleted members: %w", err)
	}
	for _, u := range us {
		if t.UserID != "" && u.ID == t.UserID || t.UserID == "" && u.Email == email {
			return u, nil
		}
	}
	return store.User{}, ErrNoSuchUser
}

// Purge removes for good the workspace's members deleted longer ago than the
// restore window (the purge job runs it for every workspace): first the personal
// fields of their audit records are erased (AuditStore.ErasePersonal: the chain still
// verifies), then the member with their factors, sessions and sign-in history, and
// a user.purged record, which names no personal data, says so. It returns how many
// it purged. A member whose purge fails stays deleted, and the next round tries again
// (erasing twice is harmless).
func (d Deletions) Purge(ctx context.Context, ws store.Workspace) (int, error) {
	s := d.s
	us, err := ws.Users().DeletedUsers(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing deleted members: %w", err)
	}
	cutoff := s.Clock.Now().Add(-store.DeletedUserRestoreWindow)
	n := 0
	for _, u := range us {
		if !u.DeletedAt.Before(cutoff) {
			continue
		}
		purged, err := d.purge(ctx, ws, u.ID, cutoff, map[string]string{"deleted_at": u.DeletedAt.UTC().Format(time.RFC3339)})
		if err != nil {
			return n, err
		}
		if purged {
			n++
		}
	}
	return n, nil
}

// purge removes a deleted member for good: the personal fields of their audit
// records are erased first (the chain still verifies; erasing twice is harmless),
// then the member with their factors, sessions and sign-in history if they were
// deleted before before, then a user.purged record (by system, naming only the id,
// with details) says so. It reports false when the member is not there to purge
// (restored meanwhile, or already gone).
func (d Deletions) purge(ctx context.Context, ws store.Workspace, userID string, before time.Time, details map[string]string) (bool, error) {
	erased, err := ws.Audit().ErasePersonal(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("erasing the audit records of a purged member: %w", err)
	}
	if err := ws.Users().PurgeUser(ctx, userID, before); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("purging member: %w", err)
	}
	rec := audit.Event(ActionUserPurged, audit.Success, audit.System, audit.Origin{})
	rec.Target = audit.UserTarget(userID)
	rec.Details = details
	rec.Details["audit_erased"], rec.Details["audit_kept"] = strconv.Itoa(erased.Erased), strconv.Itoa(erased.Kept)
	return true, d.s.Audit.Record(ctx, ws, rec)
}
