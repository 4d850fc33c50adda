package session

import (
	"net/http"
	"time"
)

// Cookie names: the __Host- prefix pins the cookie to the exact host, Secure and Path=/,
// so a sibling subdomain cannot plant or overwrite it. Browsers only accept it over
// HTTPS, so plain-HTTP development (http://localhost) uses the bare name.
const (
	CookieNameSecure = "__Host-gatehouse"
	CookieNamePlain  = "gatehouse"
)

// CookieName returns the session cookie name for a request scheme.
func CookieName(https bool) string {
	if https {
		return CookieNameSecure
	}
	return CookieNamePlain
}

// TokenFromRequest returns the session token of the request's cookie for its scheme.
func TokenFromRequest(r *http.Request, https bool) string {
	c, err := r.Cookie(CookieName(https))
	if err != nil {
		return ""
	}
	return c.Value
}

// SetCookie writes the session cookie.
func SetCookie(w http.ResponseWriter, https bool, token string, expires time.Time, now time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName(https),
		Value:    token,
		Path:     "/",
		MaxAge:   int(expires.Sub(now).Seconds()),
		Secure:   https,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie removes the session cookie.
func ClearCookie(w http.ResponseWriter, https bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName(https),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   https,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}
