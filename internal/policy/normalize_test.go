package policy

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestNormalizePath(t *testing.T) {
	ok := []struct{ in, want string }{
		{"/", "/"},
		{"/health", "/health"},
		{"/api/deals/42", "/api/deals/42"},
		{"/docs/", "/docs/"},
		{"/a/b/c/", "/a/b/c/"},
		{"/caf%C3%A9", "/café"},
		{"/caf%c3%a9/menu", "/café/menu"},
		{"/café", "/café"}, // raw UTF-8 (not what EscapedPath gives, but unambiguous)
		{"/%41BC", "/ABC"},
		{"/a%20b", "/a b"},
		{"/a%3Fb", "/a?b"},
		{"/a%23b", "/a#b"},
		{"/a;b", "/a;b"},
		{"/a;b/c", "/a;b/c"},
		{"/files/report;v=2", "/files/report;v=2"},
		{"/.well-known/security.txt", "/.well-known/security.txt"},
		{"/a/.hidden", "/a/.hidden"},
		{"/a..b", "/a..b"},
		{"/..a", "/..a"},
		{"/100%25", "/100%"},
		{"/100%25off", "/100%off"}, // "%of" is not an escape
		{"/%7E", "/~"},
		{"/a~b!$&'()*+,=:@", "/a~b!$&'()*+,=:@"},
		// dots and spaces inside a segment, not at its end
		{"/v1.2/x", "/v1.2/x"},
		{"/file.txt", "/file.txt"},
		{"/a.b/c.d/", "/a.b/c.d/"},
		{"/a%20b/x", "/a b/x"},
		{"/a b/x", "/a b/x"},
		{"/%20a/x", "/ a/x"}, // a leading space is not trimmed by Windows
		{"/a%2eb", "/a.b"},
		{"/files/report;v=1.2", "/files/report;v=1.2"},
		{"/a;x/b", "/a;x/b"},
		// '+' is a literal in a path, not a space
		{"/a+/x", "/a+/x"},
		{"/a%2B/x", "/a+/x"},
		// Unicode already in NFKC
		{"/%C3%85ngstr%C3%B6m", "/Ångström"}, // precomposed Å, not the Angstrom sign
		{"/na%C3%AFve", "/naïve"},
		{"/%E6%97%A5%E6%9C%AC", "/日本"},
		{"/日本/x", "/日本/x"},
		{"/%EA%B0%80", "/가"},     // precomposed Hangul syllable
		{"/x%CC%81", "/x\u0301"}, // x + combining acute: nothing to compose, so normal
		{"/%D7%90%D6%B8", "/\u05d0\u05b8"},
	}
	for _, c := range ok {
		got, err := NormalizePath(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q, nil", c.in, got, err, c.want)
		}
	}

	bad := []struct{ in, why string }{
		{"", "not absolute"},
		{"health", "not absolute"},
		{"*", "not absolute"},
		{"%2fadmin", "not absolute"},
		{"http://evil/", "not absolute"},
		// slashes and backslashes
		{"/a%2fb", "encoded slash"},
		{"/a%2Fb", "encoded slash"},
		{"/%2F%2Fevil", "encoded slash"},
		{"/a%5cb", "encoded backslash"},
		{"/a%5Cb", "encoded backslash"},
		{"/a\\b", "backslash"},
		{"/\\evil", "backslash"},
		// control characters
		{"/a%00", "encoded NUL"},
		{"/a%00.html", "encoded NUL"},
		{"/a%0d%0aSet-Cookie:x", "encoded CRLF"},
		{"/a%09b", "encoded tab"},
		{"/a%1f", "encoded control"},
		{"/a%7f", "encoded DEL"},
		{"/a%7F", "encoded DEL"},
		{"/a\x00", "NUL"},
		{"/a\tb", "tab"},
		{"/a\nb", "newline"},
		{"/a\rb", "CR"},
		{"/a\x7fb", "DEL"},
		// invalid escapes
		{"/a%", "truncated escape"},
		{"/a%4", "truncated escape"},
		{"/a%zz", "invalid escape"},
		{"/a%g0", "invalid escape"},
		{"/%u002e%u002e/admin", "IIS %u escape"},
		{"/a%%41", "percent before escape"},
		// double encoding
		{"/%252e%252e/admin", "double-encoded dots"},
		{"/a%252fb", "double-encoded slash"},
		{"/a%2541", "double-encoded letter"},
		{"/a%25%34%31", "escape assembled from escapes"},
		// invalid UTF-8
		{"/%c0%ae%c0%ae/admin", "overlong dot"},
		{"/%c0%af", "overlong slash"},
		{"/%ff", "invalid UTF-8"},
		{"/a\xffb", "raw invalid UTF-8"},
		{"/%e2%82", "truncated UTF-8"},
		// empty segments
		{"//", "empty segment"},
		{"//evil.example", "empty segment"},
		{"/a//b", "empty segment"},
		{"/a/b//", "empty segment"},
		// dot segments in every spelling
		{"/.", "dot"},
		{"/..", "dot-dot"},
		{"/./a", "dot"},
		{"/a/./b", "dot"},
		{"/a/../b", "dot-dot"},
		{"/a/..", "dot-dot"},
		{"/a/../", "dot-dot"},
		{"/%2e", "encoded dot"},
		{"/%2E", "encoded dot"},
		{"/%2e%2e", "encoded dot-dot"},
		{"/%2E%2e/admin", "encoded dot-dot"},
		{"/.%2e/admin", "half-encoded dot-dot"},
		{"/%2e./admin", "half-encoded dot-dot"},
		{"/a/%2e%2e", "encoded dot-dot at end"},
		// Tomcat path parameters
		{"/..;/admin", "dot-dot with path parameter"},
		{"/a/..;x/admin", "dot-dot with path parameter"},
		{"/.;/admin", "dot with path parameter"},
		{"/%2e%2e;/admin", "encoded dot-dot with path parameter"},
		{"/..%3b/admin", "dot-dot with encoded semicolon"},
		{"/a/;/b", "empty segment with path parameter"},
		{"/;jsessionid=1", "empty segment with path parameter"},
		// a segment ending in a dot or a space: Windows/IIS trim them
		{"/admin./x", "trailing dot"},
		{"/admin%2e/x", "encoded trailing dot"},
		{"/admin%2E/x", "encoded trailing dot"},
		{"/admin../x", "trailing dots"},
		{"/admin.%2e/x", "trailing dots"},
		{"/...", "three dots: trimmed to nothing"},
		{"/a/..../b", "four dots"},
		{"/admin%20/x", "encoded trailing space"},
		{"/admin /x", "raw trailing space"},
		{"/admin%20%20/x", "trailing spaces"},
		{"/admin.%20/x", "trailing dot and space"},
		{"/admin%20./x", "trailing space and dot"},
		{"/%20/x", "segment of one space"},
		{"/%20%20%20/admin", "segment of spaces"},
		{"/x/admin.", "trailing dot in the last segment"},
		{"/x/admin%20", "trailing space in the last segment"},
		{"/admin./", "trailing dot before a trailing slash"},
		{"/admin.;x/y", "trailing dot before path parameters"},
		{"/admin%2e;x/y", "encoded trailing dot before path parameters"},
		{"/admin%20;x/y", "trailing space before path parameters"},
		{"/admin.%3bx/y", "trailing dot before an encoded semicolon"},
		{"/admin;x./y", "trailing dot after path parameters"},
		{"/admin;x%20/y", "trailing space after path parameters"},
		{"/admin%C2%85/x", "trailing NEL (a Unicode space that NFKC keeps)"},
		{"/admin%E2%80%A8/x", "trailing line separator"},
		{"/admin%E1%9A%80/x", "trailing Ogham space mark"},
		{"/admin%C2%A0/x", "trailing no-break space"},
		{"/admin%E3%80%80/x", "trailing ideographic space"},
		// changed by NFKC: compatibility characters
		{"/%EF%BD%81dmin/x", "fullwidth a"},
		{"/%EF%BC%A1DMIN/x", "fullwidth A"},
		{"/ａdmin/x", "raw fullwidth a"},
		{"/%EF%AC%81le", "fi ligature"},
		{"/x%C2%B2", "superscript two"},
		{"/v%E2%82%81", "subscript one"},
		{"/%E2%84%AA", "Kelvin sign"},
		{"/%E2%84%AB", "Angstrom sign"},
		{"/%E2%85%A0", "roman numeral one"},
		{"/%C5%BFecret", "long s"},
		{"/%E2%80%A4/admin", "one dot leader"},
		{"/%E2%80%A5/admin", "two dot leader"},
		{"/%EF%BC%8E%EF%BC%8E/admin", "fullwidth full stops"},
		{"/admin%EF%BC%8E/x", "fullwidth full stop at the end"},
		{"/%EF%B9%92%EF%B9%92/admin", "small full stops"},
		{"/a%EF%BC%8Fb", "fullwidth solidus"},
		{"/a%EF%BC%BCb", "fullwidth reverse solidus"},
		{"/a%EF%B9%AA2e", "small percent sign"},
		{"/a%E2%80%82b", "en space"},
		// changed by NFKC: sequences it composes
		{"/cafe%CC%81", "e + combining acute"},
		{"/A%CC%8Angstrom", "A + combining ring"},
		{"/%E1%84%80%E1%85%A1", "Hangul jamo that compose to one syllable"},
		{"/a%CC%81%CC%A3", "combining marks out of canonical order"},
	}
	for _, c := range bad {
		got, err := NormalizePath(c.in)
		if err == nil {
			t.Errorf("NormalizePath(%q) = %q, nil; want an error (%s)", c.in, got, c.why)
			continue
		}
		if !errors.Is(err, ErrInvalidPath) {
			t.Errorf("NormalizePath(%q) error %v does not wrap ErrInvalidPath", c.in, err)
		}
		if got != "" {
			t.Errorf("NormalizePath(%q) returned %q with its error", c.in, got)
		}
	}
}

