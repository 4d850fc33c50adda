package web

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Deleting and restoring members (issue 12 §4): the buttons on a member's page and
// in the Members page's Deleted list, and their JSON twins.

// deleteForm deletes the member of the page and shows the Members page, where they
// now appear under Deleted members.
func (p memberPages) deleteForm(c *call) error {
	id := c.r.PathValue("id")
	u, err := p.Admin.Deletions().Delete(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: id})
	if err != nil {
		return p.memberError(c, err, id)
	}
	return p.renderMembers(c, http.StatusOK, u.Email+" is deleted: they cannot sign in, and every session of theirs has ended. "+
		"They can be restored until "+restorableUntil(u).Format("2 January 2006")+".", "", "")
}

// restoreForm restores a member from the Deleted list.
func (p memberPages) restoreForm(c *call) error {
	u, err := p.Admin.Deletions().Restore(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return p.memberError(c, err, "")
	}
	return p.renderMembers(c, http.StatusOK, u.Email+" is restored: they can sign in again.", "", "")
}

// restorableUntil is the end of u's restore window.
func restorableUntil(u store.User) time.Time {
	return u.DeletedAt.Add(store.DeletedUserRestoreWindow).UTC()
}

// deletedJSON is a deleted member as the API shows them.
func deletedJSON(u store.User, daysLeft int) map[string]any {
	return map[string]any{"id": u.ID, "email": u.Email, "name": u.DisplayName, "roles": nonNil(u.Roles),
		"deleted_at": u.DeletedAt.UTC().Format(time.RFC3339), "restorable_until": restorableUntil(u).Format(time.RFC3339),
		"days_left": daysLeft}
}

// apiMemberDelete: DELETE /api/v1/admin/members/{id} → 200 the deleted member.
func (p memberPages) apiMemberDelete(c *call) error {
	u, err := p.Admin.Deletions().Delete(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, deletedJSON(u, int(store.DeletedUserRestoreWindow/(24*time.Hour))))
	return nil
}

// apiMemberRestore: POST /api/v1/admin/members/{id}/restore → 200 the member.
func (p memberPages) apiMemberRestore(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	u, err := p.Admin.Deletions().Restore(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	p.writeMember(c, u)
	return nil
}

// apiDeletedMembers: GET /api/v1/admin/members/deleted → {"deleted": [...]}.
func (p memberPages) apiDeletedMembers(c *call) error {
	list, err := p.Admin.Deletions().Deleted(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, d := range list {
		out[i] = deletedJSON(d.User, d.DaysLeft)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"deleted": out})
	return nil
}
