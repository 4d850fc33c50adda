package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// DefaultForeignHeaders are the names stripped by default besides Gatehouse's own
// (SPEC §7): headers that apps behind other proxies (oauth2-proxy, Apache, IIS, Symfony,
// Laravel, Grafana's auth proxy, …) commonly trust as "the proxy already authenticated
// this user" or as "the URL the client really asked for". An app that trusts one of them
// would take a client's forged copy at face value, because Gatehouse does not set them.
// Treat the slice as read-only: NewStripper reads it on every call.
var DefaultForeignHeaders = []string{
	"X-Forwarded-User",
	"X-Forwarded-Email",
	"X-Forwarded-Preferred-Username",
	"X-Remote-User",
	"X-Auth-Request-User",
	"X-Auth-Request-Email",
	"X-Original-URL",
	"X-Rewrite-URL",
}

// Stripper removes identity headers a client must not be able to send upstream:
// Gatehouse's own names (see IsIdentityHeader) always, plus a configured set of foreign
// names. It is immutable once built and safe for concurrent use.
//
// A nil or zero Stripper behaves like DefaultStripper, so a missing configuration
// fails towards stripping more, never less.
type Stripper struct {
	// byLen holds the foreign names, lowercase and '-'-spelled, bucketed by length: a
	// header key is only compared with names of its own length, so a browser's dozen
	// headers usually cost one bounds check and a first-byte mismatch each.
	byLen [][]string
	// built is set by NewStripper; it tells "strips only Gatehouse's own names" (a built
	// Stripper with no foreign names) apart from the zero value, which means default.
	built bool
}

var (
	// defaultStripper is shared: a Stripper is read-only.
	defaultStripper = mustStripper(nil, nil)
	// ownOnly strips Gatehouse's own names and nothing else (StripIdentityHeaders).
	ownOnly = &Stripper{built: true}
)

// DefaultStripper returns the Stripper for a site that configures nothing: Gatehouse's
// own names and DefaultForeignHeaders (as DefaultForeignHeaders was at program start).
func DefaultStripper() *Stripper { return defaultStripper }

func mustStripper(extra, keep []string) *Stripper {
	s, err := NewStripper(extra, keep)
	if err != nil {
		panic(err)
	}
	return s
}

// NewStripper builds a Stripper for Gatehouse's own names (always: they cannot be
// kept), DefaultForeignHeaders minus keep, plus extra. Names are matched in every
// spelling (ASCII case, '_' for '-'), so "x_forwarded_user" in keep or extra means
// X-Forwarded-User. An extra name that is already stripped is accepted and ignored.
//
// keep exists for the site whose upstream legitimately receives one of the defaults
// from a header_up or another trusted hop; it is limited to DefaultForeignHeaders so a
// typo cannot silently keep nothing while the operator believes something is kept.
// Every problem is reported at once, each naming the offending value.
func NewStripper(extra, keep []string) (*Stripper, error) {
	var errs []error
	kept := make(map[string]bool, len(keep))
	for _, name := range keep {
		switch f := fold(name); {
		case !validHeaderName(name):
			errs = append(errs, fmt.Errorf("keep header %q: not a valid HTTP header name", name))
		case IsIdentityHeader(name):
			errs = append(errs, fmt.Errorf("keep header %q: Gatehouse's own identity headers are always stripped", name))
		case !containsFolded(DefaultForeignHeaders, f):
			errs = append(errs, fmt.Errorf("keep header %q: not one of the headers stripped by default (%s)",
				name, strings.Join(DefaultForeignHeaders, ", ")))
		default:
			kept[f] = true
		}
	}
	var names []string
	add := func(f string) {
		if !containsFolded(names, f) {
			names = append(names, f)
		}
	}
	for _, name := range DefaultForeignHeaders {
		if f := fold(name); !kept[f] {
			add(f)
		}
	}
	for _, name := range extra {
		switch f := fold(name); {
		case !validHeaderName(name):
			errs = append(errs, fmt.Errorf("strip header %q: not a valid HTTP header name", name))
		case kept[f]:
			errs = append(errs, fmt.Errorf("header %q is both stripped and kept", name))
		case IsIdentityHeader(name):
			// Always stripped already.
		default:
			add(f)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Stripper{built: true}
	for _, f := range names {
		for len(s.byLen) <= len(f) {
			s.byLen = append(s.byLen, nil)
		}
		s.byLen[len(f)] = append(s.byLen[len(f)], f)
	}
	return s, nil
}

// StripIdentityHeaders removes every one of Gatehouse's own identity headers the client
// sent, in every spelling and all duplicates, and removes from Connection any token
// naming one. It does not remove DefaultForeignHeaders; a request path uses a Stripper.
// It returns how many headers were removed (a rewritten Connection counts as one).
func StripIdentityHeaders(h http.Header) int { return ownOnly.Strip(h) }

// Strips reports whether Strip would remove a header with this name. It does not
// allocate.
func (s *Stripper) Strips(name string) bool {
	if IsIdentityHeader(name) {
		return true
	}
	if s == nil || !s.built {
		s = defaultStripper
	}
	if len(name) >= len(s.byLen) {
		return false
	}
	for _, f := range s.byLen[len(name)] {
		if foldEqual(name, f) {
			return true
		}
	}
	return false
}

// Strip removes every header s strips, in every spelling (ASCII case, '_' for '-': many
// servers and frameworks fold both, so "x_forwarded_user" reaches the app as
// X-Forwarded-User) and all duplicates. It also removes from Connection any token naming
// a stripped header: a proxy deletes the headers Connection names, which would let a
// client delete a header that Gatehouse, or a header_up after it, sets for the
// upstream. It returns how many headers were removed (a rewritten Connection counts as
// one) and does not allocate when there is nothing to remove.
func (s *Stripper) Strip(h http.Header) int {
	n := 0
	for k := range h {
		if s.Strips(k) {
			delete(h, k)
			n++
		}
	}
	if conn, ok := h["Connection"]; ok {
		if cleaned, changed := s.cleanConnection(conn); changed {
			n++
			if len(cleaned) == 0 {
				delete(h, "Connection")
			} else {
				h["Connection"] = cleaned
			}
		}
	}
	return n
}

// cleanConnection drops the tokens naming stripped headers from Connection values. The
// common case (keep-alive, nothing to drop) returns the values unchanged without
// allocating.
func (s *Stripper) cleanConnection(values []string) ([]string, bool) {
	bad := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if s.Strips(strings.TrimSpace(tok)) {
				bad = true
			}
		}
	}
	if !bad {
		return values, false
	}
	var keep []string
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !s.Strips(tok) {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		return nil, true
	}
	return []string{strings.Join(keep, ", ")}, true
}

// fold spells a header name the way foldEqual compares it: ASCII lowercase, '-' for '_'.
func fold(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		} else if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// containsFolded reports whether any of names, folded, equals f (which is folded).
func containsFolded(names []string, f string) bool {
	for _, n := range names {
		if fold(n) == f {
			return true
		}
	}
	return false
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 §5.1): a name that is
// not one can never arrive as a header key, so configuring it is a mistake, not a rule.
// (Written here rather than importing x/net's httpguts, which the module only has
// indirectly.)
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
