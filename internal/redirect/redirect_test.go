package redirect

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafeAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"/", "/"},
		{"/dashboard", "/dashboard"},
		{"/a/b/", "/a/b/"},
		{"/a/b?c=d&e=f#frag", "/a/b?c=d&e=f#frag"},
		{"/?", "/?"},
		{"/#top", "/#top"},
		{"/files/report.pdf", "/files/report.pdf"},
		{"/.well-known/security.txt", "/.well-known/security.txt"},
		{"/100%25", "/100%25"},
		{"/evil.example", "/evil.example"}, // a path on our host, whatever it is called
		{"/@evil.example", "/@evil.example"},
		{"/a:b", "/a:b"},
		{"/https://evil.example", ""}, // refused below: "//" is an empty segment
		// The query and fragment may hold anything encoded, URLs and encoded controls
		// included: they stay encoded in Location and never change where it leads.
		{"/search?q=a%0Ab", "/search?q=a%0Ab"},
		{"/login?next=https://evil.example", "/login?next=https://evil.example"},
		{"/login?next=//evil&x=%2F%2F", "/login?next=//evil&x=%2F%2F"},
		{"/a#//evil.example", "/a#//evil.example"},
		{"/a?x=%5c", "/a?x=%5c"},
		// Characters not valid in a URL are encoded, so the result is ASCII.
		{"/a b", "/a%20b"},
		{"/a?q=<script>", "/a?q=%3Cscript%3E"},
		{"/a?q=\"x\"|{y}^`", "/a?q=%22x%22%7C%7By%7D%5E%60"},
		{"/café", "/caf%C3%A9"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/ü?q=ö#ä", "/%C3%BC?q=%C3%B6#%C3%A4"},
		// Unicode slashes with no compatibility mapping stay harmless path characters.
		{"/\u2215evil.example", "/%E2%88%95evil.example"}, // DIVISION SLASH
		{"/\u2044evil", "/%E2%81%84evil"},                 // FRACTION SLASH
	}
	for _, c := range cases {
		got, ok := Safe(c.in)
		if c.want == "" {
			if ok {
				t.Errorf("Safe(%q) = %q, true; want refused", c.in, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("Safe(%q) = %q, %v; want %q, true", c.in, got, ok, c.want)
		}
	}
}

func TestSafeRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, why string }{
		{"", "empty"},
		{"dashboard", "relative"},
		{"./dashboard", "relative"},
		{"?x=1", "query only"},
		{"#x", "fragment only"},
		{"https://evil.example", "absolute URL"},
		{"https:/evil.example", "scheme with one slash"},
		{"https:evil.example", "scheme without slashes"},
		{"HTTPS://evil.example", "absolute URL"},
		{"javascript:alert(1)", "javascript URL"},
		{"data:text/html,<script>", "data URL"},
		{"//evil.example", "scheme-relative"},
		{"//evil.example/path", "scheme-relative"},
		{"///evil.example", "triple slash"},
		{"////evil.example", "many slashes"},
		{"/\\evil.example", "slash backslash"},
		{"\\\\evil.example", "two backslashes"},
		{"\\/evil.example", "backslash slash"},
		{"/\\/evil.example", "slash backslash slash"},
		{"/a\\b", "backslash in path"},
		{"/a?b=\\", "backslash in query"},
		{"/a#\\", "backslash in fragment"},
		{" /evil", "leading space"},
		{"\t//evil.example", "leading tab"},
		// browsers drop tab, CR and LF anywhere in a URL
		{"/\t/evil.example", "tab makes //"},
		{"/\n/evil.example", "newline makes //"},
		{"/\r/evil.example", "CR makes //"},
		{"/\r\nSet-Cookie: x=y", "header injection"},
		{"/a?q=\n", "newline in query"},
		{"/a#\t", "tab in fragment"},
		{"/evil\x00", "NUL"},
		{"/evil\x7f", "DEL"},
		{"/evil\x1b[31m", "escape"},
		// encoded slashes, backslashes and controls in the path
		{"/%2f%2fevil.example", "encoded //"},
		{"/%2F%2Fevil.example", "encoded //"},
		{"/%2F/evil.example", "encoded /"},
		{"/%2fevil.example", "encoded /"},
		{"/%5cevil.example", "encoded backslash"},
		{"/%5C%5Cevil.example", "encoded backslashes"},
		{"/files/a%2fb", "encoded slash inside the path"},
		{"/%09/evil.example", "encoded tab"},
		{"/%0d%0aSet-Cookie:x=y", "encoded CRLF in path"},
		{"/%00", "encoded NUL"},
		{"/a%7f", "encoded DEL"},
		// dot and empty segments
		{"/..//evil.example", "dot-dot then //: resolves to //evil.example"},
		{"/a/../..//evil.example", "dot-dot"},
		{"/./evil", "dot"},
		{"/%2e%2e/evil", "encoded dot-dot"},
		{"/.%2E/evil", "half-encoded dot-dot"},
		{"/..;/evil", "Tomcat dot-dot"},
		{"/a//b", "empty segment"},
		{"/https://evil.example", "empty segment"},
		{"/%252f%252fevil", "double encoding"},
		// invalid encodings
		{"/%zz", "invalid escape"},
		{"/a%", "truncated escape"},
		{"/a?b=%zz", "invalid escape in query"},
		{"/a#%z", "invalid escape in fragment"},
		{"/\xff", "invalid UTF-8"},
		{"/%ff", "invalid UTF-8 encoded"},
		{"/%c0%af", "overlong slash"},
		// Unicode look-alikes that normalise (NFKC) into structure
		{"/\uff0fevil.example", "FULLWIDTH SOLIDUS: //"},
		{"/%EF%BC%8Fevil.example", "encoded FULLWIDTH SOLIDUS"},
		{"/\uff3cevil.example", "FULLWIDTH REVERSE SOLIDUS: /\\"},
		{"/a\uff3cb", "FULLWIDTH REVERSE SOLIDUS inside"},
		{"/\u2025/evil", "TWO DOT LEADER: .."},
		{"/\uff0e\uff0e/evil", "FULLWIDTH FULL STOPs: .."},
		{"/\ufe6a2e\ufe6a2e/evil", "SMALL PERCENT SIGNs: %2e%2e"},
		{"/x/\ufe68evil", "SMALL REVERSE SOLIDUS"},
		{"/\u00a0/x", "NO-BREAK SPACE: NFKC makes it a segment that is a space"},
		// size
		{"/" + strings.Repeat("a", maxRedirectLength), "too long"},
	}
	for _, c := range cases {
		if got, ok := Safe(c.in); ok || got != "" {
			t.Errorf("Safe(%q) = %q, %v; want refused (%s)", c.in, got, ok, c.why)
		}
	}
	if _, ok := Safe("/" + strings.Repeat("a", maxRedirectLength-1)); !ok {
		t.Error("a target of exactly the maximum length is refused")
	}
}

