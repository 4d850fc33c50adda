package redirect

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// maxRedirectLength bounds a redirect target: it is echoed in a Location header and in
// the login form.
const maxRedirectLength = 2048

// Safe checks a redirect target taken from a request (the rd parameter) and
// returns it as a same-site path, with an optional query and fragment, ready for a
// Location header; or "", false when it could lead anywhere else or is not a path the
// gateway would serve. Callers fall back to "/".
//
// It refuses:
//   - an empty target, one longer than 2048 bytes, and one that does not start with "/";
//   - "//host" and "/\host": browsers read both as a host (a scheme-relative URL);
//   - a backslash anywhere, because browsers read it as "/" in http(s) URLs;
//   - raw control characters and DEL anywhere: browsers silently drop tab, CR and LF,
//     so "/\t/evil.example" becomes "//evil.example";
//   - invalid percent escapes and invalid UTF-8 anywhere;
//   - a path that policy.NormalizePath refuses: percent-encoded slashes, backslashes and
//     control characters, dot and empty segments in any spelling, double encoding,
//     segments ending in a dot or a space, and anything that Unicode compatibility
//     normalisation (NFKC) would change — so look-alikes such as "／" (fullwidth
//     solidus), "＼" or "‥" cannot become "/", "\" or ".." in a component that
//     normalises. The gateway answers such paths with 400, so it never sends a user to
//     one, and refusing them keeps an upstream that decodes the path and redirects again
//     (turning "/%2f%2fevil" into "//evil") from being used as the second hop. Note that
//     browsers themselves keep "Location: /%2f%2fevil" on this host;
//   - anything url.Parse reads with a scheme, host, user or opaque part.
//
// Percent-encoded control characters are refused in the path but allowed in the query
// and fragment: they stay encoded in the Location header, browsers send them back
// encoded, and a search query may legitimately hold an encoded newline.
//
// The returned target is ASCII: non-ASCII bytes and the few ASCII characters that are
// not valid in a URL (space, ", <, >, ^, `, {, |, }) are percent-encoded.
func Safe(rd string) (string, bool) {
	if rd == "" || len(rd) > maxRedirectLength || rd[0] != '/' {
		return "", false
	}
	if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
		return "", false
	}
	escape := false
	for i := 0; i < len(rd); i++ {
		switch c := rd[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return "", false
		case c == '%':
			if i+2 >= len(rd) || !isHexDigit(rd[i+1]) || !isHexDigit(rd[i+2]) {
				return "", false
			}
		case c >= utf8.RuneSelf || needsURLEscape(c):
			escape = true
		}
	}
	if !utf8.ValidString(rd) {
		return "", false
	}
	path := rd
	if i := strings.IndexAny(rd, "?#"); i >= 0 {
		path = rd[:i]
	}
	if _, err := policy.NormalizePath(path); err != nil {
		return "", false
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	if escape {
		rd = escapeRedirect(rd)
	}
	return rd, true
}

// needsURLEscape reports the printable ASCII characters that are not valid in a URL.
func needsURLEscape(c byte) bool {
	return strings.IndexByte(" \"<>^`{|}", c) >= 0
}

// escapeRedirect percent-encodes non-ASCII bytes and needsURLEscape characters.
func escapeRedirect(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || needsURLEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
