package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// requireAdmin returns the session of an owner or admin (browser pages).
func (p *Portal) requireAdmin(w http.ResponseWriter, r *http.Request, req Request) *session.Entry {
	e := p.requireSession(w, r, req)
	if e != nil && !authn.IsAdmin(e.User) {
		p.message(w, http.StatusForbidden, req, "Not allowed", "Only owners and admins can change workspace settings.", p.Prefix+"/settings/security", "Back")
		return nil
	}
	return e
}

// adminSecurity serves the tenant's second-factor policy page.
func (p *Portal) adminSecurity(w http.ResponseWriter, r *http.Request, req Request) {
	e := p.requireAdmin(w, r, req)
	if e == nil {
		return
	}
	ctx := r.Context()
	cur, err := req.Handle.Settings().SecuritySettings(ctx)
	if err != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "Settings are unavailable right now.", "", "")
		return
	}
	status, notice := http.StatusOK, ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
			p.message(w, http.StatusForbidden, req, "Workspace security", "The form expired. Please try again.", p.Prefix+"/admin/security", "Back")
			return
		}
		days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("grace_days")))
		if err != nil || days < 0 || days > 90 {
			p.message(w, http.StatusBadRequest, req, "Workspace security", "The grace period must be 0 to 90 days.", p.Prefix+"/admin/security", "Back")
			return
		}
		action := r.PostFormValue("anomaly_action")
		if !validAnomalyAction(action) {
			p.message(w, http.StatusBadRequest, req, "Workspace security", "Unknown action for unusual sign-ins.", p.Prefix+"/admin/security", "Back")
			return
		}
		if cur, err = p.saveSecurity(ctx, r, req, e, cur, r.PostFormValue("require_2fa") == "on", time.Duration(days)*24*time.Hour, r.PostFormValue("passkeys_for_admins") == "on", action); err != nil {
			p.message(w, http.StatusServiceUnavailable, req, "Try again later", "The settings could not be saved.", "", "")
			return
		}
		notice = "Saved."
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	render(w, status, "admin_security", pageData{Title: "Workspace security", TenantName: req.Tenant.Name, Prefix: p.Prefix,
		CSRF: csrfToken(w, r, req.HTTPS), Notice: notice, Settings: cur, GraceDays: graceDays(cur)})
}

func graceDays(s store.SecuritySettings) int {
	if s.GracePeriod <= 0 && s.UpdatedAt.IsZero() {
		return int(authn.DefaultGracePeriod / (24 * time.Hour))
	}
	return int(s.GracePeriod / (24 * time.Hour))
}

// saveSecurity stores a policy change and audits it with the old and new values.
func (p *Portal) saveSecurity(ctx context.Context, r *http.Request, req Request, e *session.Entry, old store.SecuritySettings, require2FA bool, grace time.Duration, passkeysForAdmins bool, anomalyAction string) (store.SecuritySettings, error) {
	s := authn.UpdateSettings(old, require2FA, grace, passkeysForAdmins, e.User.ID, p.Clock.Now())
	s.AnomalyAction = anomalyAction
	if err := req.Handle.Settings().PutSecuritySettings(ctx, s); err != nil {
		p.Logger.Error("saving security settings", zapErr(err))
		return old, errUnavailable
	}
	details := map[string]string{
		"require_2fa": strconv.FormatBool(s.Require2FA), "grace_days": strconv.Itoa(graceDays(s)),
		"require_passkeys_for_admins": strconv.FormatBool(s.RequirePasskeysForAdmins),
		"was_require_2fa":             strconv.FormatBool(old.Require2FA), "was_require_passkeys_for_admins": strconv.FormatBool(old.RequirePasskeysForAdmins),
	}
	if err := p.audit(ctx, r, req, e, audit.ActionSecuritySettings, details); err != nil {
		return s, err
	}
	return s, nil
}

