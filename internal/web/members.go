package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type membersPage struct {
	Members []admin.Member
	Roles   []string // the workspace's roles, its own included
	Teams   []admin.TeamInfo
	// TeamNames: the teams' names by id, for the listing.
	TeamNames map[string]string
	Owner     bool // the viewer may invite owners and admins
	Link      string
	// TeamName and TeamProblem: the new team's name as typed, and why it was not
	// created (shown at the team form).
	TeamName, TeamProblem string
	// Deleted: the members deleted within the restore window.
	Deleted []admin.DeletedMember
	// DeletedTeams: the teams deleted within the restore window.
	DeletedTeams []admin.DeletedTeam
}

// membersPage lists the workspace's members, with the invitation form.
func (p memberPages) membersPage(c *call) error {
	return p.renderMembers(c, http.StatusOK, "", "", "")
}

func (p memberPages) renderMembers(c *call, status int, notice, errMsg, link string) error {
	return p.renderMembersWith(c, status, notice, errMsg, func(m *membersPage) { m.Link = link })
}

// renderMembersWith renders the members page; set adds to what it shows.
func (p memberPages) renderMembersWith(c *call, status int, notice, errMsg string, set func(*membersPage)) error {
	by := p.adminOf(c)
	ms, err := p.Admin.Members(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	roles, err := p.Admin.Roles().Defined(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	teams, err := p.Admin.Teams().List(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	names := make(map[string]string, len(teams))
	for _, t := range teams {
		names[t.ID] = t.Name
	}
	deleted, err := p.Admin.Deletions().Deleted(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	deletedTeams, err := p.Admin.Teams().Deleted(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	page := membersPage{Members: ms, Roles: roles.Names(), Teams: teams, TeamNames: names, Owner: by.IsOwner(),
		Deleted: deleted, DeletedTeams: deletedTeams}
	set(&page)
	p.render(c, status, "members", pageInfo{Title: "Members", Nav: "members", Wide: true, Notice: notice, Error: errMsg}, page)
	return nil
}

// inviteForm invites a member by e-mail (the link goes through the outbox).
func (p memberPages) inviteForm(c *call) error {
	f := c.r.PostForm
	u, _, err := p.Admin.Invite(c.r.Context(), c.Workspace, p.adminOf(c), admin.Invitation{Email: f.Get("email"), Name: f.Get("name"), Role: f.Get("role"), Mail: true})
	if err != nil {
		return p.memberError(c, err, "")
	}
	return p.renderMembers(c, http.StatusOK, "Invitation sent to "+u.Email+". The link works once, for 7 days.", "", "")
}

// memberError shows what an administrator got wrong on the page they were on; a
// re-authentication, a refusal or a failure goes to its own page.
func (p memberPages) memberError(c *call, err error, userID string) error {
	e := useCaseError(err)
	if errors.Is(err, admin.ErrAlreadyMember) {
		e = errorf(http.StatusConflict, "already_a_member", "That address belongs to a member already.")
	}
	if e.status != http.StatusBadRequest && e.status != http.StatusConflict && e.status != http.StatusNotFound {
		return err
	}
	if userID == "" {
		return p.renderMembers(c, e.status, "", e.msg, "")
	}
	return p.renderMember(c, e.status, userID, "", e.msg)
}

type memberPage struct {
	admin.MemberDetail
	// Removed: the member's removed second factors within the restore window (for a
	// member the viewer manages).
	Removed []admin.RemovedFactor
	Roles   []string // the workspace's roles, its own included
	Teams   memberTeams
	Self    bool // the viewer's own entry
	Owner   bool
}

// memberPage shows one member: role, state, sessions, and the actions on them.
func (p memberPages) memberPage(c *call) error {
	return p.renderMember(c, http.StatusOK, c.r.PathValue("id"), "", "")
}

func (p memberPages) renderMember(c *call, status int, id, notice, errMsg string) error {
	by := p.adminOf(c)
	d, err := p.Admin.Member(c.r.Context(), c.Workspace, by, admin.Target{UserID: id})
	if err != nil {
		return err
	}
	roles, err := p.Admin.Roles().Defined(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	teams, err := teamPages(p).teamsOf(c, by, d.User)
	if err != nil {
		return err
	}
	var removed []admin.RemovedFactor
	if d.Manageable {
		if removed, err = p.Admin.FactorRestores().Removed(c.r.Context(), c.Workspace, by, admin.Target{UserID: d.User.ID}); err != nil {
			return err
		}
	}
	title := d.User.Email
	if d.User.DisplayName != "" {
		title = d.User.DisplayName
	}
	p.render(c, status, "member", pageInfo{Title: title, Nav: "members", Wide: true, Notice: notice, Error: errMsg},
		memberPage{MemberDetail: d, Removed: removed, Roles: roles.Names(), Teams: teams, Self: d.User.ID == by.UserID, Owner: by.IsOwner()})
	return nil
}

// memberAction runs one administrator action on a member from their page and shows the
// page again with what happened.
func (p memberPages) memberAction(act func(c *call, by admin.Admin, t admin.Target) (string, error)) handler {
	return func(c *call) error {
		id := c.r.PathValue("id")
		msg, err := act(c, p.adminOf(c), admin.Target{UserID: id})
		if err != nil {
			return p.memberError(c, err, id)
		}
		return p.renderMember(c, http.StatusOK, id, msg, "")
	}
}

func (p memberPages) roleForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	u, err := p.Admin.SetRole(c.r.Context(), c.Workspace, by, t, c.r.PostFormValue("role"))
	return "Role changed to " + strings.Join(u.Roles, ", ") + ".", err
}

func (p memberPages) disableForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	_, err := p.Admin.SetDisabled(c.r.Context(), c.Workspace, by, t, true)
	return "Disabled: they cannot sign in, and every session of theirs has ended.", err
}

func (p memberPages) enableForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	_, err := p.Admin.SetDisabled(c.r.Context(), c.Workspace, by, t, false)
	return "Enabled: they can sign in again.", err
}

func (p memberPages) unlockMemberForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	u, err := p.Admin.Unlock(c.r.Context(), c.Workspace, by, t)
	if !u.WasLocked {
		return "They were not locked.", err
	}
	return "Unlocked: they can sign in again.", err
}

func (p memberPages) resetFactorsForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	_, err := p.Admin.ResetFactors(c.r.Context(), c.Workspace, by, t)
	return "Their second factors are removed; they enrol again at their next sign-in. A mistake? Restore them below within 30 days.", err
}

func (p memberPages) sendResetForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	_, err := p.Admin.SendPasswordReset(c.r.Context(), c.Workspace, by, t)
	return "A password reset link is on its way to them (it works once, for 30 minutes).", err
}

