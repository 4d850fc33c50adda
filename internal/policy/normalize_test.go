package policy

import (
	"errors"
	"strings"
	"testing"
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
		{"/...", "/..."}, // three dots is a name, not a dot segment
		{"/.well-known/security.txt", "/.well-known/security.txt"},
		{"/a/.hidden", "/a/.hidden"},
		{"/a..b", "/a..b"},
		{"/..a", "/..a"},
		{"/100%25", "/100%"},
		{"/100%25off", "/100%off"}, // "%of" is not an escape
		{"/%7E", "/~"},
		{"/a~b!$&'()*+,=:@", "/a~b!$&'()*+,=:@"},
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
		"/a%2fb":  "encoded slash",
		"/a/../b": "dot segment",
		"/a//b":   "empty segment",
		"/a%zz":   "invalid percent escape",
		"x":       "does not start with /",
	} {
		_, err := NormalizePath(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizePath(%q) error = %v; want it to mention %q", in, err, want)
		}
	}
}

func TestNormalizePathDoesNotAllocateOnCleanPaths(t *testing.T) {
	for _, p := range []string{"/", "/api/deals/42/edit", "/docs/", "/café/menu", "/a;b"} {
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
	if allocs := testing.AllocsPerRun(100, func() { _, _ = NormalizePath("/a/../b") }); allocs != 0 {
		t.Errorf("refusing a path: %v allocations, want 0", allocs)
	}
}

// FuzzNormalizePath checks the promises of NormalizePath on arbitrary input: what it
// accepts is absolute, valid UTF-8, free of controls, backslashes, empty and dot
// segments, and already normal (normalizing it again, escaped, gives it back); and a
// policy decides on it without panicking.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a%2fb", "/%2e%2e/", "/..;/x", "/caf%C3%A9", "/a;b/", "//x", "/A/B/"} {
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
			for _, r := range seg {
				if r < 0x20 {
					t.Fatalf("%q -> %q: control character", in, out)
				}
			}
		}
		if !strings.Contains(in, "%") && out != in {
			t.Fatalf("%q -> %q: changed a path without escapes", in, out)
		}
		_ = p.Decide("example.com", "GET", out)
	})
}
