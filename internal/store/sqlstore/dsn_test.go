package sqlstore

import (
	"slices"
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	cases := []struct {
		dsn      string
		dialect  dialect
		path     string // driver DSN up to '?'
		memory   bool
		wantFail bool
	}{
		{dsn: "sqlite:///var/lib/gatehouse/g.db", dialect: sqliteDialect, path: "/var/lib/gatehouse/g.db"},
		{dsn: "sqlite://data/g.db", dialect: sqliteDialect, path: "data/g.db"},
		{dsn: "sqlite:data/g.db", dialect: sqliteDialect, path: "data/g.db"},
		{dsn: "sqlite::memory:", dialect: sqliteDialect, path: ":memory:", memory: true},
		{dsn: "postgres://u@h/db?sslmode=require", dialect: postgresDialect, path: "postgres://u@h/db"},
		{dsn: "postgresql://u@h/db", dialect: postgresDialect, path: "postgresql://u@h/db"},
		{dsn: "sqlite:", wantFail: true},
		{dsn: "sqlite:///g.db?_pragma=foreign_keys(0)", wantFail: true},
		{dsn: "sqlite:file:g.db", wantFail: true},
		{dsn: "mysql://u@h/db", wantFail: true},
		{dsn: "/var/lib/g.db", wantFail: true},
	}
	for _, c := range cases {
		d, driver, driverDSN, memory, err := parseDSN(c.dsn)
		if c.wantFail {
			if err == nil {
				t.Errorf("parseDSN(%q) accepted", c.dsn)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseDSN(%q): %v", c.dsn, err)
			continue
		}
		path, params, _ := strings.Cut(driverDSN, "?")
		if d != c.dialect || path != c.path || memory != c.memory {
			t.Errorf("parseDSN(%q) = %v %q memory=%v, want %v %q memory=%v", c.dsn, d, path, memory, c.dialect, c.path, c.memory)
		}
		if d == sqliteDialect {
			if driver != "sqlite" || !strings.Contains(params, "_txlock=immediate") || !strings.Contains(params, "foreign_keys") {
				t.Errorf("parseDSN(%q): driver %q params %q lack immediate transactions or foreign keys", c.dsn, driver, params)
			}
			if wal := strings.Contains(params, "WAL"); wal == memory {
				t.Errorf("parseDSN(%q): WAL=%v for memory=%v", c.dsn, wal, memory)
			}
		}
	}
}

func TestRebind(t *testing.T) {
	got := rebind("SELECT a FROM t WHERE x = ? AND y IN (?, ?)")
	if want := "SELECT a FROM t WHERE x = $1 AND y IN ($2, $3)"; got != want {
		t.Fatalf("rebind = %q, want %q", got, want)
	}
	r := rebinder{d: sqliteDialect}
	if q := "SELECT ?"; r.q(q) != q {
		t.Fatalf("SQLite query rewritten: %q", r.q(q))
	}
}

// TestMigrationSets: both dialects must have the same migration versions, so that a
// schema version means the same thing on either.
func TestMigrationSets(t *testing.T) {
	versions := func(d dialect) []int64 {
		ms, err := migrations(d)
		if err != nil {
			t.Fatalf("migrations(%v): %v", d, err)
		}
		var out []int64
		for _, m := range ms {
			if strings.Contains(m.sql, "{{") {
				t.Errorf("migration %d for %v has an unsubstituted placeholder", m.version, d)
			}
			out = append(out, m.version)
		}
		return out
	}
	lite, pg := versions(sqliteDialect), versions(postgresDialect)
	if len(lite) == 0 || !slices.Equal(lite, pg) {
		t.Fatalf("migration versions differ: sqlite %v, postgres %v", lite, pg)
	}
}
