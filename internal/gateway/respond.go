package gateway

import (
	"html/template"
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
		http.Redirect(w, r, g.redirectTarget(r, d), http.StatusFound)
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
	case Forbidden:
		if isAPIClient(r) {
			httperr.Write(w, http.StatusForbidden, httperr.Body{Error: "forbidden",
				Message: "Your roles do not allow this.", Permission: d.Verdict.Permission}, 0)
			return
		}
		g.forbiddenPage(w, d)
	case StepUp:
		if isAPIClient(r) {
			httperr.Write(w, http.StatusForbidden, httperr.Body{Error: "mfa_required",
				Message: "This needs a session signed in with a second factor.", Permission: d.Verdict.Permission}, 0)
			return
		}
		http.Redirect(w, r, g.redirectTarget(r, d), http.StatusFound)
	default:
		plainOrJSON(w, r, http.StatusForbidden, "forbidden", "This is not allowed.", 0)
	}
}

// redirectTarget is where a browser goes for RedirectLogin (the sign-in) and StepUp
// (the second-factor step): a portal page with rd = the request's own path and query,
// when that is a safe same-site target.
func (g *Gateway) redirectTarget(r *http.Request, d Decision) string {
	rd, ok := redirect.Safe(r.URL.RequestURI())
	if d.Outcome == StepUp {
		target := g.Prefix + "/step-up"
		if ok {
			target += "?rd=" + url.QueryEscape(rd)
		}
		return target
	}
	target := g.Prefix + "/login"
	if ok && rd != "/" {
		target += "?rd=" + url.QueryEscape(rd)
	}
	return target
}

// forbiddenPage tells a signed-in browser user that their roles do not reach this
// page, what was missing, and where to go on.
func (g *Gateway) forbiddenPage(w http.ResponseWriter, d Decision) {
	who := ""
	if d.Entry != nil {
		who = d.Entry.User.Email
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusForbidden)
	_ = forbiddenTmpl.Execute(w, struct{ Who, Permission, Prefix string }{who, d.Verdict.Permission, g.Prefix})
}

var forbiddenTmpl = template.Must(template.New("403").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed</title><link rel="stylesheet" href="{{.Prefix}}/static/style.css"></head>
<body>
<main class="card">
<h1>You do not have access to this page</h1>
<p>{{if .Who}}You are signed in as <strong>{{.Who}}</strong>. {{end}}{{if .Permission}}This page needs the permission <code>{{.Permission}}</code>, which your role does not give{{else}}Your role does not allow this{{end}}.</p>
<p>If you need it, ask an owner or administrator of your workspace to change your role or team.</p>
<p><a href="/">Back to the start page</a> · <a href="{{.Prefix}}/settings">Your account</a></p>
</main>
<footer>Protected by Gatehouse</footer>
</body></html>
`))

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
