package policy

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPath is the error (test with errors.Is) for every request path that
// NormalizePath refuses. The gateway answers it with 400 and never forwards the request.
var ErrInvalidPath = errors.New("invalid request path")

// pathError says why a path was refused. The values are preallocated so that refusing
// a hostile path costs no allocation.
type pathError struct{ reason string }

func (e *pathError) Error() string { return "invalid request path: " + e.reason }
func (e *pathError) Unwrap() error { return ErrInvalidPath }

var (
	errNotAbsolute     = &pathError{"does not start with /"}
	errBackslash       = &pathError{"contains a backslash"}
	errControl         = &pathError{"contains a control character"}
	errBadEscape       = &pathError{"contains an invalid percent escape"}
	errEncodedSlash    = &pathError{"contains an encoded slash (%2f)"}
	errEncodedBackslsh = &pathError{"contains an encoded backslash (%5c)"}
	errEncodedControl  = &pathError{"contains an encoded control character"}
	errDoubleEncoded   = &pathError{"is percent-encoded twice (%25XX)"}
	errInvalidUTF8     = &pathError{"is not valid UTF-8 once decoded"}
	errEmptySegment    = &pathError{"contains an empty segment (//)"}
	errDotSegment      = &pathError{"contains a dot segment (. or ..)"}
)

// NormalizePath checks a raw request path, as r.URL.EscapedPath() or the request line
// gives it, and returns the decoded path that routes are matched against.
//
// It refuses (with an error wrapping ErrInvalidPath) every spelling that servers,
// proxies and frameworks are known to read differently, because the gateway must
// decide on exactly the path the upstream acts on:
//
//   - a path that does not start with "/";
//   - a backslash, raw or encoded (%5c): Windows servers and some routers read it as "/";
//   - an encoded slash (%2f): some upstreams decode it before routing, others do not;
//   - control characters and DEL, raw or encoded (%00-%1f, %7f), NUL included;
//   - an invalid percent escape ("%zz", "%4", "%u002e");
//   - double encoding ("%252e" decodes to "%2e"): an upstream that decodes twice would
//     see a different path;
//   - invalid UTF-8 once decoded (overlong forms such as %c0%ae were read as "." by
//     old decoders);
//   - an empty segment ("//"); a single trailing slash is allowed;
//   - a dot segment after decoding (".", "..", "%2e", ".%2E", …), and a segment whose
//     part before ';' is ".", ".." or empty ("..;", ".;x", ";x"): Tomcat drops ";…"
//     and then resolves the dots.
//
// When the path contains no '%', NormalizePath returns it unchanged without allocating.
func NormalizePath(escapedPath string) (string, error) {
	p := escapedPath
	if p == "" || p[0] != '/' {
		return "", errNotAbsolute
	}
	encoded := false
	ascii := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			encoded = true
		case c == '\\':
			return "", errBackslash
		case c < 0x20 || c == 0x7f:
			return "", errControl
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if encoded {
		var err error
		if p, err = decodePath(p); err != nil {
			return "", err
		}
	} else if !ascii && !utf8.ValidString(p) {
		return "", errInvalidUTF8
	}
	if err := checkSegments(p); err != nil {
		return "", err
	}
	return p, nil
}

// decodePath percent-decodes p (which has no raw backslash or control character),
// refusing escapes that would change the path's structure.
func decodePath(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	pct := false // the output holds a '%', which only decoding "%25" can produce
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errBadEscape
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		switch {
		case d == '/':
			return "", errEncodedSlash
		case d == '\\':
			return "", errEncodedBackslsh
		case d < 0x20 || d == 0x7f:
			return "", errEncodedControl
		case d == '%':
			pct = true
		}
		b.WriteByte(d)
		i += 2
	}
	s := b.String()
	if pct && hasEscape(s) {
		return "", errDoubleEncoded
	}
	if !utf8.ValidString(s) {
		return "", errInvalidUTF8
	}
	return s, nil
}

// checkSegments refuses empty and dot segments in a path that starts with "/".
func checkSegments(p string) error {
	rest := p[1:]
	for {
		seg, tail, last := cutSegment(rest)
		if seg == "" && !last {
			return errEmptySegment
		}
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			if i == 0 {
				return errEmptySegment
			}
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return errDotSegment
		}
		if last {
			return nil
		}
		rest = tail
	}
}

// cutSegment splits the first segment off rest (a path without its leading "/"). last
// reports whether seg was the final segment.
func cutSegment(rest string) (seg, tail string, last bool) {
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], rest[i+1:], false
	}
	return rest, "", true
}

// hasEscape reports whether s contains a valid percent escape.
func hasEscape(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
