package web

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// routes registers every page and API call with its rate-limit class. Each page action
// has a JSON twin under /api/v1/.
func (p *Portal) routes() {
	const (
		login  = ratelimit.Login
		second = ratelimit.SecondFactor
		api    = ratelimit.API
		free   = ratelimit.Class("")
	)
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
	p.route("GET /login", api, p.page(anyone, p.loginPage))
	p.route("POST /login", login, p.loginPost())
	p.route("POST /api/v1/login", login, p.apiJSON(anyone, p.apiLogin))
	p.route("GET /login/2fa", api, p.page(anyone, p.secondFactorPage))
	p.route("POST /login/2fa", second, p.browserForm(anyone, p.secondFactorForm))
	p.route("POST /api/v1/login/totp", second, p.apiJSON(anyone, p.apiSecondFactor("otp")))
	p.route("POST /api/v1/login/recovery", second, p.apiJSON(anyone, p.apiSecondFactor("rec")))
	p.route("GET /logout", api, p.page(anyone, p.logoutPage))
	p.route("POST /logout", api, p.browserForm(anyone, p.logoutForm))
	p.route("POST /api/v1/logout", api, p.apiJSON(anyone, p.apiLogout))
	p.route("GET /setup", api, p.page(anyone, p.setupPage))
	p.route("POST /setup", login, p.browserForm(anyone, p.setupForm))

	// Passkeys (passkeys.go).
	p.route("POST /api/v1/webauthn/login/begin", second, p.apiJSON(anyone, p.apiPasskeyLoginBegin))
	p.route("POST /api/v1/webauthn/login/finish", second, p.apiJSON(anyone, p.apiPasskeyLoginFinish))
	p.route("POST /api/v1/webauthn/register/begin", api, p.apiJSON(mayEnrolPasskey, p.apiPasskeyRegisterBegin))
	p.route("POST /api/v1/webauthn/register/finish", api, p.apiJSON(mayEnrolPasskey, p.apiPasskeyRegisterFinish))

	// The user's own account (settings.go).
	p.route("GET /settings", api, p.page(signedIn, func(c *call) error {
		http.Redirect(c.w, c.r, p.path("/settings/security"), http.StatusFound)
		return nil
	}))
	p.route("GET /settings/security", api, p.page(signedIn, p.securityPage))
	p.route("POST /settings/totp/enroll", api, p.browserForm(mayEnrolTOTP, p.totpEnrolForm))
	p.route("POST /settings/totp/confirm", api, p.browserForm(mayEnrolTOTP, p.totpConfirmForm))
	p.route("POST /settings/totp/disable", api, p.browserForm(signedIn, p.totpDisableForm))
	p.route("POST /settings/recovery/regenerate", api, p.browserForm(signedIn, p.recoveryForm))
	p.route("POST /settings/privacy", api, p.browserForm(signedIn, p.privacyForm))
	p.route("POST /settings/passkeys/rename", api, p.browserForm(signedIn, p.passkeyRenameForm))
	p.route("POST /settings/passkeys/delete", api, p.browserForm(signedIn, p.passkeyDeleteForm))
	p.route("GET /api/v1/me", api, p.apiJSON(signedIn, p.apiMe))
	p.route("PUT /api/v1/me/privacy", api, p.apiJSON(signedIn, p.apiPrivacy))
	p.route("POST /api/v1/me/privacy", api, p.apiJSON(signedIn, p.apiPrivacy))
	p.route("POST /api/v1/totp/enroll", api, p.apiJSON(mayEnrolTOTP, p.apiTOTPEnroll))
	p.route("POST /api/v1/totp/confirm", api, p.apiJSON(mayEnrolTOTP, p.apiTOTPConfirm))

	// The workspace, for owners and admins (admin.go).
	p.route("GET /admin/security", api, p.page(adminOnly, p.adminSecurityPage))
	p.route("POST /admin/security", api, p.browserForm(adminOnly, p.adminSecurityForm))
	p.route("POST /admin/unlock", api, p.browserForm(adminOnly, p.adminUnlockForm))
	p.route("GET /api/v1/admin/security", api, p.apiJSON(adminOnly, p.apiAdminSecurity))
	p.route("PUT /api/v1/admin/security", api, p.apiJSON(adminOnly, p.apiAdminSecurityUpdate))
	p.route("POST /api/v1/admin/security", api, p.apiJSON(adminOnly, p.apiAdminSecurityUpdate))
	p.route("POST /api/v1/admin/users/{id}/unlock", api, p.apiJSON(adminOnly, p.apiAdminUnlock))
	p.route("POST /api/v1/admin/users/{id}/reset-2fa", api, p.apiJSON(adminOnly, p.apiAdminResetFactors))
}
