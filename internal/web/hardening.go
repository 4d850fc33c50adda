package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// contentSecurityPolicy allows only our own static assets: no inline script or style,
// no framing, forms only to ourselves.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// hsts is sent on HTTPS portal responses: browsers then refuse plain HTTP to this host
// for a year. It deliberately leaves out includeSubDomains — the gateway cannot know
// that every sibling host serves HTTPS, and pinning them all could cut one off; add it
// with Caddy's `header` directive where it holds.
const hsts = "max-age=31536000"

// setSecurityHeaders applies the portal's browser hardening to every response.
func setSecurityHeaders(h http.Header, https bool) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if https {
		h.Set("Strict-Transport-Security", hsts)
	}
}

// Cookie names. On HTTPS the __Host- prefix pins a cookie to the exact host, Secure and
// Path=/, so a sibling subdomain cannot plant or overwrite it; browsers accept it only
// over HTTPS, so plain-HTTP development (http://localhost) uses the bare name.
const (
	csrfCookieSecure   = "__Host-gatehouse-csrf"
	csrfCookiePlain    = "gatehouse_csrf"
	deviceCookieSecure = "__Host-gatehouse-device"
	deviceCookiePlain  = "gatehouse_device"
	// deviceCookieMaxAge: the device cookie (a random id that, with the browser and
	// OS, tells a known device from a new one) is a strictly necessary security cookie
	// kept as long as browsers allow.
	deviceCookieMaxAge = 400 * 24 * time.Hour
)

func csrfCookieName(https bool) string {
	if https {
		return csrfCookieSecure
	}
	return csrfCookiePlain
}

func deviceCookieName(https bool) string {
	if https {
		return deviceCookieSecure
	}
	return deviceCookiePlain
}

// csrfToken returns the browser's CSRF token, setting a new cookie when it has none.
// Forms carry the token in a hidden field; a POST is accepted only when field and
// cookie match (double submit) and the request is not cross-site.
func csrfToken(w http.ResponseWriter, r *http.Request, https bool) string {
	if c, err := r.Cookie(csrfCookieName(https)); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := secret.NewToken()
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookieName(https), Value: tok, Path: "/",
		Secure: https, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	r.AddCookie(&http.Cookie{Name: csrfCookieName(https), Value: tok}) // one token per page
	return tok
}

// checkCSRF validates a form POST.
func checkCSRF(r *http.Request, https bool) bool {
	if crossSite(r) {
		return false
	}
	c, err := r.Cookie(csrfCookieName(https))
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return secret.Equal(c.Value, r.PostFormValue("csrf"))
}

// crossSite reports a request a browser marked as coming from another site, or whose
// Origin is not this host.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return true
		}
	}
	return false
}

// setIssued stores what a sign-in step issued on the browser: the new session cookie
// (replacing the old one) and a new device id.
func (p *Portal) setIssued(c *call, o authn.Outcome) {
	if o.Session != nil {
		setSessionCookie(c, o.Session.Token, o.Session.Expires, p.Clock.Now())
	}
	if o.DeviceID != "" {
		http.SetCookie(c.w, &http.Cookie{Name: deviceCookieName(c.HTTPS), Value: o.DeviceID, Path: "/",
			MaxAge: int(deviceCookieMaxAge.Seconds()), Secure: c.HTTPS, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

func setSessionCookie(c *call, token string, expires, now time.Time) {
	session.SetCookie(c.w, c.HTTPS, token, expires, now)
}
