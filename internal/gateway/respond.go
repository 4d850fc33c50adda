package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httperr"
	"github.com/gatehouse-dev/gatehouse/internal/redirect"
)

// Respond writes the answer for every outcome except Allow and Portal.
func (g *Gateway) Respond(w http.ResponseWriter, r *http.Request, d Decision) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch d.Outcome {
	case RedirectLogin:
		rd, ok := redirect.Safe(r.URL.RequestURI())
		target := g.Prefix + "/login"
		if ok && rd != "/" {
			target += "?rd=" + url.QueryEscape(rd)
		}
		http.Redirect(w, r, target, http.StatusFound)
	case Unauthorized:
		if d.BearerRefused {
			// RFC 6750: the token is the problem, and the client can tell.
			h.Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token", error_description="The access token is invalid, expired, or its session has ended."`)
			httperr.WriteJSON(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired, or its session has ended.", 0)
			return
		}
		h.Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		httperr.WriteJSON(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.", 0)
	case BadRequest:
		plainOrJSON(w, r, http.StatusBadRequest, "bad_request", "The request path is ambiguous.", 0)
	case Unavailable:
		plainOrJSON(w, r, http.StatusServiceUnavailable, "unavailable", "Try again in a moment.", 5*time.Second)
	case RateLimited:
		plainOrJSON(w, r, http.StatusTooManyRequests, "too_many_requests", "Too many requests; slow down.", d.RetryAfter)
	case UnknownTenant:
		plainOrJSON(w, r, http.StatusNotFound, "unknown_site", "No workspace serves this host.", 0)
	default:
		plainOrJSON(w, r, http.StatusForbidden, "forbidden", "This is not allowed.", 0)
	}
}

// plainOrJSON answers API clients with the JSON error shape and browsers with text.
func plainOrJSON(w http.ResponseWriter, r *http.Request, status int, code, msg string, retry time.Duration) {
	if isAPIClient(r) {
		httperr.WriteJSON(w, status, code, msg, retry)
		return
	}
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(httperr.RetrySeconds(retry), 10))
	}
	http.Error(w, http.StatusText(status), status)
}
