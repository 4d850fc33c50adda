package web

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// contentSecurityPolicy allows only our own static assets: no inline script or style,
// no framing, forms only to ourselves.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setSecurityHeaders applies the portal's browser hardening to every response.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// CSRF cookie names (see session.CookieName for the prefix rationale).
const (
	csrfCookieSecure = "__Host-gatehouse-csrf"
	csrfCookiePlain  = "gatehouse_csrf"
)

func csrfCookieName(https bool) string {
	if https {
		return csrfCookieSecure
	}
	return csrfCookiePlain
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

// wantsJSON reports an API client (Accept: application/json).
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// maxBody bounds what any portal endpoint reads.
const maxBody = 64 << 10

// decodeJSON reads a JSON API body, refusing anything but application/json (so a
// cross-site HTML form cannot reach the API) and cross-site requests.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "content_type_must_be_json"})
		return false
	}
	if crossSite(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_site_request"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_json"})
		return false
	}
	return true
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// unavailableJSON answers 503 when a dependency failed or password checking is
// saturated; the client may retry shortly.
func unavailableJSON(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
}
