package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

// Restoring a member's removed second factors (issue 12 §4): the list and buttons on
// the member's page, and their JSON twins.

// factorPages are the member page's removed-factor actions.
type factorPages struct{ memberPages }

// restoreFactorForm restores one removed factor from the member's page.
func (p factorPages) restoreFactorForm(c *call, by admin.Admin, t admin.Target) (string, error) {
	rf, err := p.Admin.FactorRestores().Restore(c.r.Context(), c.Workspace, by, t, c.r.PostFormValue("kind"), c.r.PostFormValue("factor"))
	return factorLabel(rf) + " is restored: it signs them in again.", err
}

// factorLabel names a removed factor in a sentence.
func factorLabel(rf admin.RemovedFactor) string {
	switch rf.Kind {
	case admin.FactorTOTP:
		return "Their authenticator app"
	case admin.FactorPasskey:
		return "Their passkey “" + rf.Name + "”"
	case admin.FactorRecoveryCodes:
		return "Their recovery codes (" + strconv.Itoa(rf.Unused) + " unused)"
	}
	return "The factor"
}

// removedFactorJSON is a removed factor as the API shows it.
func removedFactorJSON(rf admin.RemovedFactor) map[string]any {
	out := map[string]any{"kind": rf.Kind, "removed_at": rf.RemovedAt.UTC().Format(time.RFC3339),
		"restorable_until": rf.RestorableUntil.UTC().Format(time.RFC3339), "days_left": rf.DaysLeft, "superseded": rf.Superseded}
	switch rf.Kind {
	case admin.FactorPasskey:
		out["id"], out["name"] = rf.ID, rf.Name
	case admin.FactorRecoveryCodes:
		out["unused"] = rf.Unused
	}
	return out
}

// apiRemovedFactors: GET /api/v1/admin/members/{id}/factors/removed →
// {"removed_factors": [...]}, most recently removed first.
func (p factorPages) apiRemovedFactors(c *call) error {
	list, err := p.Admin.FactorRestores().Removed(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, rf := range list {
		out[i] = removedFactorJSON(rf)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"removed_factors": out})
	return nil
}

// apiRestoreFactor: POST /api/v1/admin/members/{id}/factors/restore with
// {"kind": "totp"|"passkey"|"recovery_codes", "id": passkey id} → 200 the restored
// factor; 409 factor_superseded when a newer factor took its place, 404
// no_such_factor when there is no such removed factor within the window.
func (p factorPages) apiRestoreFactor(c *call) error {
	var body struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	rf, err := p.Admin.FactorRestores().Restore(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}, body.Kind, body.ID)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, removedFactorJSON(rf))
	return nil
}
