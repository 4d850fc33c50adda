package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// recoveryStore is one tenant's recovery codes, kept by hash.
type recoveryStore handle

// ReplaceRecoveryCodes swaps the user's codes in one transaction. On PostgreSQL it
// first locks the user's row, so two concurrent replacements run one after the other
// and the second leaves only its own codes (without the lock, each DELETE would miss
// the other's uncommitted inserts and both sets would survive); SQLite's BEGIN
// IMMEDIATE already serialises them. The lock is FOR NO KEY UPDATE, which does not
// block inserts elsewhere that merely reference the user. The user must exist
// (ErrNotFound); a hash listed twice is ErrConflict and changes nothing.
func (rs recoveryStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	s := rs.s
	lock := `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`
	if s.dialect == postgresDialect {
		lock += ` FOR NO KEY UPDATE`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, s.q(lock), rs.tenantID, userID).Scan(&exists); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recovery_codes WHERE tenant_id = ? AND user_id = ?`), rs.tenantID, userID); err != nil {
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
			WHERE tenant_id = ? AND user_id = ? AND code_hash = ? AND used_at IS NULL`),
			used, rs.tenantID, userID, hash)
		if err := oneRowOrNotFound(res, err); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes
			WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL`), rs.tenantID, userID).Scan(&remaining)
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
		WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL`), rs.tenantID, userID).Scan(&n)
	return n, mapErr(err)
}

func (rs recoveryStore) DeleteRecoveryCodes(ctx context.Context, userID string) error {
	_, err := rs.s.exec(ctx, `DELETE FROM recovery_codes WHERE tenant_id = ? AND user_id = ?`, rs.tenantID, userID)
	return mapErr(err)
}

// Interface guards
var _ store.RecoveryCodeStore = recoveryStore{}
