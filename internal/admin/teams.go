package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of team administration.
const (
	ActionTeamCreate       = "team.create"
	ActionTeamDelete       = "team.delete"
	ActionTeamMemberAdd    = "team.member_add"
	ActionTeamMemberRemove = "team.member_remove"
)

// Errors of team administration.
var (
	// ErrNoSuchTeam: the workspace has no such team.
	ErrNoSuchTeam = errors.New("no such team")
	// ErrTeamExists: a team by that name (in any case) exists already.
	ErrTeamExists = errors.New("a team by that name exists already")
)

// maxTeamName bounds a team's name, in characters.
const maxTeamName = 64

// Teams runs the use cases of the workspace's teams (owners and admins). Routes with
// scope team admit the records of the caller's teams; a change of a member's teams
// reaches their next request to this instance, and within session_cache_ttl
// elsewhere.
type Teams struct{ s *Service }

// Teams returns the team use cases.
func (s *Service) Teams() Teams { return Teams{s} }

// TeamInfo is a team with how many members (deleted ones not counted) are in it.
type TeamInfo struct {
	store.Team
	Members int
}

// TeamRef names a team by id or, when ID is empty, by name (in any case).
type TeamRef struct{ ID, Name string }

// List returns the workspace's teams ordered by name, with their member counts.
func (t Teams) List(ctx context.Context, ws store.Workspace, by Admin) ([]TeamInfo, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	teams, err := ws.Teams().ListTeams(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing teams: %w", err)
	}
	us, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	in := map[string]int{}
	for _, u := range us {
		if u.Status == store.UserDeleted {
			continue
		}
		for _, id := range u.Teams {
			in[id]++
		}
	}
	out := make([]TeamInfo, len(teams))
	for i, tm := range teams {
		out[i] = TeamInfo{Team: tm, Members: in[tm.ID]}
	}
	return out, nil
}

// find looks a team up (ErrNoSuchTeam when there is none).
func (t Teams) find(ctx context.Context, ws store.Workspace, ref TeamRef) (store.Team, error) {
	var tm store.Team
	var err error
	switch {
	case ref.ID != "":
		tm, err = ws.Teams().TeamByID(ctx, ref.ID)
	case strings.TrimSpace(ref.Name) != "":
		tm, err = ws.Teams().TeamByName(ctx, strings.TrimSpace(ref.Name))
	default:
		return store.Team{}, ErrNoSuchTeam
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, ErrNoSuchTeam
	}
	if err != nil {
		return store.Team{}, fmt.Errorf("looking up team: %w", err)
	}
	return tm, nil
}

// checkTeamName checks a new team's name: 1 to 64 characters, no control characters.
func checkTeamName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxTeamName || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &FieldError{Field: "name", Msg: fmt.Sprintf("a team name has 1 to %d characters, without control characters", maxTeamName)}
	}
	return nil
}

// Create adds a team. Names are unique in any case (ErrTeamExists).
func (t Teams) Create(ctx context.Context, ws store.Workspace, by Admin, name string) (store.Team, error) {
	if !by.IsAdmin() {
		return store.Team{}, ErrForbidden
	}
	if err := t.s.fresh(by); err != nil {
		return store.Team{}, err
	}
	name = strings.TrimSpace(name)
	if err := checkTeamName(name); err != nil {
		return store.Team{}, err
	}
	tm := store.Team{ID: secret.NewID(), Name: name, CreatedAt: t.s.Clock.Now()}
	err := ws.Teams().CreateTeam(ctx, tm)
	if errors.Is(err, store.ErrConflict) {
		return store.Team{}, t.nameTaken(ctx, ws, name)
	}
	if err != nil {
		return store.Team{}, fmt.Errorf("creating team: %w", err)
	}
	return tm, t.s.record(ctx, ws, by, ActionTeamCreate, teamTarget(tm.ID), map[string]string{"name": tm.Name})
}

