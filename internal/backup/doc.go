// Package backup schedules copies of the embedded SQLite store (SPEC §10): a Job,
// run by every gateway instance, takes a lease in the store so that one instance
// at a time looks, writes a timestamped copy into a directory when the newest one
// there is older than the interval, and deletes the copies older than the retention
// (never the newest one, so that a run of failures cannot leave no backup at all).
//
// The copy itself is the store's (sqlstore.Store.Backup: VACUUM INTO, online); so is
// putting one back (sqlstore.Restore), which the `gatehouse restore` command calls.
// PostgreSQL is backed up with its own tools (pg_dump, point-in-time recovery).
package backup
