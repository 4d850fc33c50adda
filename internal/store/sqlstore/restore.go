package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotABackup: the file given to Restore is not an intact Gatehouse SQLite database.
var ErrNotABackup = errors.New("not a Gatehouse backup")

// Restored says what Restore did.
type Restored struct {
	// File is the database file that now holds the backup.
	File string
	// Aside is where the database it replaced was moved (its -wal file, if it had
	// one, beside it with the same suffix); "" when there was none.
	Aside string
	// Version is the schema version of the backup (the gateway migrates it further
	// when it opens a backup made by an older build).
	Version int64
}

// Restore puts the SQLite backup from (a file Backup wrote) in place of the SQLite
// store named by dsn. It refuses, changing nothing:
//   - a DSN that is not a SQLite file (PostgreSQL is restored with its own tools);
//   - a file that is not an intact Gatehouse database (ErrNotABackup): it must open as
//     SQLite, pass PRAGMA integrity_check and have the migrations table, with no
//     schema version this build does not know;
//   - a store that any process has open (ErrStoreInUse; see lock.go).
//
// The check runs on a private copy, made beside the store, which is then renamed over
// the database file while the in-use lock is held exclusively, so no gateway can open
// the store half-restored. The database it replaces is kept aside as
// <file>.before-restore-<UTC time>, with its -wal file (which may hold its latest
// commits); now names that time.
func Restore(ctx context.Context, dsn, from string, now time.Time) (Restored, error) {
	d, _, driverDSN, memory, err := parseDSN(dsn)
	if err != nil {
		return Restored{}, err
	}
	file := sqliteFile(driverDSN, d, memory)
	if file == "" {
		return Restored{}, errors.New("restore: the store is not a SQLite file: " + ErrBackupUnsupported.Error())
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return Restored{}, fmt.Errorf("restore: creating the store's directory: %w", err)
	}
	tmp, err := copyBeside(from, file)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: copying %s: %w", from, err)
	}
	defer removeDB(tmp) // a no-op once it is renamed into place
	version, err := checkBackup(ctx, tmp)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %s: %w", from, err)
	}
	lock, err := takeExclusive(file)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	defer lock.Close()
	r := Restored{File: file, Version: version}
	if _, err := os.Lstat(file); err == nil {
		r.Aside = file + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(file, r.Aside); err != nil {
			return Restored{}, fmt.Errorf("restore: moving the current database aside: %w", err)
		}
		if err := os.Rename(file+"-wal", r.Aside+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return r, fmt.Errorf("restore: moving the current database's WAL aside: %w", err)
		}
		os.Remove(file + "-shm") // the WAL index; rebuilt from the WAL
	} else if !errors.Is(err, os.ErrNotExist) {
		return Restored{}, fmt.Errorf("restore: reading %s: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return r, fmt.Errorf("restore: putting the backup in place: %w", err)
	}
	if err := syncDir(filepath.Dir(file)); err != nil {
		return r, fmt.Errorf("restore: syncing the store's directory: %w", err)
	}
	return r, nil
}

// copyBeside copies from into a new private (0600) file in the directory of file,
// synced, and returns its name.
func copyBeside(from, file string) (string, error) {
	in, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".restore-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), out.Close()
}

// checkBackup opens the SQLite file name on its own and checks that it is an intact
// Gatehouse database that this build can run; it returns the schema version.
func checkBackup(ctx context.Context, name string) (int64, error) {
	db, err := sql.Open("sqlite", name+"?_pragma=busy_timeout(1000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return 0, fmt.Errorf("%w: it does not open as a SQLite database: %w", ErrNotABackup, err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return 0, fmt.Errorf("%w: checking its integrity: %w", ErrNotABackup, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%w: checking its integrity: %w", ErrNotABackup, err)
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("%w: the SQLite integrity check failed: %s", ErrNotABackup, strings.Join(problems[:min(len(problems), 5)], "; "))
	}
	var version int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("%w: a SQLite database without Gatehouse's migrations table: %w", ErrNotABackup, err)
	}
	all, err := migrations(sqliteDialect)
	if err != nil {
		return 0, err
	}
	if version < 1 {
		return 0, fmt.Errorf("%w: its migrations table is empty", ErrNotABackup)
	}
	if latest := all[len(all)-1].version; version > latest {
		return 0, fmt.Errorf("%w for this build: its schema version %d is newer than this build's %d; restore it with the Gatehouse that made it", ErrNotABackup, version, latest)
	}
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil { // one self-contained file: no -wal to leave behind
		return 0, fmt.Errorf("checking the backup: %w", err)
	}
	return version, nil
}

// removeDB removes a SQLite file and its companions.
func removeDB(name string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(name + suffix)
	}
}
