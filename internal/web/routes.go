package web

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// routes registers every page and API call with its rate-limit class. Each page action
// has a JSON twin under /api/v1/. The handlers are split by area — signing in and
// re-authentication (signin.go, passkeys.go, password.go), mailed links (password.go),
// the user's own account (settings.go, sessions.go, password.go), the workspace's
// policy (admin.go), members (members.go) — each a small type over the Portal's
// shared plumbing.
func (p *Portal) routes() {
	const (
		login  = ratelimit.Login
		second = ratelimit.SecondFactor
		api    = ratelimit.API
		free   = ratelimit.Class("")
	)
	in, lnk, acc, adm, mem := signinPages{p}, linkPages{p}, accountPages{p}, adminPages{p}, memberPages{p}
	fac := factorPages{mem}
	su, tm := stepUpPages{p}, teamPages{p}
	static := http.StripPrefix(p.Prefix+"/static", staticFiles())
	p.route("GET /static/", free, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	}))
	p.route("GET /{$}", api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.path("/login"), http.StatusFound)
	}))
	p.mux.HandleFunc(p.Prefix+"/", p.limited(api, http.HandlerFunc(p.notFound)).ServeHTTP)

	// Sign-in (signin.go).
	p.route("GET /login", api, p.page(anyone, in.loginPage))
	p.route("POST /login", login, in.loginPost())
	p.route("POST /api/v1/login", login, p.apiJSON(anyone, in.apiLogin))
	p.route("GET /login/2fa", api, p.page(anyone, in.secondFactorPage))
	p.route("POST /login/2fa", second, p.browserForm(anyone, in.secondFactorForm))
	p.route("POST /api/v1/login/totp", second, p.apiJSON(anyone, in.apiSecondFactor("otp")))
	p.route("POST /api/v1/login/recovery", second, p.apiJSON(anyone, in.apiSecondFactor("rec")))
	p.route("GET /logout", api, p.page(anyone, in.logoutPage))
	p.route("POST /logout", api, p.browserForm(anyone, in.logoutForm))
	p.route("POST /api/v1/logout", api, p.apiJSON(anyone, in.apiLogout))
	p.route("GET /setup", api, p.page(anyone, in.setupPage))
	p.route("POST /setup", login, p.browserForm(anyone, in.setupForm))

	// Passwords: forgotten (reset link), invitations, re-authentication (password.go).
	p.route("GET /password/forgot", api, p.page(anyone, lnk.forgotPage))
	p.route("POST /password/forgot", login, p.browserForm(anyone, lnk.forgotForm))
	p.route("POST /api/v1/password/forgot", login, p.apiJSON(anyone, lnk.apiForgot))
	p.route("GET /password/reset", api, p.page(anyone, lnk.resetPage))
	p.route("POST /password/reset", login, p.browserForm(anyone, lnk.resetForm))
	p.route("POST /api/v1/password/reset", login, p.apiJSON(anyone, lnk.apiReset))
	p.route("GET /invite", api, p.page(anyone, lnk.invitePage))
	p.route("POST /invite", login, p.browserForm(anyone, lnk.inviteForm))
	p.route("POST /api/v1/invite/accept", login, p.apiJSON(anyone, lnk.apiInviteAccept))
	p.route("GET /reauth", api, p.page(signedIn, in.reauthPage))
	p.route("POST /reauth", login, p.browserForm(signedIn, in.reauthForm))
	p.route("POST /api/v1/reauth", login, p.apiJSON(signedIn, in.apiReauth))
	p.route("POST /api/v1/reauth/passkey/begin", second, p.apiJSON(signedIn, in.apiReauthPasskeyBegin))
	p.route("POST /api/v1/reauth/passkey/finish", second, p.apiJSON(signedIn, in.apiReauthPasskeyFinish))

	// Step-up to a second factor, for routes whose rule requires one (stepup.go).
	p.route("GET /step-up", api, p.page(anyone, su.stepUpPage))
	p.route("POST /step-up", second, p.browserForm(anyone, su.stepUpForm))
	p.route("POST /api/v1/step-up/totp", second, p.apiJSON(signedIn, su.apiStepUpCode("otp")))
	p.route("POST /api/v1/step-up/recovery", second, p.apiJSON(signedIn, su.apiStepUpCode("rec")))
	p.route("POST /api/v1/step-up/passkey/begin", second, p.apiJSON(signedIn, su.apiStepUpPasskeyBegin))
	p.route("POST /api/v1/step-up/passkey/finish", second, p.apiJSON(signedIn, su.apiStepUpPasskeyFinish))

	// Tokens for API clients and single-page apps, and the keys that verify them
	// (tokens.go).
	if p.Tokens != nil && p.Keys != nil {
		tok := tokenPages{p}
		p.route("GET /.well-known/jwks.json", free, http.HandlerFunc(tok.jwks))
		p.route("POST /api/v1/token", ratelimit.Token, p.apiJSON(anyone, tok.apiToken))
		p.route("POST /api/v1/token/revoke", ratelimit.Token, p.apiJSON(anyone, tok.apiTokenRevoke))
	}

	// Passkeys (passkeys.go).
	p.route("POST /api/v1/webauthn/login/begin", second, p.apiJSON(anyone, in.apiPasskeyLoginBegin))
	p.route("POST /api/v1/webauthn/login/finish", second, p.apiJSON(anyone, in.apiPasskeyLoginFinish))
	p.route("POST /api/v1/webauthn/register/begin", api, p.apiJSON(mayEnrolPasskey, acc.apiPasskeyRegisterBegin))
	p.route("POST /api/v1/webauthn/register/finish", api, p.apiJSON(mayEnrolPasskey, acc.apiPasskeyRegisterFinish))

	// The user's own account (settings.go).
	p.route("GET /settings", api, p.page(signedIn, func(c *call) error {
		http.Redirect(c.w, c.r, p.path("/settings/security"), http.StatusFound)
		return nil
	}))
	p.route("GET /settings/security", api, p.page(signedIn, acc.securityPage))
	p.route("POST /settings/totp/enroll", api, p.browserForm(mayEnrolTOTP, acc.totpEnrolForm))
	p.route("POST /settings/totp/confirm", api, p.browserForm(mayEnrolTOTP, acc.totpConfirmForm))
	p.route("POST /settings/totp/disable", api, p.browserForm(signedIn, acc.totpDisableForm))
	p.route("POST /settings/recovery/regenerate", api, p.browserForm(signedIn, acc.recoveryForm))
	p.route("POST /settings/privacy", api, p.browserForm(signedIn, acc.privacyForm))
	p.route("POST /settings/passkeys/rename", api, p.browserForm(signedIn, acc.passkeyRenameForm))
	p.route("POST /settings/passkeys/delete", api, p.browserForm(signedIn, acc.passkeyDeleteForm))
	p.route("GET /settings/sessions", api, p.page(signedIn, acc.sessionsPage))
	p.route("POST /settings/sessions/revoke", api, p.browserForm(signedIn, acc.sessionRevokeForm))
	p.route("POST /settings/sessions/revoke-others", api, p.browserForm(signedIn, acc.sessionsRevokeOthersForm))
	p.route("GET /api/v1/sessions", api, p.apiJSON(signedIn, acc.apiSessions))
	p.route("DELETE /api/v1/sessions/{id}", api, p.apiJSON(signedIn, acc.apiSessionRevoke))
	p.route("DELETE /api/v1/sessions", api, p.apiJSON(signedIn, acc.apiSessionsRevoke))
	p.route("GET /settings/password", api, p.page(signedIn, acc.passwordPage))
	p.route("POST /settings/password", login, p.browserForm(signedIn, acc.passwordForm))
	p.route("POST /api/v1/me/password", login, p.apiJSON(signedIn, acc.apiPassword))
	p.route("GET /api/v1/me", api, p.apiJSON(signedIn, acc.apiMe))
	p.route("PUT /api/v1/me/privacy", api, p.apiJSON(signedIn, acc.apiPrivacy))
	p.route("POST /api/v1/me/privacy", api, p.apiJSON(signedIn, acc.apiPrivacy))
	p.route("POST /api/v1/totp/enroll", api, p.apiJSON(mayEnrolTOTP, acc.apiTOTPEnroll))
	p.route("POST /api/v1/totp/confirm", api, p.apiJSON(mayEnrolTOTP, acc.apiTOTPConfirm))

	// The workspace, for owners and admins (admin.go).
	p.route("GET /admin/security", api, p.page(adminOnly, adm.adminSecurityPage))
	p.route("POST /admin/security", api, p.browserForm(adminOnly, adm.adminSecurityForm))
	p.route("POST /admin/unlock", api, p.browserForm(adminOnly, adm.adminUnlockForm))
	p.route("GET /api/v1/admin/security", api, p.apiJSON(adminOnly, adm.apiAdminSecurity))
	p.route("PUT /api/v1/admin/security", api, p.apiJSON(adminOnly, adm.apiAdminSecurityUpdate))
	p.route("POST /api/v1/admin/security", api, p.apiJSON(adminOnly, adm.apiAdminSecurityUpdate))
	p.route("POST /api/v1/admin/users/{id}/unlock", api, p.apiJSON(adminOnly, adm.apiAdminUnlock))
	p.route("POST /api/v1/admin/users/{id}/reset-2fa", api, p.apiJSON(adminOnly, adm.apiAdminResetFactors))

	// Members (members.go).
	p.route("GET /admin/members", api, p.page(adminOnly, mem.membersPage))
	p.route("POST /admin/members/invite", api, p.browserForm(adminOnly, mem.inviteForm))
	p.route("GET /admin/members/{id}", api, p.page(adminOnly, mem.memberPage))
	p.route("POST /admin/members/{id}/role", api, p.browserForm(adminOnly, mem.memberAction(mem.roleForm)))
	p.route("POST /admin/members/{id}/disable", api, p.browserForm(adminOnly, mem.memberAction(mem.disableForm)))
	p.route("POST /admin/members/{id}/enable", api, p.browserForm(adminOnly, mem.memberAction(mem.enableForm)))
	p.route("POST /admin/members/{id}/unlock", api, p.browserForm(adminOnly, mem.memberAction(mem.unlockMemberForm)))
	p.route("POST /admin/members/{id}/reset-2fa", api, p.browserForm(adminOnly, mem.memberAction(mem.resetFactorsForm)))
	p.route("POST /admin/members/{id}/factors/restore", api, p.browserForm(adminOnly, mem.memberAction(fac.restoreFactorForm)))
	p.route("POST /admin/members/{id}/reset-password", api, p.browserForm(adminOnly, mem.memberAction(mem.sendResetForm)))
	p.route("POST /admin/members/{id}/sessions/revoke", api, p.browserForm(adminOnly, mem.memberAction(mem.revokeMemberSessionsForm)))
	p.route("POST /admin/members/{id}/delete", api, p.browserForm(adminOnly, mem.deleteForm))
	p.route("POST /admin/members/{id}/restore", api, p.browserForm(adminOnly, mem.restoreForm))
	p.route("GET /api/v1/admin/members", api, p.apiJSON(adminOnly, mem.apiMembers))
	p.route("POST /api/v1/admin/members", api, p.apiJSON(adminOnly, mem.apiInvite))
	p.route("GET /api/v1/admin/members/{id}", api, p.apiJSON(adminOnly, mem.apiMember))
	p.route("GET /api/v1/admin/members/{id}/factors/removed", api, p.apiJSON(adminOnly, fac.apiRemovedFactors))
	p.route("POST /api/v1/admin/members/{id}/factors/restore", api, p.apiJSON(adminOnly, fac.apiRestoreFactor))
	p.route("PUT /api/v1/admin/members/{id}/role", api, p.apiJSON(adminOnly, mem.apiMemberRole))
	p.route("POST /api/v1/admin/members/{id}/disable", api, p.apiJSON(adminOnly, mem.apiMemberStatus(true)))
	p.route("POST /api/v1/admin/members/{id}/enable", api, p.apiJSON(adminOnly, mem.apiMemberStatus(false)))
	p.route("POST /api/v1/admin/members/{id}/reset-password", api, p.apiJSON(adminOnly, mem.apiMemberResetPassword))
	p.route("GET /api/v1/admin/members/{id}/sessions", api, p.apiJSON(adminOnly, mem.apiMemberSessions))
	p.route("DELETE /api/v1/admin/members/{id}/sessions", api, p.apiJSON(adminOnly, mem.apiMemberSessionsRevoke))
	p.route("DELETE /api/v1/admin/members/{id}/sessions/{sid}", api, p.apiJSON(adminOnly, mem.apiMemberSessionsRevoke))
	p.route("DELETE /api/v1/admin/members/{id}", api, p.apiJSON(adminOnly, mem.apiMemberDelete))
	p.route("POST /api/v1/admin/members/{id}/restore", api, p.apiJSON(adminOnly, mem.apiMemberRestore))
	p.route("GET /api/v1/admin/members/deleted", api, p.apiJSON(adminOnly, mem.apiDeletedMembers))

	// Permission review (review.go): everyone's access, one-click revocation.
	rev := reviewPages{p}
	p.route("GET /admin/team/audit", api, p.page(adminOnly, rev.reviewPage))
	p.route("GET /admin/team/audit.csv", api, p.page(adminOnly, rev.reviewCSV))
	p.route("POST /admin/team/audit/{id}/revoke", api, p.browserForm(adminOnly, rev.revokeForm))
	p.route("GET /api/v1/admin/team/audit", api, p.apiJSON(adminOnly, rev.apiReview))
	p.route("POST /api/v1/admin/team/audit/{id}/revoke", api, p.apiJSON(adminOnly, rev.apiRevoke))

	// Audit search (auditlog.go).
	aud := auditPages{p}
	p.route("GET /admin/audit", api, p.page(adminOnly, aud.auditPage))
	p.route("GET /admin/audit/export.csv", api, p.page(adminOnly, aud.auditExportCSV))
	p.route("GET /admin/audit/export.pdf", api, p.page(adminOnly, aud.auditExportPDF))
	p.route("GET /admin/audit/{seq}", api, p.page(adminOnly, aud.auditRecordPage))
	p.route("GET /api/v1/admin/audit", api, p.apiJSON(adminOnly, aud.apiAudit))
	p.route("GET /api/v1/admin/audit/export", api, p.apiJSON(adminOnly, aud.apiAuditExport))
	p.route("GET /api/v1/admin/audit/{seq}", api, p.apiJSON(adminOnly, aud.apiAuditRecord))

	// Tenant exports (exports.go): in the background, downloaded once.
	exp := exportPages{p}
	p.route("GET /admin/exports", api, p.page(adminOnly, exp.exportsPage))
	p.route("POST /admin/exports", api, p.browserForm(adminOnly, exp.exportStartForm))
	p.route("GET /admin/exports/{id}/download", api, p.page(adminOnly, exp.exportDownloadPage))
	p.route("POST /api/v1/admin/exports", api, p.apiJSON(adminOnly, exp.apiExportStart))
	p.route("GET /api/v1/admin/exports/{id}", api, p.apiJSON(adminOnly, exp.apiExport))
	p.route("GET /api/v1/admin/exports/{id}/download", api, p.apiJSON(adminOnly, exp.apiExportDownload))

	// Roles (roles.go): everyone who administers sees them, owners change them.
	rol := rolePages{p}
	p.route("GET /admin/roles", api, p.page(adminOnly, rol.rolesPage))
	p.route("POST /admin/roles", api, p.browserForm(adminOnly, rol.roleAddForm))
	p.route("GET /admin/roles/{name}", api, p.page(adminOnly, rol.rolePage))
	p.route("POST /admin/roles/{name}", api, p.browserForm(adminOnly, rol.roleSaveForm))
	p.route("POST /admin/roles/{name}/delete", api, p.browserForm(adminOnly, rol.roleDeleteForm))
	p.route("GET /api/v1/admin/roles", api, p.apiJSON(adminOnly, rol.apiRoles))
	p.route("GET /api/v1/admin/roles/{name}", api, p.apiJSON(adminOnly, rol.apiRole))
	p.route("PUT /api/v1/admin/roles/{name}", api, p.apiJSON(adminOnly, rol.apiRoleSet))
	p.route("DELETE /api/v1/admin/roles/{name}", api, p.apiJSON(adminOnly, rol.apiRoleDelete))
	p.route("POST /admin/roles/{name}/restore", api, p.browserForm(adminOnly, rol.roleRestoreForm))
	p.route("POST /api/v1/admin/roles/{name}/restore", api, p.apiJSON(adminOnly, rol.apiRoleRestore))

	// Teams, on the members pages (teams.go).
	p.route("POST /admin/teams", api, p.browserForm(adminOnly, tm.teamCreateForm))
	p.route("POST /admin/teams/{id}/delete", api, p.browserForm(adminOnly, tm.teamDeleteForm))
	p.route("POST /admin/members/{id}/teams/add", api, p.browserForm(adminOnly, mem.memberAction(tm.teamAddForm)))
	p.route("POST /admin/members/{id}/teams/remove", api, p.browserForm(adminOnly, mem.memberAction(tm.teamRemoveForm)))
	p.route("GET /api/v1/admin/teams", api, p.apiJSON(adminOnly, tm.apiTeams))
	p.route("POST /api/v1/admin/teams", api, p.apiJSON(adminOnly, tm.apiTeamCreate))
	p.route("DELETE /api/v1/admin/teams/{id}", api, p.apiJSON(adminOnly, tm.apiTeamDelete))
	p.route("POST /admin/teams/{id}/restore", api, p.browserForm(adminOnly, tm.teamRestoreForm))
	p.route("POST /api/v1/admin/teams/{id}/restore", api, p.apiJSON(adminOnly, tm.apiTeamRestore))
	p.route("PUT /api/v1/admin/teams/{id}/members/{user}", api, p.apiJSON(adminOnly, tm.apiTeamMember(true)))
	p.route("DELETE /api/v1/admin/teams/{id}/members/{user}", api, p.apiJSON(adminOnly, tm.apiTeamMember(false)))

	// Data-subject requests: the member's on the security page, the admins' Requests
	// page (privacy.go).
	p.privacyRoutes(api)
	emailPages{p}.routes(api, login) // e-mail changes confirmed by a mailed link (emailchange.go)
}
