package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Teams live on the members pages: the members page lists them (create, delete), a
// member's page puts the member in and takes them out (internal/admin/teams.go).

// teamCreateForm: POST /admin/teams {name}.
func (p teamPages) teamCreateForm(c *call) error {
	name := c.r.PostFormValue("name")
	tm, err := p.Admin.Teams().Create(c.r.Context(), c.Workspace, p.adminOf(c), name)
	if err != nil {
		m, ok := mistakeOf(teamError(p.Portal, err), "name")
		if !ok {
			return teamError(p.Portal, err)
		}
		return memberPages(p).renderMembersWith(c, m.status, "", "The team was not created. "+m.msg, func(mp *membersPage) {
			mp.TeamName, mp.TeamProblem = name, m.msg
		})
	}
	return memberPages(p).renderMembers(c, http.StatusOK, "Team "+tm.Name+" created: add members to it on their pages.", "", "")
}

// teamDeleteForm: POST /admin/teams/{id}/delete.
func (p teamPages) teamDeleteForm(c *call) error {
	tm, err := p.Admin.Teams().Delete(c.r.Context(), c.Workspace, p.adminOf(c), admin.TeamRef{ID: c.r.PathValue("id")})
	if err != nil {
		return memberPages(p).memberError(c, teamError(p.Portal, err), "")
	}
	return memberPages(p).renderMembers(c, http.StatusOK, "Team "+tm.Name+" deleted; its members are in it no more. It can be restored, with them, under Deleted teams for 30 days.", "", "")
}

// teamAddForm puts the member in the team the form names (POST
// /admin/members/{id}/teams/add {team}).
func (p teamPages) teamAddForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	tm, _, err := p.Admin.Teams().AddMember(c.r.Context(), c.Workspace, by, admin.TeamRef{ID: c.r.PostFormValue("team")}, t)
	if err != nil {
		return "", teamError(p.Portal, err)
	}
	return "Added to " + tm.Name + ".", nil
}

// teamRemoveForm takes the member out of a team (POST /admin/members/{id}/teams/remove
// {team}).
func (p teamPages) teamRemoveForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	tm, _, err := p.Admin.Teams().RemoveMember(c.r.Context(), c.Workspace, by, admin.TeamRef{ID: c.r.PostFormValue("team")}, t)
	if err != nil {
		return "", teamError(p.Portal, err)
	}
	return "Removed from " + tm.Name + ".", nil
}

// teamError translates the team use cases' errors.
func teamError(p *Portal, err error) error {
	switch {
	case errors.Is(err, admin.ErrNoSuchTeam):
		return errorf(http.StatusNotFound, "no_such_team", "There is no such team (it may have just been deleted).").
			goOn(p.path("/admin/members"), "Back to the members")
	case errors.Is(err, admin.ErrTeamDeletedName):
		return errorf(http.StatusConflict, "team_deleted", "A deleted team has that name: restore it under Deleted teams, or choose another name.").
			goOn(p.path("/admin/members"), "Back to the members")
	case errors.Is(err, admin.ErrTeamExists):
		return errorf(http.StatusConflict, "team_exists", "There is a team by that name already (names are compared regardless of case).").
			goOn(p.path("/admin/members"), "Back to the members")
	}
	return err
}

// memberTeams is what a member's page shows of teams: those they are in, and the rest
// to add them to.
type memberTeams struct{ In, Out []store.Team }

func (p teamPages) teamsOf(c *call, by admin.Admin, u store.User) (memberTeams, error) {
	in, out, err := p.Admin.Teams().MemberTeams(c.r.Context(), c.Workspace, by, u)
	return memberTeams{In: in, Out: out}, err
}

// teamJSON is a team as the API shows it.
func teamJSON(t admin.TeamInfo) map[string]any {
	return map[string]any{"id": t.ID, "name": t.Name, "members": t.Members, "created": t.CreatedAt.UTC().Format(time.RFC3339)}
}

// apiTeams: GET /api/v1/admin/teams.
func (p teamPages) apiTeams(c *call) error {
	list, err := p.Admin.Teams().List(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, t := range list {
		out[i] = teamJSON(t)
	}
	deleted, err := p.deletedTeamsJSON(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"teams": out, "deleted": deleted})
	return nil
}

// apiTeamCreate: POST /api/v1/admin/teams {"name"} → 201 the team.
func (p teamPages) apiTeamCreate(c *call) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	tm, err := p.Admin.Teams().Create(c.r.Context(), c.Workspace, p.adminOf(c), body.Name)
	if err != nil {
		return teamError(p.Portal, err)
	}
	writeJSON(c.w, http.StatusCreated, teamJSON(admin.TeamInfo{Team: tm}))
	return nil
}

// apiTeamDelete: DELETE /api/v1/admin/teams/{id} → {"status":"deleted"}.
func (p teamPages) apiTeamDelete(c *call) error {
	tm, err := p.Admin.Teams().Delete(c.r.Context(), c.Workspace, p.adminOf(c), admin.TeamRef{ID: c.r.PathValue("id")})
	if err != nil {
		return teamError(p.Portal, err)
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "deleted", "id": tm.ID, "name": tm.Name})
	return nil
}

// apiTeamMember: PUT (add) or DELETE (remove) /api/v1/admin/teams/{id}/members/{user}
// → the member, with their teams.
func (p teamPages) apiTeamMember(add bool) handler {
	return func(c *call) error {
		var body struct{}
		if err := c.decode(&body, false); err != nil {
			return err
		}
		teams := p.Admin.Teams()
		change := teams.RemoveMember
		if add {
			change = teams.AddMember
		}
		_, u, err := change(c.r.Context(), c.Workspace, p.adminOf(c), admin.TeamRef{ID: c.r.PathValue("id")}, admin.Target{UserID: c.r.PathValue("user")})
		if err != nil {
			return teamError(p.Portal, err)
		}
		memberPages(p).writeMember(c, u)
		return nil
	}
}