func TestNormalizePathErrorMessages(t *testing.T) {
	for in, want := range map[string]string{
		"/a%2fb":           "encoded slash",
		"/a/../b":          "dot segment",
		"/a//b":            "empty segment",
		"/a%zz":            "invalid percent escape",
		"x":                "does not start with /",
		"/admin./x":        "ends in a dot",
		"/admin%20/x":      "ends in a space",
		"/%EF%BD%81dmin/x": "NFKC",
	} {
		_, err := NormalizePath(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizePath(%q) error = %v; want it to mention %q", in, err, want)
		}
	}
}

func TestNormalizePathDoesNotAllocateOnCleanPaths(t *testing.T) {
	for _, p := range []string{"/", "/api/deals/42/edit", "/docs/", "/café/menu", "/a;b", "/v1.2/file.txt", "/Ångström/日本"} {
		var out string
		allocs := testing.AllocsPerRun(100, func() { out, _ = NormalizePath(p) })
		if allocs != 0 {
			t.Errorf("NormalizePath(%q): %v allocations, want 0", p, allocs)
		}
		if out != p {
			t.Errorf("NormalizePath(%q) = %q", p, out)
		}
	}
	// Refusing a hostile path does not allocate either.
	for _, p := range []string{"/a/../b", "/admin./x", "/admin.;x/y"} {
		if allocs := testing.AllocsPerRun(100, func() { _, _ = NormalizePath(p) }); allocs != 0 {
			t.Errorf("refusing %q: %v allocations, want 0", p, allocs)
		}
	}
}

