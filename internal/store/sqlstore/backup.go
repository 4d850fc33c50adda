package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBackupUnsupported: the store is not an embedded SQLite file. A PostgreSQL
// database is backed up with PostgreSQL's own tools (pg_dump, or continuous archiving
// for point-in-time recovery).
var ErrBackupUnsupported = errors.New("backups copy the embedded SQLite store only; back PostgreSQL up with pg_dump or continuous archiving (point-in-time recovery)")

// CanBackup reports whether Backup works on this store (a SQLite store).
func (s *Store) CanBackup() bool { return s.dialect == sqliteDialect }

// Backup writes a consistent copy of the SQLite store to path, online: VACUUM INTO
// reads the database in one read transaction, which in WAL mode neither waits for
// nor blocks the writers, so the copy is the database as of one commit while the
// gateway goes on serving. The copy is written to a temporary file (0600) beside
// path, synced, and then linked to path, so path never holds a partial copy, and an
// existing path is an error, not overwritten. PostgreSQL is ErrBackupUnsupported.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	if !s.CanBackup() {
		return ErrBackupUnsupported
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("sqlstore: backing up to %s: %w", path, os.ErrExist)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // 0600; VACUUM INTO accepts an empty file
	if err != nil {
		return fmt.Errorf("sqlstore: creating the backup file: %w", err)
	}
	name := tmp.Name()
	tmp.Close()
	defer func() {
		os.Remove(name) // after the link, or after a failure
		os.Remove(name + "-journal")
	}()
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, name); err != nil {
		return fmt.Errorf("sqlstore: copying the database: %w", err)
	}
	if err := syncFile(name); err != nil {
		return fmt.Errorf("sqlstore: syncing the backup: %w", err)
	}
	if err := os.Link(name, path); err != nil {
		return fmt.Errorf("sqlstore: naming the backup: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sqlstore: syncing the backup directory: %w", err)
	}
	return nil
}

// syncFile makes the file's contents durable.
func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes renames and new names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
