package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Restoring and purging deleted teams and roles (issue 12 §4). Teams.Delete and
// Roles.Delete are soft deletes; these list what was deleted, restore it within
// store.DeletedRestoreWindow, and purge it afterwards (the purge job).

// Audit actions of restoring and purging teams and roles (deleting them records
// ActionTeamDelete and ActionRoleDelete).
const (
	ActionTeamRestore = "team.restore"
	// ActionTeamPurged: the purge job removed a team deleted more than
	// store.DeletedRestoreWindow ago (actor: the system).
	ActionTeamPurged  = "team.purged"
	ActionRoleRestore = "role.restore"
	// ActionRolePurged: the purge job removed a role deleted more than
	// store.DeletedRestoreWindow ago, and its name from its former holders.
	ActionRolePurged = "role.purged"
)

// Errors of restoring teams and roles.
var (
	// ErrTeamDeletedName: a deleted team keeps its name while it can be restored.
	ErrTeamDeletedName = fmt.Errorf("a deleted team has that name (restore it, or wait until it is purged): %w", ErrTeamExists)
)

// Window tells how long a deleted team or role can still be restored.
type Window struct {
	PurgeAt time.Time // when the restore window ends and the purge job may remove it
	// DaysLeft is how many days of the window remain, a started day counting as one.
	DaysLeft int
}

// windowOf is the restore window of something deleted at deleted, seen at now.
func windowOf(deleted, now time.Time) Window {
	end := deleted.Add(store.DeletedRestoreWindow)
	days := 0
	if left := end.Sub(now); left > 0 {
		days = int((left + 24*time.Hour - 1) / (24 * time.Hour))
	}
	return Window{PurgeAt: end, DaysLeft: days}
}

// DeletedTeam is a deleted team as the Deleted teams list shows it.
type DeletedTeam struct {
	store.Team
	Window
}

// Deleted lists the workspace's deleted teams with the time left to restore them
// (owners and admins).
func (t Teams) Deleted(ctx context.Context, ws store.Workspace, by Admin) ([]DeletedTeam, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	teams, err := ws.Teams().DeletedTeams(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing deleted teams: %w", err)
	}
	now := t.s.Clock.Now()
	out := make([]DeletedTeam, len(teams))
	for i, tm := range teams {
		out[i] = DeletedTeam{Team: tm, Window: windowOf(tm.DeletedAt, now)}
	}
	return out, nil
}

// Restore brings a deleted team (by id, or by name in any case) back within the
// restore window, with the members it had (those purged meanwhile excepted); their
// sessions here are dropped so that team scope admits the team's records again. It
// needs a recent re-authentication. A team deleted longer ago is
// ErrRestoreWindowOver.
func (t Teams) Restore(ctx context.Context, ws store.Workspace, by Admin, ref TeamRef) (store.Team, error) {
	if !by.IsAdmin() {
		return store.Team{}, ErrForbidden
	}
	if err := t.s.fresh(by); err != nil {
		return store.Team{}, err
	}
	list, err := t.Deleted(ctx, ws, by)
	if err != nil {
		return store.Team{}, err
	}
	name := strings.TrimSpace(ref.Name)
	for _, d := range list {
		if ref.ID != "" && d.ID != ref.ID || ref.ID == "" && (name == "" || !strings.EqualFold(d.Name, name)) {
			continue
		}
		id := d.ID
		if !t.s.Clock.Now().Before(d.PurgeAt) {
			return store.Team{}, ErrRestoreWindowOver
		}
		if err := ws.Teams().RestoreTeam(ctx, id); errors.Is(err, store.ErrNotFound) {
			return store.Team{}, ErrNoSuchTeam // restored or purged meanwhile
		} else if err != nil {
			return store.Team{}, fmt.Errorf("restoring team: %w", err)
		}
		for _, uid := range d.DeletedMembers {
			t.forget(uid)
		}
		tm := d.Team
		tm.DeletedAt, tm.DeletedMembers = time.Time{}, nil
		return tm, t.s.record(ctx, ws, by, ActionTeamRestore, teamTarget(id), map[string]string{
			"name": d.Name, "members": fmt.Sprint(len(d.DeletedMembers)), "deleted_at": d.DeletedAt.UTC().Format(time.RFC3339)})
	}
	return store.Team{}, ErrNoSuchTeam
}

// nameTaken explains why a new team's name is taken: by a live team (ErrTeamExists)
// or a deleted one (ErrTeamDeletedName).
func (t Teams) nameTaken(ctx context.Context, ws store.Workspace, name string) error {
	deleted, err := ws.Teams().DeletedTeams(ctx)
	if err != nil {
		return fmt.Errorf("listing deleted teams: %w", err)
	}
	for _, d := range deleted {
		if strings.EqualFold(d.Name, name) {
			return ErrTeamDeletedName
		}
	}
	return ErrTeamExists
}

