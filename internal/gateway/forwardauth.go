package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/httperr"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// Forward auth: a front proxy (nginx auth_request, Traefik forwardAuth, Caddy
// forward_auth) asks Gatehouse about a request it holds, naming it in
// X-Forwarded-Method, X-Forwarded-Host, X-Forwarded-Uri and X-Forwarded-Proto and passing
// the client's other headers (Cookie, Authorization, Accept) as they came. Gatehouse
// rebuilds that request, decides it exactly as a proxied one (Decide), and answers
// with a status the proxy acts on and, when allowed, the identity headers for the
// proxy to copy upstream.

// Errors of ForwardedRequest.
var (
	// ErrUntrustedPeer: the verify request did not come from a trusted proxy, so its
	// X-Forwarded-* headers say nothing.
	ErrUntrustedPeer = errors.New("forward auth: the peer is not a trusted proxy")
	// ErrBadForwarded: the forwarded request line is missing, repeated or malformed.
	ErrBadForwarded = errors.New("forward auth: the forwarded request is missing or malformed")
)

// Forwarded-request header names (canonical form).
const (
	hdrFwdMethod = "X-Forwarded-Method"
	hdrFwdHost   = "X-Forwarded-Host"
	hdrFwdURI    = "X-Forwarded-Uri"
	hdrFwdProto  = "X-Forwarded-Proto"
)

// UpstreamCookieHeader carries, on an allowed verify answer, the request's Cookie
// header without Gatehouse's own cookies, for the proxy to send upstream in its place
// (absent when nothing is left): the app never sees the session token.
const UpstreamCookieHeader = "X-Gatehouse-Upstream-Cookie"

// ForwardedRequest rebuilds the request a front proxy asks about from a verify
// request r: method, host and request target from X-Forwarded-Method, -Host and -Uri
// (each exactly once; -Proto optional, "http" or "https"), every other header as the
// proxy passed it, no body. trustedPeer must say whether r's direct peer is one of the
// server's trusted proxies: from any other peer the forwarded headers are the client's
// own words and ErrUntrustedPeer is returned. https tells whether the site's cookies
// are the Secure ones, as the portal reached through the same proxy sees it (a
// malformed X-Forwarded-Proto is refused, but the scheme follows that rule).
func ForwardedRequest(r *http.Request, trustedPeer bool) (fr *http.Request, https bool, err error) {
	if !trustedPeer {
		return nil, false, ErrUntrustedPeer
	}
	method, ok1 := single(r.Header, hdrFwdMethod)
	host, ok2 := single(r.Header, hdrFwdHost)
	target, ok3 := single(r.Header, hdrFwdURI)
	if !ok1 || !ok2 || !ok3 || !validMethod(method) || !validHost(host) {
		return nil, false, ErrBadForwarded
	}
	if vs := r.Header[hdrFwdProto]; len(vs) > 0 {
		if proto, _ := single(r.Header, hdrFwdProto); proto != "http" && proto != "https" {
			return nil, false, ErrBadForwarded
		}
	}
	u, ok := originForm(target)
	if !ok {
		return nil, false, ErrBadForwarded
	}
	fr = r.Clone(r.Context())
	fr.Method, fr.Host, fr.URL, fr.RequestURI = method, host, u, target
	fr.Body, fr.ContentLength, fr.TransferEncoding, fr.Trailer = http.NoBody, 0, nil, nil
	for _, h := range [...]string{hdrFwdMethod, hdrFwdHost, hdrFwdURI, hdrFwdProto} {
		delete(fr.Header, h)
	}
	// The scheme of cookies and of the site's origin as the portal, reached through the
	// same proxy on the same host, sees it (it does not read X-Forwarded-Proto): the
	// cookie the verify route reads is the one the portal set.
	return fr, session.SecureRequest(fr), nil
}

