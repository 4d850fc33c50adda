package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// recoveryStore is one tenant's recovery codes, kept by hash.
type recoveryStore handle

// ReplaceRecoveryCodes swaps the user's codes in one transaction: the earlier removed
// set is deleted, the live set marked removed, the new one inserted. On PostgreSQL it
// first locks the user's row, so two concurrent replacements run one after the other
// and the second leaves only its own codes (without the lock, each DELETE would miss
// the other's uncommitted inserts and both sets would survive); SQLite's BEGIN
// IMMEDIATE already serialises them. The lock is FOR NO KEY UPDATE, which does not
// block inserts elsewhere that merely reference the user. The user must exist
// (ErrNotFound); a hash listed twice is ErrConflict and changes nothing.
func (rs recoveryStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	removed, err := requiredTime("recovery codes replacement time", at)
	if err != nil {
		return err
	}
	s := rs.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := rs.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		if err := rs.removeLive(ctx, tx, userID, removed); err != nil {
			return err
		}
		created := timeArg(at)
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at, used_at)
				VALUES (?, ?, ?, ?, NULL)`), rs.tenantID, userID, h, created); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseRecoveryCode marks the code used with one conditional UPDATE (of concurrent users
// of one code exactly one changes the row; PostgreSQL re-checks "used_at IS NULL"
// after waiting for the winner) and counts what is left in the same transaction.
func (rs recoveryStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (int, error) {
	used, err := requiredTime("recovery code use time", at)
	if err != nil {
		return 0, err
	}
	s := rs.s
	var remaining int
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE recovery_codes SET used_at = ?
			WHERE tenant_id = ? AND user_id = ? AND code_hash = ? AND used_at IS NULL AND deleted_at IS NULL`),
			used, rs.tenantID, userID, hash)
		if err := oneRowOrNotFound(res, err); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes
			WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL AND deleted_at IS NULL`), rs.tenantID, userID).Scan(&remaining)
	})
	if err != nil {
		return 0, err
	}
	return remaining, nil
}

func (rs recoveryStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	s := rs.s
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes
		WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL AND deleted_at IS NULL`), rs.tenantID, userID).Scan(&n)
	return n, mapErr(err)
}

// DeleteRecoveryCodes marks the live set removed (deleting the earlier removed set),
// under the same user lock as ReplaceRecoveryCodes. Without live codes it changes
// nothing, so that a second reset does not throw away the set the first one kept.
func (rs recoveryStore) DeleteRecoveryCodes(ctx context.Context, userID string, at time.Time) error {
	removed, err := requiredTime("recovery codes removal time", at)
	if err != nil {
		return err
	}
	s := rs.s
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := rs.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		return rs.removeLive(ctx, tx, userID, removed)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // no such user: no codes (idempotent, as before)
	}
	return err
}

// lockUser makes sure the user exists and, on PostgreSQL, locks their row, so that
// concurrent changes of their set run one after the other (without the lock, each
// statement would miss the other's uncommitted rows and two sets could survive);
// SQLite's BEGIN IMMEDIATE already serialises them. FOR NO KEY UPDATE does not block
// inserts elsewhere that merely reference the user.
func (rs recoveryStore) lockUser(ctx context.Context, tx *sql.Tx, userID string) error {
	s := rs.s
	lock := `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`
	if s.dialect == postgresDialect {
		lock += ` FOR NO KEY UPDATE`
	}
	var exists int
	return tx.QueryRowContext(ctx, s.q(lock), rs.tenantID, userID).Scan(&exists)
}

// removeLive marks the user's live codes removed at removed; when there are any, the
// set removed earlier is deleted first, so at most one removed set remains, the most
// recent (an older one could otherwise come back with a restore).
func (rs recoveryStore) removeLive(ctx context.Context, tx *sql.Tx, userID string, removed int64) error {
	s := rs.s
	var live int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NULL`), rs.tenantID, userID).Scan(&live); err != nil {
		return err
	}
	if live == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recovery_codes
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NOT NULL`), rs.tenantID, userID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`UPDATE recovery_codes SET deleted_at = ?
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NULL`), removed, rs.tenantID, userID)
	return err
}

// RemovedRecoveryCodes counts the removed set's unused codes and tells whether a live
// set supersedes it, in one query.
func (rs recoveryStore) RemovedRecoveryCodes(ctx context.Context, userID string) (store.RemovedCodeSet, error) {
	s := rs.s
	var set store.RemovedCodeSet
	var n, live int
	var unused, removed sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT
			COUNT(CASE WHEN deleted_at IS NOT NULL THEN 1 END),
			SUM(CASE WHEN deleted_at IS NOT NULL AND used_at IS NULL THEN 1 ELSE 0 END),
			MAX(deleted_at),
			COUNT(CASE WHEN deleted_at IS NULL THEN 1 END)
		FROM recovery_codes WHERE tenant_id = ? AND user_id = ?`), rs.tenantID, userID).Scan(&n, &unused, &removed, &live)
	if err != nil {
		return set, mapErr(err)
	}
	if n == 0 {
		return set, store.ErrNotFound
	}
	set.Unused, set.DeletedAt, set.Superseded = int(unused.Int64), timeOf(removed), live > 0
	return set, nil
}

// RestoreRecoveryCodes brings the removed set back in one transaction, under the
// user lock: refused (ErrConflict) while a live set exists.
func (rs recoveryStore) RestoreRecoveryCodes(ctx context.Context, userID string, since time.Time) error {
	from, err := requiredTime("restore window start", since)
	if err != nil {
		return err
	}
	s := rs.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := rs.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		var live int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes
			WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NULL`), rs.tenantID, userID).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return store.ErrConflict
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE recovery_codes SET deleted_at = NULL
			WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NOT NULL AND deleted_at >= ?`), rs.tenantID, userID, from)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return store.ErrNotFound
		}
		return err
	})
}

// PurgeRemovedRecoveryCodes deletes the tenant's codes removed before before.
func (rs recoveryStore) PurgeRemovedRecoveryCodes(ctx context.Context, before time.Time) (int64, error) {
	return rs.s.purgeRemoved(ctx, "recovery_codes", rs.tenantID, before)
}

// Interface guards
var _ store.RecoveryCodeStore = recoveryStore{}
