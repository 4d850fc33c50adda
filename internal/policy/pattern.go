package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A path pattern is a sequence of "/"-separated segments, matched against the
// decoded path segment by segment:
//
//	/health            exactly /health
//	/docs/             exactly /docs/ (a trailing slash is significant; see the package doc)
//	/                  exactly /
//	/public/*          /public, /public/ and everything below; not /publicity
//	/*                 every path
//	/api/deals/{id}    /api/deals/ followed by exactly one non-empty segment, captured as id
//	/t/{team}/files/*  parameters and a trailing "/*" combine
//
// Literal segments are compared byte for byte with the decoded path, so they are
// written decoded ("/café", not "/caf%C3%A9").
type pattern struct {
	raw    string
	segs   []segment // without the trailing "*" of a prefix pattern
	prefix bool      // the pattern ends with "/*"
	params []param
}

type segment struct {
	lit   string // the literal; "" for a parameter (and for the trailing "" of "/docs/")
	param bool
}

// param is a named parameter and the index of the path segment it captures.
type param struct {
	name string
	seg  int
}

// parsePattern parses and checks a path pattern. Errors do not repeat the pattern;
// Compile adds it.
func parsePattern(s string) (pattern, error) {
	pat := pattern{raw: s}
	if s == "" || s[0] != '/' {
		return pat, errors.New(`must start with "/"`)
	}
	if !utf8.ValidString(s) {
		return pat, errors.New("is not valid UTF-8")
	}
	parts := strings.Split(s[1:], "/")
	if parts[len(parts)-1] == "*" {
		pat.prefix = true
		parts = parts[:len(parts)-1]
	}
	for i, part := range parts {
		last := i == len(parts)-1
		switch {
		case part == "":
			// "/" itself and a trailing slash ("/docs/") are an empty last literal. A
			// prefix pattern needs no trailing slash: "/docs/*" already matches "/docs/".
			if !last || pat.prefix {
				return pat, errors.New(`has an empty segment ("//")`)
			}
			pat.segs = append(pat.segs, segment{})
		case part[0] == '{':
			name, ok := strings.CutPrefix(part, "{")
			name, ok2 := strings.CutSuffix(name, "}")
			if !ok || !ok2 || !validParamName(name) {
				return pat, fmt.Errorf("has an invalid parameter %q (want {name}: a letter or _, then letters, digits or _)", part)
			}
			for _, p := range pat.params {
				if p.name == name {
					return pat, fmt.Errorf("repeats the parameter {%s}", name)
				}
			}
			pat.params = append(pat.params, param{name: name, seg: len(pat.segs)})
			pat.segs = append(pat.segs, segment{param: true})
		default:
			if err := checkLiteral(part); err != nil {
				return pat, err
			}
			pat.segs = append(pat.segs, segment{lit: part})
		}
	}
	return pat, nil
}

func checkLiteral(part string) error {
	if strings.ContainsAny(part, "*") {
		return fmt.Errorf(`has %q: "*" is only allowed as the whole last segment ("/prefix/*")`, part)
	}
	if strings.ContainsAny(part, "{}") {
		return fmt.Errorf("has %q: a parameter must be a whole segment ({name})", part)
	}
	if strings.ContainsAny(part, "?#") {
		return fmt.Errorf("has %q: a path pattern has no query or fragment", part)
	}
	if strings.ContainsRune(part, '%') {
		return fmt.Errorf("has %q: patterns match the decoded path, so write characters, not %%XX escapes", part)
	}
	if strings.ContainsRune(part, '\\') {
		return fmt.Errorf("has %q: backslashes never reach the policy", part)
	}
	for _, r := range part {
		if unicode.IsControl(r) {
			return fmt.Errorf("has %q: control characters never reach the policy", part)
		}
	}
	dots := part
	if i := strings.IndexByte(part, ';'); i >= 0 {
		dots = part[:i]
	}
	if dots == "" || dots == "." || dots == ".." {
		return fmt.Errorf("has %q: dot and empty segments never reach the policy", part)
	}
	return nil
}

func validParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// foldRune maps r to the form that case-insensitive matching compares: the lower case
// of its upper case. Beyond ASCII this folds "ſ" to "s", "ı" to "i" and the Kelvin
// sign to "k", as upper-casing comparisons on some platforms do.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// needsFold reports whether folding may change s: it has an upper-case ASCII letter
// or any non-ASCII byte.
func needsFold(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// appendFold appends the folded form of s to dst.
func appendFold(dst []byte, s string) []byte {
	for _, r := range s {
		dst = utf8.AppendRune(dst, foldRune(r))
	}
	return dst
}

// foldString returns the folded form of s.
func foldString(s string) string {
	if !needsFold(s) {
		return s
	}
	return string(appendFold(make([]byte, 0, len(s)), s))
}