func (p memberPages) revokeMemberSessionsForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	n, err := p.Admin.RevokeSessions(c.r.Context(), c.Workspace, by, t, c.r.PostFormValue("session"))
	if n == 1 && c.r.PostFormValue("session") != "" {
		return "That session is signed out.", err
	}
	return "Signed out everywhere.", err
}

// memberJSON is a member as the API shows them.
func memberJSON(m admin.Member) map[string]any {
	u := m.User
	out := map[string]any{"id": u.ID, "email": u.Email, "name": u.DisplayName, "roles": nonNil(u.Roles), "teams": nonNil(u.Teams), "status": memberStatus(m),
		"second_factor": map[string]any{"enrolled": m.Factors.Any(), "totp": m.Factors.TOTP, "passkeys": m.Factors.Passkeys},
		"locked":        m.Locked > 0, "last_sign_in": nil}
	if !u.LastLoginAt.IsZero() {
		out["last_sign_in"] = u.LastLoginAt.UTC().Format(time.RFC3339)
	}
	if m.Locked > 0 {
		out["locked_for_seconds"] = int(m.Locked.Seconds())
	}
	return out
}

// memberStatus is what the members page says of a member's state.
func memberStatus(m admin.Member) string {
	switch {
	case m.User.Status != store.UserActive:
		return m.User.Status
	case m.Invited:
		return "invited"
	}
	return "active"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// apiMembers: GET /api/v1/admin/members.
func (p memberPages) apiMembers(c *call) error {
	ms, err := p.Admin.Members(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = memberJSON(m)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"members": out})
	return nil
}

// apiInvite: POST /api/v1/admin/members {"email","name","role"} → 201 the member.
func (p memberPages) apiInvite(c *call) error {
	var body struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Role  string `json:"role"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	u, _, err := p.Admin.Invite(c.r.Context(), c.Workspace, p.adminOf(c), admin.Invitation{Email: body.Email, Name: body.Name, Role: body.Role, Mail: true})
	if errors.Is(err, admin.ErrAlreadyMember) {
		return errorf(http.StatusConflict, "already_a_member", "That address belongs to a member already.")
	}
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, memberJSON(admin.Member{User: u, Invited: true}))
	return nil
}

// apiMember: GET /api/v1/admin/members/{id} → the member with their sessions.
func (p memberPages) apiMember(c *call) error {
	d, err := p.Admin.Member(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	out := memberJSON(d.Member)
	out["sessions"] = sessionsJSON(d.Sessions)
	out["manageable"] = d.Manageable // may the caller act on this member
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// apiMemberRole: PUT /api/v1/admin/members/{id}/role {"role"}.
func (p memberPages) apiMemberRole(c *call) error {
	var body struct {
		Role string `json:"role"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	u, err := p.Admin.SetRole(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}, body.Role)
	if err != nil {
		return err
	}
	p.writeMember(c, u)
	return nil
}

// writeMember answers a change with the member as the listing shows them (factors,
// lock state); should that read fail, the change is still answered as done.
func (p memberPages) writeMember(c *call, u store.User) {
	m := admin.Member{User: u}
	if d, err := p.Admin.Member(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: u.ID}); err == nil {
		m = d.Member
	}
	writeJSON(c.w, http.StatusOK, memberJSON(m))
}

// apiMemberStatus: POST /api/v1/admin/members/{id}/disable | /enable.
func (p memberPages) apiMemberStatus(disabled bool) handler {
	return func(c *call) error {
		var body struct{}
		if err := c.decode(&body, false); err != nil {
			return err
		}
		u, err := p.Admin.SetDisabled(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}, disabled)
		if err != nil {
			return err
		}
		p.writeMember(c, u)
		return nil
	}
}

// apiMemberResetPassword: POST /api/v1/admin/members/{id}/reset-password → 202.
func (p memberPages) apiMemberResetPassword(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	if _, err := p.Admin.SendPasswordReset(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusAccepted, map[string]string{"status": "sent"})
	return nil
}

// apiMemberSessions: GET /api/v1/admin/members/{id}/sessions.
func (p memberPages) apiMemberSessions(c *call) error {
	d, err := p.Admin.Member(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"sessions": sessionsJSON(d.Sessions)})
	return nil
}

// apiMemberSessionsRevoke: DELETE /api/v1/admin/members/{id}/sessions[/{sid}] → {"revoked": n}.
func (p memberPages) apiMemberSessionsRevoke(c *call) error {
	n, err := p.Admin.RevokeSessions(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}, c.r.PathValue("sid"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}