func TestSafeDoesNotAllocateWhenClean(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = Safe("/app/deals/42") }); n > 1 {
		t.Errorf("%v allocations", n) // url.Parse allocates its *URL
	}
}

// FuzzSafe checks what every accepted target promises: ASCII, starts with one
// "/", stays on the host when resolved against it, and is accepted again unchanged.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "//x", "/\\x", "/%2f%2fx", "/\uff0fx", "/café", "/a b", "/..//x", "/\t/x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/start/here")
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := Safe(in)
		if !ok {
			if out != "" {
				t.Fatalf("%q refused with %q", in, out)
			}
			return
		}
		if out == "" || out[0] != '/' || len(out) > 1 && (out[1] == '/' || out[1] == '\\') {
			t.Fatalf("%q -> %q: not a same-site path", in, out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x21 || c >= 0x7f || c == '\\' {
				t.Fatalf("%q -> %q: byte %#x", in, out, c)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("%q -> %q: invalid UTF-8", in, out)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q -> %q: %v", in, out, err)
		}
		if r := base.ResolveReference(u); r.Host != "app.example" || r.Scheme != "https" || strings.HasPrefix(r.Path, "//") {
			t.Fatalf("%q -> %q resolves to %s", in, out, r)
		}
		if again, ok := Safe(out); !ok || again != out {
			t.Fatalf("%q -> %q -> %q, %v: not stable", in, out, again, ok)
		}
	})
}
