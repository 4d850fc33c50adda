package gateway

import (
	"net/http"
	"net/url"
	"strconv"

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
		jsonError(w, http.StatusUnauthorized, "unauthenticated")
	case BadRequest:
		plainOrJSON(w, r, http.StatusBadRequest, "bad_request")
	case Unavailable:
		h.Set("Retry-After", "5")
		plainOrJSON(w, r, http.StatusServiceUnavailable, "unavailable")
	case RateLimited:
		secs := int(d.RetryAfter.Seconds() + 0.999)
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
		plainOrJSON(w, r, http.StatusTooManyRequests, "too_many_requests")
	case UnknownTenant:
		plainOrJSON(w, r, http.StatusNotFound, "unknown_site")
	default:
		plainOrJSON(w, r, http.StatusForbidden, "forbidden")
	}
}

func jsonError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}` + "\n"))
}

func plainOrJSON(w http.ResponseWriter, r *http.Request, status int, code string) {
	if isAPIClient(r) {
		jsonError(w, status, code)
		return
	}
	http.Error(w, http.StatusText(status), status)
}
