package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// maxBody bounds what any portal endpoint reads.
const maxBody = 64 << 10

// access is who may use a route.
type access int

const (
	anyone          access = iota
	signedIn               // a full session
	adminOnly              // an owner's or admin's full session
	mayEnrolTOTP           // a full session, or a pending one whose only way on is enrolling an app
	mayEnrolPasskey        // … or a passkey
)

// handler is a portal handler: it writes the answer, or returns the error to answer.
type handler func(c *call) error

// route registers pattern (a ServeMux method pattern relative to the prefix, e.g.
// "POST /api/v1/admin/users/{id}/unlock") with its rate-limit class ("" = none).
func (p *Portal) route(pattern string, class ratelimit.Class, h http.Handler) {
	method, path, _ := strings.Cut(pattern, " ")
	p.mux.Handle(method+" "+p.Prefix+path, p.limited(class, h))
}

// limited applies the per-IP limit of class before h.
func (p *Portal) limited(class ratelimit.Class, h http.Handler) http.Handler {
	if class == "" || p.Limiter == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := p.request(r)
		res := p.Limiter.Allow(r.Context(), class, req.ClientIP, "")
		hd := w.Header()
		hd.Set("X-RateLimit-Limit", strconv.FormatInt(res.Limit, 10))
		hd.Set("X-RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
		hd.Set("X-RateLimit-Reset", strconv.FormatInt(res.Reset.Unix(), 10))
		if !res.Allowed {
			if p.Metrics != nil {
				p.Metrics.RateLimited(string(class))
			}
			p.fail(&call{Request: req, w: w, r: r, api: isAPI(r)}, tooMany(res.RetryAfter))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// page wraps a GET page for browsers.
func (p *Portal) page(who access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.run(&call{Request: p.request(r), w: w, r: r}, who, h)
	})
}

// run authorizes the call for who and runs h; any error is answered (fail).
func (p *Portal) run(c *call, who access, h handler) {
	if err := p.authorize(c, who); err != nil {
		p.fail(c, err)
		return
	}
	if err := h(c); err != nil {
		p.fail(c, err)
	}
}

// browserForm wraps an HTML form POST: body limit, form parse, same-origin and the
// CSRF token (double submit), then who may use it.
func (p *Portal) browserForm(who access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{Request: p.request(r), w: w, r: r}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			p.fail(c, errorf(http.StatusBadRequest, "bad_form", "The form could not be read."))
			return
		}
		if !checkCSRF(r, c.HTTPS) {
			p.fail(c, errFormExpired())
			return
		}
		p.run(c, who, h)
	})
}

// apiJSON wraps a JSON API call: same-origin only, a body (if any) must be JSON (so a
// cross-site HTML form cannot reach the API), errors as JSON. The handler decodes its
// body with decode.
func (p *Portal) apiJSON(who access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{Request: p.request(r), w: w, r: r, api: true}
		if crossSite(r) {
			p.fail(c, errCrossSite())
			return
		}
		if r.ContentLength != 0 && !isJSONBody(r) {
			p.fail(c, errorf(http.StatusUnsupportedMediaType, "content_type_must_be_json", "Send application/json."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		p.run(c, who, h)
	})
}

// decode reads the call's JSON body into v (unknown fields refused). An empty body is
// fine for calls whose fields are all optional; pass required=true otherwise.
func (c *call) decode(v any, required bool) error {
	dec := json.NewDecoder(c.r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) && !required {
		return nil
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid_json", "The request body is not the JSON this call takes.")
	}
	return nil
}

// authorize sets c.me for routes that need a session, or returns why not: browsers
// without one are sent to sign in (and back here after it).
func (p *Portal) authorize(c *call, who access) error {
	if who == anyone {
		return nil
	}
	e, err := p.session(c)
	if err != nil {
		return unavailable(err)
	}
	if e == nil && (who == mayEnrolTOTP || who == mayEnrolPasskey) {
		if e, err = p.enrolling(c, who); err != nil {
			return unavailable(err)
		}
	}
	if e == nil {
		if c.api {
			return errUnauthenticated()
		}
		rd := p.path("/settings/security")
		if c.r.Method == http.MethodGet {
			rd = c.r.URL.RequestURI()
		}
		http.Redirect(c.w, c.r, withRD(p.path("/login"), rd), http.StatusSeeOther)
		return errHandled
	}
	c.me = e
	if who == adminOnly && !isAdmin(e) {
		return errForbidden()
	}
	return nil
}

// errHandled: the answer was written already.
var errHandled = &httpError{status: 0}

// session returns the caller's live, full session: nil, nil when there is none; an
// error only when the store could not tell (callers answer 503 rather than act as if
// signed out).
func (p *Portal) session(c *call) (*session.Entry, error) {
	tok := session.TokenFromRequest(c.r, c.HTTPS)
	if tok == "" {
		return nil, nil
	}
	e, err := p.Sessions.Validate(c.r.Context(), c.Workspace.TenantHandle, c.Workspace.Slug, tok)
	if errors.Is(err, session.ErrNoSession) {
		return nil, nil
	}
	if err == nil {
		p.Sessions.Seen(c.Workspace.TenantHandle, e, c.ClientIP)
	}
	return e, err
}

// enrolling returns the caller's pending session when its only way on is to enrol
// the factor who names.
func (p *Portal) enrolling(c *call, who access) (*session.Entry, error) {
	pending, err := p.SignIn.Pending(c.r.Context(), c.Workspace, p.client(c))
	if err != nil || pending == nil {
		return nil, err
	}
	kind := "totp"
	if who == mayEnrolPasskey {
		kind = "webauthn"
	}
	ok, err := p.SignIn.MayEnrol(c.r.Context(), c.Workspace, pending, kind)
	if err != nil || !ok {
		return nil, err
	}
	return pending, nil
}

// isAPI tells API calls (under /api/, or asking for JSON) from browser pages.
func isAPI(r *http.Request) bool {
	return strings.Contains(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

func isJSONBody(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// notFound answers paths the portal does not have — and paths it has only for other
// methods, with 405 and Allow — as a page for browsers and JSON for the API.
func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	c := &call{Request: p.request(r), w: w, r: r, api: isAPI(r)}
	if allow := p.allowed(r); allow != "" {
		w.Header().Set("Allow", allow)
		p.fail(c, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "This address does not take a "+r.Method+" request.").goOn(p.path("/login"), "Go to sign-in"))
		return
	}
	p.fail(c, errorf(http.StatusNotFound, "not_found", "There is no such page."))
}

// allowed lists the methods that have a route for r's path (other than the catch-all).
func (p *Portal) allowed(r *http.Request) string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: &url.URL{Path: r.URL.Path}, Host: r.Host, Header: http.Header{}}
		if _, pattern := p.mux.Handler(probe); pattern != "" && pattern != p.Prefix+"/" {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}
