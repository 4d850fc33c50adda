package gateway

import (
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// prepareUpstream removes what the upstream must not receive from an allowed request:
// Gatehouse's own cookies (a 30-day bearer token that an app might log) and identity
// headers smuggled as request trailers (a proxy forwards trailers it reads at the end
// of the body, and some servers merge them into the headers).
func prepareUpstream(r *http.Request, strip *identity.Stripper) {
	stripOwnCookies(r.Header)
	if len(r.Trailer) > 0 {
		strip.Strip(r.Trailer)
	}
	if r.Body != nil && r.Body != http.NoBody && (r.ProtoMajor >= 2 || len(r.TransferEncoding) > 0) {
		r.Body = &trailerScrubber{ReadCloser: r.Body, r: r, strip: strip}
	}
}

// trailerScrubber removes identity headers from the request's trailers as soon as the
// body reader has parsed them (at EOF), before anything downstream copies them.
type trailerScrubber struct {
	io.ReadCloser
	r     *http.Request
	strip *identity.Stripper
}

func (t *trailerScrubber) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF && len(t.r.Trailer) > 0 {
		t.strip.Strip(t.r.Trailer)
	}
	return n, err
}

// isOwnCookie names the cookies Gatehouse sets: gatehouse, gatehouse_*,
// __Host-gatehouse*, __Secure-gatehouse* (the refresh token).
func isOwnCookie(name string) bool {
	return name == "gatehouse" || strings.HasPrefix(name, "gatehouse_") || strings.HasPrefix(name, "__Host-gatehouse") ||
		strings.HasPrefix(name, "__Secure-gatehouse")
}

// stripOwnCookies rewrites the Cookie header without Gatehouse's cookies. Requests that
// carry none of them are left untouched, without allocating.
func stripOwnCookies(h http.Header) {
	lines := h["Cookie"]
	found := false
	for _, l := range lines {
		if strings.Contains(l, "gatehouse") {
			found = true
			break
		}
	}
	if !found {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		for part := range strings.SplitSeq(l, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || isOwnCookie(strings.TrimSpace(name)) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
}

// methodOverrideHeaders are read by frameworks (Rails, Laravel, Express's
// method-override) to treat a POST as another method.
var methodOverrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}
