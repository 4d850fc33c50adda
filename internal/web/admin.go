package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
)

// adminSecurityPage serves the workspace's sign-in policy.
func (p adminPages) adminSecurityPage(c *call) error {
	sec, err := p.Admin.Security(c.r.Context(), c.Workspace)
	if err != nil {
		return unavailable(err)
	}
	p.renderAdminSecurity(c, http.StatusOK, sec, "", "")
	return nil
}

func (p adminPages) renderAdminSecurity(c *call, status int, sec admin.Security, notice, errMsg string) {
	p.render(c, status, "admin_security", pageInfo{Title: "Workspace security", Nav: "workspace", Wide: true, Notice: notice, Error: errMsg}, sec)
}

// adminError shows what an administrator typed wrong on the page itself.
func (p adminPages) adminError(c *call, err error) error {
	if errors.Is(err, authn.ErrReauthRequired) {
		return err // fail sends the browser to confirm the password, then back
	}
	e := useCaseError(err)
	if e.status != http.StatusBadRequest && e.status != http.StatusNotFound {
		return e
	}
	sec, serr := p.Admin.Security(c.r.Context(), c.Workspace)
	if serr != nil {
		return unavailable(serr)
	}
	p.renderAdminSecurity(c, e.status, sec, "", e.msg)
	return nil
}

func (p adminPages) adminSecurityForm(c *call) error {
	f := c.r.PostForm
	days, err := strconv.Atoi(strings.TrimSpace(f.Get("grace_days")))
	if err != nil {
		return p.adminError(c, &admin.FieldError{Field: "grace_period", Msg: "give a number of days from 0 to 90"})
	}
	grace := time.Duration(days) * 24 * time.Hour
	req2, pka, action := f.Get("require_2fa") == "on", f.Get("passkeys_for_admins") == "on", f.Get("anomaly_action")
	review := f.Get("permission_review") == "on"
	sec, err := p.Admin.UpdateSecurity(c.r.Context(), c.Workspace, p.adminOf(c),
		admin.SecurityChange{Require2FA: &req2, Grace: &grace, PasskeysForAdmins: &pka, AnomalyAction: &action, PermissionReview: &review})
	if err != nil {
		return p.adminError(c, err)
	}
	p.renderAdminSecurity(c, http.StatusOK, sec, "Saved.", "")
	return nil
}

// adminUnlockForm unlocks by e-mail and tells the administrator what it found.
func (p adminPages) adminUnlockForm(c *call) error {
	u, err := p.Admin.Unlock(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{Email: c.r.PostFormValue("email")})
	if err != nil {
		return p.adminError(c, err)
	}
	sec, err := p.Admin.Security(c.r.Context(), c.Workspace)
	if err != nil {
		return unavailable(err)
	}
	var msg string
	switch {
	case u.User.ID == "" && !u.WasLocked:
		msg = "No member has the address " + u.Email + ", and it was not locked."
	case u.User.ID == "":
		msg = "No member has the address " + u.Email + "; its lockout was lifted anyway."
	case !u.WasLocked:
		msg = u.Email + " was not locked: they can sign in."
	default:
		msg = u.Email + " is unlocked and can sign in again."
	}
	p.renderAdminSecurity(c, http.StatusOK, sec, msg, "")
	return nil
}

// securityJSON is the policy as the API shows it.
func securityJSON(s admin.Security) map[string]any {
	out := map[string]any{"require_2fa": s.Require2FA, "grace_period_days": int(s.Grace / (24 * time.Hour)),
		"require_passkeys_for_admins": s.PasskeysForAdmins, "anomaly_action": s.AnomalyAction,
		"lockout_threshold": s.LockoutOverride.Threshold, "lockout_duration_minutes": int(s.LockoutOverride.Base / time.Minute),
		"lockout_max_hours": int(s.LockoutOverride.Max / time.Hour), "permission_review": s.PermissionReview,
		"lockout_in_effect": map[string]any{"threshold": s.Lockout.Threshold, "duration_minutes": int(s.Lockout.Base / time.Minute),
			"max_hours": int(s.Lockout.Max / time.Hour)}}
	if s.Require2FA {
		out["require_2fa_since"] = s.Require2FASince.UTC().Format(time.RFC3339)
	}
	return out
}

// apiAdminSecurity: GET /api/v1/admin/security.
func (p adminPages) apiAdminSecurity(c *call) error {
	sec, err := p.Admin.Security(c.r.Context(), c.Workspace)
	if err != nil {
		return unavailable(err)
	}
	writeJSON(c.w, http.StatusOK, securityJSON(sec))
	return nil
}

// apiAdminSecurityUpdate: PUT (or POST) /api/v1/admin/security with any of
// {"require_2fa","grace_period_days","require_passkeys_for_admins","anomaly_action",
// "lockout_threshold","lockout_duration_minutes","lockout_max_hours","permission_review"}.
// "permission_review": false turns the owners' periodic review mail off.
func (p adminPages) apiAdminSecurityUpdate(c *call) error {
	var body struct {
		Require2FA        *bool   `json:"require_2fa"`
		GraceDays         *int    `json:"grace_period_days"`
		PasskeysForAdmins *bool   `json:"require_passkeys_for_admins"`
		AnomalyAction     *string `json:"anomaly_action"`
		LockoutThreshold  *int    `json:"lockout_threshold"`
		LockoutMinutes    *int    `json:"lockout_duration_minutes"`
		LockoutMaxHours   *int    `json:"lockout_max_hours"`
		PermissionReview  *bool   `json:"permission_review"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	ch := admin.SecurityChange{Require2FA: body.Require2FA, PasskeysForAdmins: body.PasskeysForAdmins,
		AnomalyAction: body.AnomalyAction, LockoutThreshold: body.LockoutThreshold,
		Grace: scaled(body.GraceDays, 24*time.Hour), LockoutDuration: scaled(body.LockoutMinutes, time.Minute),
		LockoutMax: scaled(body.LockoutMaxHours, time.Hour), PermissionReview: body.PermissionReview}
	sec, err := p.Admin.UpdateSecurity(c.r.Context(), c.Workspace, p.adminOf(c), ch)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, securityJSON(sec))
	return nil
}

func scaled(n *int, unit time.Duration) *time.Duration {
	if n == nil {
		return nil
	}
	d := time.Duration(*n) * unit
	return &d
}

// apiAdminUnlock: POST /api/v1/admin/users/{id}/unlock.
func (p adminPages) apiAdminUnlock(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	u, err := p.Admin.Unlock(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"status": "unlocked", "was_locked": u.WasLocked})
	return nil
}

// apiAdminResetFactors: POST /api/v1/admin/users/{id}/reset-2fa removes a member's
// second factors. Admins reset members; only owners reset owners and admins.
func (p adminPages) apiAdminResetFactors(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	_, err := p.Admin.ResetFactors(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")})
	if errors.Is(err, admin.ErrForbidden) {
		return errorf(http.StatusForbidden, "only_owners_reset_admins", "Only owners reset the second factors of owners and admins.")
	}
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "reset"})
	return nil
}
