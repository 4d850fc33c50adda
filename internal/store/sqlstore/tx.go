package sqlstore

import (
	"context"
	"database/sql"
)

// inTx runs fn in a transaction and commits it, rolling back if fn fails. On SQLite
// the transaction begins IMMEDIATE (see sqliteParams): it takes the write lock at
// BEGIN, so concurrent writers queue instead of failing on lock upgrade.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer s.lockWrites()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error from fn is the one worth reporting
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

// exec runs one writing statement outside a transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer s.lockWrites()()
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	return res, mapErr(err)
}

// execRow runs one writing statement that returns a row (UPDATE ... RETURNING) and
// scans it into dest; no row is ErrNotFound. writeMu is held until the row is read,
// which is when the statement finishes.
func (s *Store) execRow(ctx context.Context, query string, args []any, dest ...any) error {
	defer s.lockWrites()()
	return mapErr(s.db.QueryRowContext(ctx, s.q(query), args...).Scan(dest...))
}

// lockWrites takes writeMu on SQLite and returns its unlock.
func (s *Store) lockWrites() (unlock func()) {
	if s.dialect != sqliteDialect {
		return func() {}
	}
	s.writeMu.Lock()
	return s.writeMu.Unlock
}

// affectedOne reports whether a statement changed exactly one row.
// oneRow turns the result of a statement meant to change exactly one row into an
// error: the statement's own (mapped), or none when it changed no row.
func oneRow(res sql.Result, err error, none error) error {
	if err != nil {
		return mapErr(err)
	}
	one, err := affectedOne(res)
	if err != nil {
		return mapErr(err)
	}
	if !one {
		return none
	}
	return nil
}

func affectedOne(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
