// Package sqlstore implements store.Store on SQL: SQLite (modernc.org/sqlite, pure Go)
// for the zero-set-up default and PostgreSQL (jackc/pgx/v5) for shared deployments.
//
// Both backends share one code path: queries are written once with '?' placeholders
// and rewritten to '$n' for PostgreSQL, and one logical schema lives in the embedded
// migrations (see migrate.go), with the few dialect differences substituted in.
//
// DSNs accepted by Open:
//
//	sqlite:///var/lib/gatehouse/gatehouse.db   absolute path
//	sqlite:data/gatehouse.db                   path relative to the working directory
//	sqlite::memory:                            private in-memory database (tests, demos)
//	postgres://user:pass@host:5432/db?sslmode=verify-full
//	postgresql://...                           the same; any pgx/libpq URL parameter works,
//	                                           e.g. search_path=... to pick a schema
//
// SQLite runs in WAL mode with foreign keys on, a busy timeout, and BEGIN IMMEDIATE for
// every transaction, so that write transactions queue for the lock up front instead of
// deadlocking when two readers both try to upgrade to writers.
//
// Times are stored as int64 Unix nanoseconds (UTC) on both backends so that round trips
// are exact and identical; the zero time.Time is stored as NULL (except in the mail
// outbox, whose ordering columns store it as the smallest int64; see outbox.go).
//
// Store.Outbox returns the durable mail outbox (a notify.Outbox). Besides the tenant
// registry, it and the token-signing keys (Store.SigningKeys, shared by every tenant)
// are the data not reached through a tenant handle: a single worker drains every
// tenant's mail, and each message names its tenant. (Maintenance's leases and purges
// also span tenants.)
//
// A SQLite file store can be copied online (Store.Backup, VACUUM INTO) and a copy put
// back (Restore) once no process has the store open: every open store holds a shared
// flock on <file>.lock, which Restore takes exclusively (lock.go). PostgreSQL is
// backed up with its own tools.
//
// Tenant data is reached only through the handle returned by Store.Tenant; the handle
// keeps the tenant id private and passes it as the first argument of every statement.
package sqlstore