func settingsJSON(s store.SecuritySettings) map[string]any {
	out := map[string]any{"require_2fa": s.Require2FA, "grace_period_days": graceDays(s), "require_passkeys_for_admins": s.RequirePasskeysForAdmins,
		"anomaly_action": anomalyActionName(s.AnomalyAction), "lockout_threshold": s.LockoutThreshold,
		"lockout_duration_minutes": int(s.LockoutDuration / time.Minute), "lockout_max_hours": int(s.LockoutMax / time.Hour)}
	if s.Require2FA {
		out["require_2fa_since"] = s.Require2FASince.UTC().Format(time.RFC3339)
	}
	return out
}

// apiAdminSecurity: GET → the policy; PUT/POST {"require_2fa","grace_period_days","require_passkeys_for_admins"}.
func (p *Portal) apiAdminSecurity(w http.ResponseWriter, r *http.Request, req Request) {
	e, ok := p.apiAdmin(w, r, req, r.Method == http.MethodGet)
	if !ok {
		return
	}
	ctx := r.Context()
	cur, err := req.Handle.Settings().SecuritySettings(ctx)
	if err != nil {
		unavailableJSON(w)
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, settingsJSON(cur))
		return
	}
	var body struct {
		Require2FA        *bool   `json:"require_2fa"`
		GraceDays         *int    `json:"grace_period_days"`
		PasskeysForAdmins *bool   `json:"require_passkeys_for_admins"`
		AnomalyAction     *string `json:"anomaly_action"`
		LockoutThreshold  *int    `json:"lockout_threshold"`
		LockoutMinutes    *int    `json:"lockout_duration_minutes"`
		LockoutMaxHours   *int    `json:"lockout_max_hours"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	req2, days, pka := cur.Require2FA, graceDays(cur), cur.RequirePasskeysForAdmins
	if body.Require2FA != nil {
		req2 = *body.Require2FA
	}
	if body.GraceDays != nil {
		days = *body.GraceDays
	}
	if body.PasskeysForAdmins != nil {
		pka = *body.PasskeysForAdmins
	}
	if days < 0 || days > 90 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "grace_period_days must be 0 to 90"})
		return
	}
	action := cur.AnomalyAction
	if body.AnomalyAction != nil {
		if action = *body.AnomalyAction; !validAnomalyAction(action) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "anomaly_action must be alert, second_factor or block"})
			return
		}
	}
	lock := cur
	if body.LockoutThreshold != nil {
		lock.LockoutThreshold = *body.LockoutThreshold
	}
	if body.LockoutMinutes != nil {
		lock.LockoutDuration = time.Duration(*body.LockoutMinutes) * time.Minute
	}
	if body.LockoutMaxHours != nil {
		lock.LockoutMax = time.Duration(*body.LockoutMaxHours) * time.Hour
	}
	if lock.LockoutThreshold < 0 || lock.LockoutThreshold > 100 || lock.LockoutDuration < 0 || lock.LockoutMax < 0 ||
		lock.LockoutMax > 0 && lock.LockoutMax < lock.LockoutDuration {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "lockout: threshold 0-100 (0 = default), durations not negative, max not below the duration"})
		return
	}
	cur.LockoutThreshold, cur.LockoutDuration, cur.LockoutMax = lock.LockoutThreshold, lock.LockoutDuration, lock.LockoutMax
	s, err := p.saveSecurity(ctx, r, req, e, cur, req2, time.Duration(days)*24*time.Hour, pka, action)
	if err != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, settingsJSON(s))
}

// apiAdminResetFactors: POST /api/v1/admin/users/{id}/reset-2fa removes a member's
// second factors (they sign in with the password and enrol again). Admins may reset
// members; only owners may reset owners and admins.
func (p *Portal) apiAdminResetFactors(w http.ResponseWriter, r *http.Request, req Request, userID string) {
	e, ok := p.apiAdmin(w, r, req, false)
	if !ok || !p.jsonBodyIfAny(w, r) {
		return
	}
	ctx := r.Context()
	u, err := req.Handle.Users().UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no_such_user"})
		return
	}
	if err != nil {
		unavailableJSON(w)
		return
	}
	if authn.IsAdmin(u) && !hasRole(e.User, identity.RoleOwner) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "only_owners_reset_admins"})
		return
	}
	if err := p.MFA.ResetFactors(ctx, req.Handle, u.ID); err != nil {
		p.Logger.Error("resetting second factors", zapErr(err))
		unavailableJSON(w)
		return
	}
	rec := auditRecord(r, req, audit.ActionFactorsReset, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.SessionID, rec.Target = e.User.ID, e.User.Email, e.Session.ID, "user:"+u.ID
	rec.Details = map[string]string{"email": u.Email}
	if p.writeAudit(ctx, req, rec) != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}

// apiAdmin requires an owner's or admin's full session; reads are GET, changes POST or PUT.
func (p *Portal) apiAdmin(w http.ResponseWriter, r *http.Request, req Request, read bool) (*session.Entry, bool) {
	if !read && r.Method != http.MethodPost && r.Method != http.MethodPut {
		methodNotAllowedJSON(w, "GET, POST, PUT")
		return nil, false
	}
	e, ok := p.apiAuth(w, r, req, "")
	if ok && !authn.IsAdmin(e.User) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
		return nil, false
	}
	return e, ok
}

func hasRole(u store.User, role string) bool { return slices.Contains(u.Roles, role) }

// unlock lifts a lockout on u (by e-mail, as lockouts are kept for typed addresses) and
// audits it.
func (p *Portal) unlock(ctx context.Context, r *http.Request, req Request, e *session.Entry, email, userID string) error {
	if err := p.Authn.Lockout.Unlock(ctx, req.Handle.TenantID(), email); err != nil {
		p.Logger.Error("unlocking account", zapErr(err))
		return errUnavailable
	}
	rec := auditRecord(r, req, audit.ActionAccountUnlocked, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.SessionID, rec.Target = e.User.ID, e.User.Email, e.Session.ID, "user:"+userID
	rec.Details = map[string]string{"email": truncate(email, 254)}
	return p.writeAudit(ctx, req, rec)
}

// apiAdminUnlock: POST /api/v1/admin/users/{id}/unlock.
func (p *Portal) apiAdminUnlock(w http.ResponseWriter, r *http.Request, req Request, userID string) {
	e, ok := p.apiAdmin(w, r, req, false)
	if !ok || !p.jsonBodyIfAny(w, r) {
		return
	}
	u, err := req.Handle.Users().UserByID(r.Context(), userID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no_such_user"})
		return
	}
	if err != nil || p.unlock(r.Context(), r, req, e, u.Email, u.ID) != nil {
		unavailableJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "unlocked"})
}

// adminUnlock: POST /admin/unlock (form on the workspace security page), by e-mail.
func (p *Portal) adminUnlock(w http.ResponseWriter, r *http.Request, req Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e := p.requireAdmin(w, r, req)
	if e == nil {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil || !checkCSRF(r, req.HTTPS) {
		p.message(w, http.StatusForbidden, req, "Workspace security", "The form expired. Please try again.", p.Prefix+"/admin/security", "Back")
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	userID := ""
	if u, err := req.Handle.Users().UserByEmail(r.Context(), email); err == nil {
		userID = u.ID
	}
	if p.unlock(r.Context(), r, req, e, email, userID) != nil {
		p.message(w, http.StatusServiceUnavailable, req, "Try again later", "The account could not be unlocked.", p.Prefix+"/admin/security", "Back")
		return
	}
	p.message(w, http.StatusOK, req, "Workspace security", email+" can sign in again.", p.Prefix+"/admin/security", "Back")
}

func validAnomalyAction(a string) bool {
	return a == "" || a == "alert" || a == "second_factor" || a == "block"
}

func anomalyActionName(a string) string {
	if a == "" {
		return "alert"
	}
	return a
}