// DeletedRole is a deleted role as the Deleted roles list shows it.
type DeletedRole struct {
	store.Role
	Window
}

// Deleted lists the workspace's deleted roles with the time left to restore them
// (owners and admins).
func (r Roles) Deleted(ctx context.Context, ws store.Workspace, by Admin) ([]DeletedRole, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	roles, err := ws.Roles().DeletedRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing deleted roles: %w", err)
	}
	now := r.s.Clock.Now()
	out := make([]DeletedRole, len(roles))
	for i, role := range roles {
		out[i] = DeletedRole{Role: role, Window: windowOf(role.DeletedAt, now)}
	}
	return out, nil
}

// Restore brings a deleted role back within the restore window, with its
// permissions: the members who held it have them again on their next request here
// (owners only, with a recent re-authentication). A role deleted longer ago is
// ErrRestoreWindowOver.
func (r Roles) Restore(ctx context.Context, ws store.Workspace, by Admin, name string) (store.Role, error) {
	if !by.IsOwner() {
		return store.Role{}, ErrForbidden
	}
	if err := r.s.fresh(by); err != nil {
		return store.Role{}, err
	}
	list, err := r.Deleted(ctx, ws, by)
	if err != nil {
		return store.Role{}, err
	}
	name = strings.TrimSpace(name)
	for _, d := range list {
		if d.Name != name {
			continue
		}
		if !r.s.Clock.Now().Before(d.PurgeAt) {
			return store.Role{}, ErrRestoreWindowOver
		}
		if err := ws.Roles().RestoreRole(ctx, name); errors.Is(err, store.ErrNotFound) {
			return store.Role{}, ErrNoSuchRole // restored or purged meanwhile
		} else if err != nil {
			return store.Role{}, fmt.Errorf("restoring role: %w", err)
		}
		if err := r.forgetHolders(ctx, ws, name); err != nil {
			return store.Role{}, err
		}
		role := d.Role
		role.DeletedAt = time.Time{}
		return role, r.s.record(ctx, ws, by, ActionRoleRestore, "role:"+name, map[string]string{
			"name": name, "deleted_at": d.DeletedAt.UTC().Format(time.RFC3339)})
	}
	return store.Role{}, ErrNoSuchRole
}

// PurgeDeleted removes for good the workspace's teams deleted longer ago than the
// restore window (the purge job runs it for every workspace), recording team.purged
// for each. It returns how many it purged; one restored meanwhile is left alone.
func (t Teams) PurgeDeleted(ctx context.Context, ws store.Workspace) (int, error) {
	cutoff := t.s.Clock.Now().Add(-store.DeletedRestoreWindow)
	teams, err := ws.Teams().DeletedTeams(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing deleted teams: %w", err)
	}
	n := 0
	for _, tm := range teams {
		if !tm.DeletedAt.Before(cutoff) {
			continue
		}
		if err := ws.Teams().PurgeTeam(ctx, tm.ID, cutoff); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return n, fmt.Errorf("purging team: %w", err)
		}
		n++
		if err := recordPurge(ctx, t.s, ws, ActionTeamPurged, teamTarget(tm.ID), tm.Name, tm.DeletedAt); err != nil {
			return n, err
		}
	}
	return n, nil
}

// PurgeDeleted removes for good the workspace's roles deleted longer ago than the
// restore window, and their names from their former holders (the purge job runs it
// for every workspace), recording role.purged for each. It returns how many it
// purged; one restored meanwhile is left alone.
func (r Roles) PurgeDeleted(ctx context.Context, ws store.Workspace) (int, error) {
	cutoff := r.s.Clock.Now().Add(-store.DeletedRestoreWindow)
	roles, err := ws.Roles().DeletedRoles(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing deleted roles: %w", err)
	}
	n := 0
	for _, role := range roles {
		if !role.DeletedAt.Before(cutoff) {
			continue
		}
		if err := ws.Roles().PurgeRole(ctx, role.Name, cutoff); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return n, fmt.Errorf("purging role: %w", err)
		}
		n++
		if err := recordPurge(ctx, r.s, ws, ActionRolePurged, "role:"+role.Name, role.Name, role.DeletedAt); err != nil {
			return n, err
		}
	}
	return n, nil
}

// recordPurge records that the purge job removed something (actor: the system).
func recordPurge(ctx context.Context, s *Service, ws store.Workspace, action, target, name string, deleted time.Time) error {
	rec := audit.Event(action, audit.Success, audit.System, audit.Origin{})
	rec.Target = target
	rec.Details = map[string]string{"name": name, "deleted_at": deleted.UTC().Format(time.RFC3339)}
	return s.Audit.Record(ctx, ws, rec)
}
