package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

// Restoring deleted teams and roles (issue 12 §4): the Deleted teams list on the
// Members page, the Deleted roles list on the Roles page, and their JSON twins (the
// team and role listings carry a "deleted" array; POST …/restore restores).

// windowOver explains ErrRestoreWindowOver for a team or a role (nil for any other
// error).
func windowOver(err error, what string) error {
	if !errors.Is(err, admin.ErrRestoreWindowOver) {
		return nil
	}
	return errorf(http.StatusConflict, "restore_window_over", "This "+what+" was deleted more than 30 days ago and cannot be restored.")
}

// teamRestoreForm: POST /admin/teams/{id}/restore.
func (p teamPages) teamRestoreForm(c *call) error {
	tm, err := p.Admin.Teams().Restore(c.r.Context(), c.Workspace, p.adminOf(c), admin.TeamRef{ID: c.r.PathValue("id")})
	if err != nil {
		if e := windowOver(err, "team"); e != nil {
			err = e
		}
		return memberPages(p).memberError(c, teamError(p.Portal, err), "")
	}
	return memberPages(p).renderMembers(c, http.StatusOK, "Team "+tm.Name+" is restored, with its members.", "", "")
}

// apiTeamRestore: POST /api/v1/admin/teams/{id}/restore → the team.
func (p teamPages) apiTeamRestore(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	tm, err := p.Admin.Teams().Restore(c.r.Context(), c.Workspace, p.adminOf(c), admin.TeamRef{ID: c.r.PathValue("id")})
	if err != nil {
		if e := windowOver(err, "team"); e != nil {
			return e
		}
		return teamError(p.Portal, err)
	}
	members, err := p.Admin.Teams().List(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	info := admin.TeamInfo{Team: tm}
	for _, t := range members {
		if t.ID == tm.ID {
			info = t
		}
	}
	writeJSON(c.w, http.StatusOK, teamJSON(info))
	return nil
}

// deletedTeamsJSON is the API's "deleted" array of the team listing.
func (p teamPages) deletedTeamsJSON(c *call) ([]map[string]any, error) {
	list, err := p.Admin.Teams().Deleted(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(list))
	for i, d := range list {
		out[i] = map[string]any{"id": d.ID, "name": d.Name, "members": len(d.DeletedMembers),
			"deleted_at": d.DeletedAt.UTC().Format(time.RFC3339), "restorable_until": d.PurgeAt.UTC().Format(time.RFC3339),
			"days_left": d.DaysLeft}
	}
	return out, nil
}

// roleRestoreForm: POST /admin/roles/{name}/restore (owners).
func (p rolePages) roleRestoreForm(c *call) error {
	name := c.r.PathValue("name")
	if _, err := p.Admin.Roles().Restore(c.r.Context(), c.Workspace, p.adminOf(c), name); err != nil {
		if e := windowOver(err, "role"); e != nil {
			err = e
		}
		if m, ok := mistakeOf(roleError(p.Portal, err, name), ""); ok {
			return p.renderRoles(c, m.status, "", m.msg, roleForm{})
		}
		return roleError(p.Portal, err, name)
	}
	return p.renderRoles(c, http.StatusOK, "Role "+name+" is restored: its holders have its permissions again.", "", roleForm{})
}

// apiRoleRestore: POST /api/v1/admin/roles/{name}/restore → the role.
func (p rolePages) apiRoleRestore(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	name := c.r.PathValue("name")
	if _, err := p.Admin.Roles().Restore(c.r.Context(), c.Workspace, p.adminOf(c), name); err != nil {
		if e := windowOver(err, "role"); e != nil {
			return e
		}
		return roleError(p.Portal, err, name)
	}
	r, err := p.Admin.Roles().Get(c.r.Context(), c.Workspace, p.adminOf(c), name)
	if err != nil {
		return roleError(p.Portal, err, name)
	}
	writeJSON(c.w, http.StatusOK, roleJSON(r))
	return nil
}

// deletedRolesJSON is the API's "deleted" array of the role listing.
func (p rolePages) deletedRolesJSON(c *call) ([]map[string]any, error) {
	list, err := p.Admin.Roles().Deleted(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(list))
	for i, d := range list {
		out[i] = map[string]any{"name": d.Name, "description": d.Description, "permissions": nonNil(d.Permissions),
			"deleted_at": d.DeletedAt.UTC().Format(time.RFC3339), "restorable_until": d.PurgeAt.UTC().Format(time.RFC3339),
			"days_left": d.DaysLeft}
	}
	return out, nil
}
