package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are embedded SQL files named NNNN_description.sql (both dialects, with
// placeholders) or NNNN_description.<dialect>.sql (one dialect only; each dialect must
// then have its own file with the same number; a test checks). They are applied in order, each once,
// and recorded in schema_migrations. Never edit a released migration: add a new one.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the PostgreSQL advisory lock (one bigint key) that serialises
// migrations when several gateway instances start at once. It spells "gh-migr".
const migrationLockKey int64 = 0x67682d6d69677200

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the migrations for d in version order.
func migrations(d dialect) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok {
			continue
		}
		if stem, only, found := strings.Cut(base, "."); found {
			if only != d.String() {
				continue
			}
			base = stem
		}
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_description[.dialect].sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		text := schemaTypes[d].Replace(string(body))
		if i := strings.Index(text, "{{"); i >= 0 {
			end := min(len(text), i+20)
			return nil, fmt.Errorf("migration file %q: unknown placeholder at %q", e.Name(), text[i:end])
		}
		out = append(out, migration{version: version, name: name, sql: text})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migration version %d defined twice", out[i].version)
		}
	}
	return out, nil
}

// migrate brings the schema up to date (up to version upTo) in one transaction:
// either every pending migration is applied or none is. PostgreSQL takes a
// transaction-scoped advisory lock first so that concurrent starters apply each
// migration once (the second waits, then finds nothing to do); SQLite's BEGIN
// IMMEDIATE does the same job.
func (s *Store) migrate(ctx context.Context, upTo int64) error {
	all, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == postgresDialect {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
				return fmt.Errorf("taking migration lock: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, schemaTypes[s.dialect].Replace(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    {{int64}} PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at {{int64}} NOT NULL
		) {{strict}}`))
		if err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		applied, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		known := make(map[int64]bool, len(all))
		for _, m := range all {
			known[m.version] = true
		}
		for v := range applied {
			if !known[v] {
				// A newer binary has migrated this database; running old code on a
				// schema it does not know could corrupt data, so refuse to start.
				return fmt.Errorf("database has schema version %d, unknown to this build; upgrade Gatehouse", v)
			}
		}
		for _, m := range all {
			if applied[m.version] || m.version > upTo {
				continue
			}
			// No arguments: both drivers then run the whole multi-statement file
			// (pgx uses the simple protocol), dollar-quoted function bodies included.
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("applying migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("recording migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}