// FuzzNormalizePath checks the promises of NormalizePath on arbitrary input: what it
// accepts is absolute, valid UTF-8, free of controls, backslashes, empty and dot
// segments, free of segments that end in a dot or a space, in NFKC, and already
// normal (normalizing it again, escaped, gives it back); and a policy decides on it
// without panicking.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a%2fb", "/%2e%2e/", "/..;/x", "/caf%C3%A9", "/a;b/", "//x", "/A/B/",
		"/admin./x", "/admin%20;x/", "/%EF%BD%81dmin/x", "/cafe%CC%81", "/x%CC%81"} {
		f.Add(s)
	}
	p := mustCompile(f, []Rule{
		{Path: "/admin/*", Access: Deny},
		{Path: "/api/{x}", Methods: []string{"GET"}, Access: Public},
		{Path: "/docs/", Access: Public},
		{Path: "/*", Access: SignedIn},
	}, Deny)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePath(in)
		if err != nil {
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("%q -> %q: not absolute", in, out)
		}
		if strings.ContainsAny(out, "\\\x00\x7f") || strings.Contains(out, "//") {
			t.Fatalf("%q -> %q: forbidden character or empty segment", in, out)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			before, _, _ := strings.Cut(seg, ";")
			if before == "." || before == ".." {
				t.Fatalf("%q -> %q: dot segment", in, out)
			}
			for _, part := range []string{before, seg} {
				if r, _ := utf8.DecodeLastRuneInString(part); r == '.' || unicode.IsSpace(r) {
					t.Fatalf("%q -> %q: segment %q ends in a dot or a space", in, out, part)
				}
			}
			for _, r := range seg {
				if r < 0x20 {
					t.Fatalf("%q -> %q: control character", in, out)
				}
			}
		}
		if !norm.NFKC.IsNormalString(out) {
			t.Fatalf("%q -> %q: not in NFKC", in, out)
		}
		if !strings.Contains(in, "%") && out != in {
			t.Fatalf("%q -> %q: changed a path without escapes", in, out)
		}
		_ = p.Decide("example.com", "GET", out)
	})
}
