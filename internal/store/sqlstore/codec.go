package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Times are stored as Unix nanoseconds: exact, identical on both backends, and
// comparable with plain integer operators (expiry checks, "never move backward").
// The zero time.Time has no Unix-nanosecond value, so it is stored as NULL.
func timeArg(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// timeOf reverses timeArg; times come back in UTC.
func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// requiredTime refuses the zero time for NOT NULL columns such as expiries: a session
// or token without an expiry is a caller bug, and failing loudly beats living forever.
func requiredTime(what string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, fmt.Errorf("sqlstore: %s is required", what)
	}
	return t.UnixNano(), nil
}

// bytesArg keeps a nil byte slice from being stored as NULL (both drivers bind nil
// []byte as NULL) in NOT NULL columns where empty is a legitimate value.
func bytesArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// listArg encodes a string list as a JSON array ("[]" when empty).
func listArg(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list) // a []string always marshals
	return string(b)
}

// listOf decodes listArg's encoding; an empty list comes back nil.
func listOf(column, text string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return nil, fmt.Errorf("sqlstore: decoding %s: %w", column, err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// mapArg encodes audit details as a JSON object ("{}" when empty); encoding/json sorts
// the keys, so equal maps give equal text.
func mapArg(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

// mapOf decodes mapArg's encoding; an empty map comes back nil.
func mapOf(column, text string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("sqlstore: decoding %s: %w", column, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// cleanText makes free-form request data (user agents, audit details) storable on
// both backends (store.CleanText: valid UTF-8 without NUL). SQLite would keep the
// bytes, so cleaning here also keeps the backends identical.
func cleanText(s string) string { return store.CleanText(s) }