// single returns the one value of a header; false when it is absent, repeated or a
// comma list (a chain of proxies each adding its own: which one to believe?).
func single(h http.Header, name string) (string, bool) {
	vs := h[name]
	if len(vs) != 1 || vs[0] == "" || strings.IndexByte(vs[0], ',') >= 0 {
		return "", false
	}
	return strings.TrimSpace(vs[0]), true
}

// validMethod: an RFC 9110 token of at most 32 characters.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHost: a host name, IPv4 or bracketed IPv6 address, with an optional port.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// originForm parses a request target that must be a path with an optional query
// (RFC 9112 origin-form): no scheme, host, fragment, spaces or control characters.
func originForm(target string) (*url.URL, bool) {
	if !strings.HasPrefix(target, "/") || len(target) > 8192 || strings.ContainsAny(target, "# ") {
		return nil, false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < 0x20 || c == 0x7f {
			return nil, false
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	return u, true
}

// RefuseForwarded answers a verify request ForwardedRequest refused: 403 for an
// untrusted peer (the caller is not the proxy: its own credentials are not what is
// wrong, and 401 would send nginx users to a sign-in that cannot help), 400 for a
// malformed forwarded request. It counts as a denial.
func (g *Gateway) RefuseForwarded(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	g.done(Decision{Outcome: Deny})
	if errors.Is(err, ErrUntrustedPeer) {
		plainOrJSON(w, r, http.StatusForbidden, "untrusted_proxy", "Forward auth answers only the trusted front proxy.", 0)
		return
	}
	plainOrJSON(w, r, http.StatusBadRequest, "bad_request", "The forwarded request is missing or malformed.", 0)
}

// AnswerForwardAuth writes the verify answer for the rebuilt request fr decided as d.
// Allowed: 200 with the identity headers Apply would set (none for an anonymous request
// on a public route) and UpstreamCookieHeader. Every other outcome answers as Respond
// does for a proxied request — 302 to the sign-in for browsers, 401 for API clients,
// 403, 400, 429, 503 — except that with statusOnly (nginx auth_request, which accepts
// only 2xx, 401 and 403) a redirect becomes 401 carrying the Location for the proxy to
// send the browser to. A request under the portal prefix is refused (403): the proxy
// must send the portal to Gatehouse itself, not ask about it.
func (g *Gateway) AnswerForwardAuth(w http.ResponseWriter, fr *http.Request, d Decision, statusOnly bool) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch d.Outcome {
	case Allow:
		if err := g.identityHeaders(h, d, fr.Host); err != nil {
			// No assertion can be made: the upstream must not get a signed-in request
			// without the assertion it may rely on.
			g.Logger.Error("signing the assertion", zap.Error(err))
			for k := range h {
				delete(h, k)
			}
			g.Respond(w, fr, Decision{Outcome: Unavailable})
			return
		}
		if c := fr.Header["Cookie"]; len(c) > 0 {
			hc := http.Header{"Cookie": c}
			stripOwnCookies(hc)
			if v := hc["Cookie"]; len(v) > 0 {
				h[UpstreamCookieHeader] = []string{strings.Join(v, "; ")}
			}
		}
		w.WriteHeader(http.StatusOK)
	case Portal:
		g.Logger.Warn("forward auth was asked about a portal path: route the portal prefix to Gatehouse without forward auth",
			zap.String("path", d.Path))
		plainOrJSON(w, fr, http.StatusForbidden, "portal_path", "The portal is served by Gatehouse itself.", 0)
	case RedirectLogin, StepUp:
		if statusOnly && (d.Outcome == RedirectLogin || !isAPIClient(fr)) {
			h.Set("Location", g.redirectTarget(fr, d))
			if d.Outcome == StepUp {
				httperr.WriteJSON(w, http.StatusUnauthorized, "mfa_required", "This needs a session signed in with a second factor.", 0)
				return
			}
			httperr.WriteJSON(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.", 0)
			return
		}
		g.Respond(w, fr, d)
	default:
		g.Respond(w, fr, d)
	}
}