// Delete deletes a team — a soft delete: its members leave it at once (their sessions
// here are dropped, so team scope no longer admits its records), and its name stays
// taken while it can be restored (Restore, within store.DeletedRestoreWindow), which
// puts its members back.
func (t Teams) Delete(ctx context.Context, ws store.Workspace, by Admin, ref TeamRef) (store.Team, error) {
	if !by.IsAdmin() {
		return store.Team{}, ErrForbidden
	}
	if err := t.s.fresh(by); err != nil {
		return store.Team{}, err
	}
	tm, err := t.find(ctx, ws, ref)
	if err != nil {
		return store.Team{}, err
	}
	members, err := ws.Teams().TeamMembers(ctx, tm.ID)
	if err != nil {
		return store.Team{}, fmt.Errorf("listing team members: %w", err)
	}
	now := t.s.Clock.Now()
	err = ws.Teams().DeleteTeam(ctx, tm.ID, now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, ErrNoSuchTeam
	}
	if err != nil {
		return store.Team{}, fmt.Errorf("deleting team: %w", err)
	}
	for _, id := range members {
		t.forget(id)
	}
	tm.DeletedAt = now
	return tm, t.s.record(ctx, ws, by, ActionTeamDelete, teamTarget(tm.ID),
		map[string]string{"name": tm.Name, "members": fmt.Sprint(len(members)),
			"restorable_until": now.Add(store.DeletedRestoreWindow).UTC().Format(time.RFC3339)})
}

// AddMember puts a member in a team (nothing changes if they are in it). Admins
// manage members and managers; owners anyone (as for every member change).
func (t Teams) AddMember(ctx context.Context, ws store.Workspace, by Admin, ref TeamRef, who Target) (store.Team, store.User, error) {
	return t.change(ctx, ws, by, ref, who, true)
}

// RemoveMember takes a member out of a team (nothing changes if they are not in it).
func (t Teams) RemoveMember(ctx context.Context, ws store.Workspace, by Admin, ref TeamRef, who Target) (store.Team, store.User, error) {
	return t.change(ctx, ws, by, ref, who, false)
}

func (t Teams) change(ctx context.Context, ws store.Workspace, by Admin, ref TeamRef, who Target, add bool) (store.Team, store.User, error) {
	u, err := t.s.target(ctx, ws, by, who)
	if err != nil {
		return store.Team{}, store.User{}, err
	}
	tm, err := t.find(ctx, ws, ref)
	if err != nil {
		return store.Team{}, store.User{}, err
	}
	action := ActionTeamMemberAdd
	if add {
		err = ws.Teams().AddTeamMember(ctx, tm.ID, u.ID)
	} else {
		action = ActionTeamMemberRemove
		err = ws.Teams().RemoveTeamMember(ctx, tm.ID, u.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, store.User{}, ErrNoSuchTeam // the team went in between (the user was just found)
	}
	if err != nil {
		return store.Team{}, store.User{}, fmt.Errorf("changing team members: %w", err)
	}
	t.forget(u.ID)
	if u, err = ws.Users().UserByID(ctx, u.ID); err != nil {
		return store.Team{}, store.User{}, fmt.Errorf("reading user: %w", err)
	}
	return tm, u, t.s.record(ctx, ws, by, action, audit.UserTarget(u.ID),
		map[string]string{"email": u.Email, "team": tm.ID, "team_name": tm.Name})
}

// forget drops the cached sessions of a member whose teams changed.
func (t Teams) forget(userID string) {
	if t.s.Sessions != nil {
		t.s.Sessions.ForgetUser(userID)
	}
}

// MemberTeams splits the workspace's teams into those the member is in and the rest.
func (t Teams) MemberTeams(ctx context.Context, ws store.Workspace, by Admin, u store.User) (in, out []store.Team, err error) {
	if !by.IsAdmin() {
		return nil, nil, ErrForbidden
	}
	teams, err := ws.Teams().ListTeams(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing teams: %w", err)
	}
	for _, tm := range teams {
		if slices.Contains(u.Teams, tm.ID) {
			in = append(in, tm)
		} else {
			out = append(out, tm)
		}
	}
	return in, out, nil
}

// teamTarget names a team as an audit record's target.
func teamTarget(id string) string { return "team:" + id }
