package store

import (
	"strings"
	"unicode/utf8"
)

// CleanText is s as every backend stores free-form text (user agents, audit fields):
// valid UTF-8 without NUL bytes, anything else replaced by U+FFFD. PostgreSQL's TEXT
// refuses invalid UTF-8 and NUL, which a client can put in a header at will, and a
// record must never be lost for that. It is idempotent; a value that is already clean
// comes back unchanged. Code that digests text before storing it (the audit trail's
// personal-field digest) cleans it first, so the digest covers exactly what is stored.
func CleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
