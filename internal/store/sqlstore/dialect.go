package sqlstore

import (
	"strconv"
	"strings"
	"sync"
)

// dialect is the SQL flavour of the connected database.
type dialect int

const (
	sqliteDialect dialect = iota + 1
	postgresDialect
)

func (d dialect) String() string {
	switch d {
	case sqliteDialect:
		return "sqlite"
	case postgresDialect:
		return "postgres"
	}
	return "unknown"
}

// schemaTypes maps the placeholders used in migrations to each dialect's spelling, so
// the schema is written once. SQLite tables are STRICT (column types are enforced, as
// in PostgreSQL), which only admits INTEGER, not BIGINT. Key columns compared or sorted
// as text use the "C" collation on PostgreSQL so that uniqueness and ORDER BY are
// byte-wise, as SQLite's default BINARY collation is; otherwise the order of
// ListUsers/ListTenants would depend on the server's locale. Flags are BOOLEAN on
// PostgreSQL and INTEGER 0/1 on SQLite (STRICT has no BOOLEAN); both drivers bind a Go
// bool to either, and database/sql scans 0/1 into a bool. Floats are 8-byte IEEE
// doubles on both. An {{autoid}} column is a 64-bit key the database assigns in
// increasing order and never reuses (SQLite's AUTOINCREMENT, PostgreSQL's identity).
var schemaTypes = map[dialect]*strings.Replacer{
	sqliteDialect: strings.NewReplacer(
		"{{int64}}", "INTEGER",
		"{{bytes}}", "BLOB",
		"{{keytext}}", "TEXT",
		"{{strict}}", "STRICT",
		"{{bool}}", "INTEGER",
		"{{float64}}", "REAL",
		"{{autoid}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
	),
	postgresDialect: strings.NewReplacer(
		"{{int64}}", "BIGINT",
		"{{bytes}}", "BYTEA",
		"{{keytext}}", `TEXT COLLATE "C"`,
		"{{strict}}", "",
		"{{bool}}", "BOOLEAN",
		"{{float64}}", "DOUBLE PRECISION",
		"{{autoid}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
	),
}

// rebinder rewrites '?' placeholders to PostgreSQL's '$1, $2, ...'. Results are cached
// because the same few dozen query strings are rebound on every request.
type rebinder struct {
	d     dialect
	cache sync.Map // string -> string
}

func (r *rebinder) q(query string) string {
	if r.d != postgresDialect {
		return query
	}
	if v, ok := r.cache.Load(query); ok {
		return v.(string)
	}
	out := rebind(query)
	r.cache.Store(query, out)
	return out
}

// rebind numbers every '?' in order. The queries in this package never contain a '?'
// inside a string literal, so no quoting rules are needed.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
