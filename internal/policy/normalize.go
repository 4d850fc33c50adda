package policy

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	errTrailingDot     = &pathError{"has a segment that ends in a dot"}
	errTrailingSpace   = &pathError{"has a segment that ends in a space"}
	errNotNFKC         = &pathError{"changes under Unicode NFKC normalization"}
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
//     and then resolves the dots;
//   - a segment that ends in a dot or a space, raw or encoded ("admin.", "admin%2e",
//     "admin%20", "...", "%20"), in whole or in its part before ';' ("admin.;x"):
//     Windows (and so IIS) drops trailing dots and spaces from file names, and some
//     frameworks trim segments, so "/admin./x" would reach "/admin/x". Unicode spaces
//     count too ("admin%C2%85"), since .NET's and Python's trimming removes them;
//   - a path that Unicode NFKC normalization would change (fullwidth "ａ", ligatures
//     such as "ﬁ", superscripts, the Kelvin sign "K", the Angstrom sign "Å", the one
//     and two dot leaders "․" and "‥", "e" followed by a combining acute accent):
//     frameworks and file systems that normalize would read another path. The
//     precomposed (NFC) spelling of an accented letter is accepted.
//
// When the path contains no '%', NormalizePath returns it unchanged; when it is also
// ASCII or already normal, without allocating.
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
		if p, ascii, err = decodePath(p); err != nil {
			return "", err
		}
	}
	if !ascii {
		if err := checkUnicode(p); err != nil {
			return "", err
		}
	}
	if err := checkSegments(p); err != nil {
		return "", err
	}
	return p, nil
}

// decodePath percent-decodes p (which has no raw backslash or control character),
// refusing escapes that would change the path's structure. ascii reports whether the
// result is all ASCII, in which case it is valid UTF-8 and already NFKC-normal.
func decodePath(p string) (s string, ascii bool, err error) {
	var b strings.Builder
	b.Grow(len(p))
	pct := false  // the output holds a '%', which only decoding "%25" can produce
	var high byte // OR of every output byte: its top bit says whether any is non-ASCII
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			high |= c
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false, errBadEscape
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		switch {
		case d == '/':
			return "", false, errEncodedSlash
		case d == '\\':
			return "", false, errEncodedBackslsh
		case d < 0x20 || d == 0x7f:
			return "", false, errEncodedControl
		case d == '%':
			pct = true
		}
		b.WriteByte(d)
		high |= d
		i += 2
	}
	s = b.String()
	if pct && hasEscape(s) {
		return "", false, errDoubleEncoded
	}
	return s, high < utf8.RuneSelf, nil
}

// checkUnicode refuses a path (after decoding) that is not valid UTF-8 or that NFKC
// normalization would change. Only non-ASCII paths need it: ASCII is both.
//
// IsNormalString always allocates (its reorder buffer escapes), so the quick check
// comes first: it spans the whole of any text in NFC without compatibility characters
// and allocates nothing. It stops early at a character that may combine with its
// neighbours (a combining mark), where only the full check can tell.
func checkUnicode(p string) error {
	if !utf8.ValidString(p) {
		return errInvalidUTF8
	}
	if norm.NFKC.QuickSpanString(p) != len(p) && !norm.NFKC.IsNormalString(p) {
		return errNotNFKC
	}
	return nil
}

// checkSegments refuses empty and dot segments, and segments that end in a dot or a
// space, in a valid UTF-8 path that starts with "/". Both the whole segment and its
// part before ';' are checked: IIS trims the whole, Tomcat drops ";…" first.
func checkSegments(p string) error {
	rest := p[1:]
	for {
		seg, tail, last := cutSegment(rest)
		if seg == "" && !last {
			return errEmptySegment
		}
		whole := seg
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			if i == 0 {
				return errEmptySegment
			}
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return errDotSegment
		}
		if err := checkSegmentEnd(seg); err != nil {
			return err
		}
		if len(whole) != len(seg) {
			if err := checkSegmentEnd(whole); err != nil {
				return err
			}
		}
		if last {
			return nil
		}
		rest = tail
	}
}

// checkSegmentEnd refuses a non-empty segment whose last character is a dot or a
// space: ASCII, or any Unicode space (U+0085, U+00A0, U+2028, U+3000, …).
func checkSegmentEnd(seg string) error {
	if seg == "" {
		return nil
	}
	switch c := seg[len(seg)-1]; {
	case c == '.':
		return errTrailingDot
	case c == ' ':
		return errTrailingSpace
	case c >= utf8.RuneSelf:
		if r, _ := utf8.DecodeLastRuneInString(seg); unicode.IsSpace(r) {
			return errTrailingSpace
		}
	}
	return nil
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
