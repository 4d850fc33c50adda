package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// TestTeams: owners and admins create teams (names unique in any case), put members
// in and take them out — which the member's live session sees at once — and delete
// teams; members do none of it; admins do not change owners' teams; every change is
// audited.
func TestTeams(t *testing.T) {
	t.Parallel()
	c := newCrew(t)
	ctx := context.Background()
	ownerU, owner := c.member(t, "owner@acme.test", identity.RoleOwner)
	_, adm := c.member(t, "adm@acme.test", identity.RoleAdmin)
	ann, asAnn := c.member(t, "ann@acme.test", identity.RoleMember)
	bob, _ := c.member(t, "bob@acme.test", identity.RoleManager)
	tok, _ := c.session(t, ann)
	teams := c.svc.Teams()

	sales, err := teams.Create(ctx, c.ws, adm, "  Sales EMEA ")
	if err != nil || sales.Name != "Sales EMEA" || sales.ID == "" {
		t.Fatalf("create: %+v %v", sales, err)
	}
	if _, err := teams.Create(ctx, c.ws, owner, "sales emea"); !errors.Is(err, ErrTeamExists) {
		t.Fatalf("the same name in another case: %v", err)
	}
	var fe *FieldError
	for _, name := range []string{"", "   ", strings.Repeat("x", 65), "tab\tname"} {
		if _, err := teams.Create(ctx, c.ws, owner, name); !errors.As(err, &fe) || fe.Field != "name" {
			t.Fatalf("team name %q: %v", name, err)
		}
	}
	if _, err := teams.Create(ctx, c.ws, owner, strings.Repeat("é", 64)); err != nil {
		t.Fatalf("64 characters: %v", err)
	}
	if _, err := teams.Create(ctx, c.ws, asAnn, "Mine"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member creating a team: %v", err)
	}
	if _, err := teams.List(ctx, c.ws, asAnn); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member listing teams: %v", err)
	}

	// Add: by id or by name; twice is once; the session sees it at once.
	if _, u, err := teams.AddMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); err != nil || !slices.Equal(u.Teams, []string{sales.ID}) {
		t.Fatalf("add: %+v %v", u, err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{Name: "SALES emea"}, Target{Email: "ann@acme.test"}); err != nil {
		t.Fatalf("add again, by name: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{Name: "Sales EMEA"}, Target{UserID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.stored(t, ann.ID).Teams, []string{sales.ID}) {
		t.Fatalf("ann's teams: %v", c.stored(t, ann.ID).Teams)
	}
	e, err := c.sessions.Validate(ctx, c.ws, c.ws.Slug, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Subject.Teams, []string{sales.ID}) {
		t.Fatalf("ann's session after being added: %v", e.Subject.Teams)
	}
	list, err := teams.List(ctx, c.ws, adm)
	if err != nil || len(list) != 2 || list[0].Name != "Sales EMEA" || list[0].Members != 2 || list[1].Members != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	in, out, err := teams.MemberTeams(ctx, c.ws, adm, c.stored(t, ann.ID))
	if err != nil || len(in) != 1 || in[0].ID != sales.ID || len(out) != 1 {
		t.Fatalf("ann's teams: %+v %+v %v", in, out, err)
	}

	// Refusals.
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ownerU.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin changing an owner's teams: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, asAnn, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member joining a team: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{Name: "nope"}, Target{UserID: ann.ID}); !errors.Is(err, ErrNoSuchTeam) {
		t.Fatalf("unknown team: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{Email: "nobody@acme.test"}); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown member: %v", err)
	}
	if _, _, err := teams.AddMember(ctx, c.ws, owner, TeamRef{ID: sales.ID}, Target{UserID: ownerU.ID}); err != nil {
		t.Fatalf("an owner joining: %v", err)
	}

	// Remove.
	if _, u, err := teams.RemoveMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); err != nil || len(u.Teams) != 0 {
		t.Fatalf("remove: %+v %v", u, err)
	}
	if e, err := c.sessions.Validate(ctx, c.ws, c.ws.Slug, tok); err != nil || len(e.Subject.Teams) != 0 {
		t.Fatalf("ann's session after being removed: %v", err)
	}
	if _, _, err := teams.RemoveMember(ctx, c.ws, adm, TeamRef{ID: sales.ID}, Target{UserID: ann.ID}); err != nil {
		t.Fatalf("removing again: %v", err)
	}

	// Delete: the members leave it.
	if _, err := teams.Delete(ctx, c.ws, asAnn, TeamRef{ID: sales.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member deleting a team: %v", err)
	}
	if _, err := teams.Delete(ctx, c.ws, adm, TeamRef{ID: sales.ID}); err != nil {
		t.Fatal(err)
	}
	if len(c.stored(t, bob.ID).Teams) != 0 || len(c.stored(t, ownerU.ID).Teams) != 0 {
		t.Fatal("the deleted team's members are still in it")
	}
	if _, err := teams.Delete(ctx, c.ws, adm, TeamRef{ID: sales.ID}); !errors.Is(err, ErrNoSuchTeam) {
		t.Fatalf("deleting again: %v", err)
	}
	if _, err := teams.Create(ctx, c.ws, adm, "Sales EMEA"); !errors.Is(err, ErrTeamDeletedName) {
		t.Fatalf("the name while the team can be restored: %v", err)
	}

	recs, _ := c.ws.Audit().ListAudit(ctx, 0, 1000)
	count := map[string]int{}
	for _, r := range recs {
		count[r.Action]++
		if r.Action == ActionTeamDelete && (r.Target != "team:"+sales.ID || r.Details["name"] != "Sales EMEA" || r.Details["members"] != "2" || r.ActorID != adm.UserID) {
			t.Errorf("delete record: %+v", r)
		}
		if r.Action == ActionTeamMemberAdd && r.Target == "user:"+ann.ID && (r.Details["team"] != sales.ID || r.Details["team_name"] != "Sales EMEA") {
			t.Errorf("add record: %+v", r)
		}
	}
	if count[ActionTeamCreate] != 2 || count[ActionTeamMemberAdd] != 4 || count[ActionTeamMemberRemove] != 2 || count[ActionTeamDelete] != 1 {
		t.Fatalf("audit: %v", count)
	}
}
