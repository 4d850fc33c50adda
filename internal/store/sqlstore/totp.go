package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// totpStore is one tenant's TOTP secrets and accepted time steps.
type totpStore handle

// PutPendingTOTP is one upsert whose update half only applies to an unconfirmed or a
// removed row: a new, pending or removed secret is (re)written (a removed one is gone
// for good then: the new enrolment ends its restore window), a live confirmed one is
// left alone and the statement changes no row, which is ErrConflict. There is no window between a check
// and the write for a concurrent ConfirmTOTP to slip into. s.ConfirmedAt is ignored
// (the secret is stored pending); the user must exist (else ErrNotFound).
func (ts totpStore) PutPendingTOTP(ctx context.Context, sec store.TOTPSecret) error {
	res, err := ts.s.exec(ctx, `INSERT INTO totp_secrets (tenant_id, user_id, ciphertext, key_id, created_at, confirmed_at)
		VALUES (?, ?, ?, ?, ?, NULL)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET
			ciphertext = excluded.ciphertext, key_id = excluded.key_id,
			created_at = excluded.created_at, confirmed_at = NULL, deleted_at = NULL
		WHERE totp_secrets.confirmed_at IS NULL OR totp_secrets.deleted_at IS NOT NULL`,
		ts.tenantID, sec.UserID, sec.Ciphertext, sec.KeyID, timeArg(sec.CreatedAt))
	return oneRow(res, err, store.ErrConflict)
}

// ConfirmTOTP confirms a pending secret; ErrNotFound when the user has none or it is
// confirmed already.
func (ts totpStore) ConfirmTOTP(ctx context.Context, userID string, at time.Time) error {
	confirmed, err := requiredTime("TOTP confirmation time", at)
	if err != nil {
		return err
	}
	res, err := ts.s.exec(ctx, `UPDATE totp_secrets SET confirmed_at = ?
		WHERE tenant_id = ? AND user_id = ? AND confirmed_at IS NULL AND deleted_at IS NULL`, confirmed, ts.tenantID, userID)
	return oneRowOrNotFound(res, err)
}

// TOTPByUser returns the live secret only.
func (ts totpStore) TOTPByUser(ctx context.Context, userID string) (store.TOTPSecret, error) {
	return ts.secret(ctx, userID, `deleted_at IS NULL`)
}

// RemovedTOTP returns the removed secret only.
func (ts totpStore) RemovedTOTP(ctx context.Context, userID string) (store.TOTPSecret, error) {
	return ts.secret(ctx, userID, `deleted_at IS NOT NULL`)
}

// secret reads the user's row when it meets cond (a fixed SQL condition).
func (ts totpStore) secret(ctx context.Context, userID, cond string) (store.TOTPSecret, error) {
	s := ts.s
	var sec store.TOTPSecret
	var created, confirmed, deleted sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id, ciphertext, key_id, created_at, confirmed_at, deleted_at
		FROM totp_secrets WHERE tenant_id = ? AND user_id = ? AND `+cond), ts.tenantID, userID).
		Scan(&sec.UserID, &sec.Ciphertext, &sec.KeyID, &created, &confirmed, &deleted)
	if err != nil {
		return store.TOTPSecret{}, mapErr(err)
	}
	sec.CreatedAt, sec.ConfirmedAt, sec.DeletedAt = timeOf(created), timeOf(confirmed), timeOf(deleted)
	return sec, nil
}

// DeleteTOTP marks a live confirmed secret removed and deletes a pending one (never a
// factor, nothing to restore), in one transaction; a removed secret keeps its time of
// removal. The accepted steps stay: they guard against replay whatever secret is
// current, and they are never a factor by themselves.
func (ts totpStore) DeleteTOTP(ctx context.Context, userID string, at time.Time) error {
	removed, err := requiredTime("TOTP removal time", at)
	if err != nil {
		return err
	}
	s := ts.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM totp_secrets
			WHERE tenant_id = ? AND user_id = ? AND confirmed_at IS NULL AND deleted_at IS NULL`), ts.tenantID, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE totp_secrets SET deleted_at = ?
			WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NULL`), removed, ts.tenantID, userID)
		return err
	})
}

// RestoreTOTP clears the removal mark with one conditional UPDATE; when it changes no
// row, a live row (a newer enrolment, pending or confirmed) is ErrConflict.
func (ts totpStore) RestoreTOTP(ctx context.Context, userID string, since time.Time) error {
	from, err := requiredTime("restore window start", since)
	if err != nil {
		return err
	}
	s := ts.s
	res, err := s.exec(ctx, `UPDATE totp_secrets SET deleted_at = NULL
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NOT NULL AND deleted_at >= ?`, ts.tenantID, userID, from)
	if err := oneRowOrNotFound(res, err); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := ts.TOTPByUser(ctx, userID); err == nil {
		return store.ErrConflict
	}
	return store.ErrNotFound
}

// PurgeRemovedTOTP deletes the tenant's secrets removed before before.
func (ts totpStore) PurgeRemovedTOTP(ctx context.Context, before time.Time) (int64, error) {
	return ts.s.purgeRemoved(ctx, "totp_secrets", ts.tenantID, before)
}

// purgeRemoved deletes the tenant's rows of table marked removed before before, in
// one statement (several instances purging at once delete each row once).
func (s *Store) purgeRemoved(ctx context.Context, table, tenantID string, before time.Time) (int64, error) {
	cut, err := requiredTime("purge cut-off", before)
	if err != nil {
		return 0, err
	}
	res, err := s.exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?`, tenantID, cut)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, mapErr(err)
}

// UseTOTPStep inserts (user, step); the primary key makes every later insert of the
// same step fail with ErrConflict, also when concurrent requests race (PostgreSQL makes
// the second inserter wait for the first and then report the duplicate; SQLite runs
// writers one at a time). An unknown user is ErrNotFound (foreign key).
func (ts totpStore) UseTOTPStep(ctx context.Context, userID string, step int64, at time.Time) error {
	used, err := requiredTime("TOTP use time", at)
	if err != nil {
		return err
	}
	_, err = ts.s.exec(ctx, `INSERT INTO totp_used_steps (tenant_id, user_id, step, used_at) VALUES (?, ?, ?, ?)`,
		ts.tenantID, userID, step, used)
	return mapErr(err)
}

// oneRowOrNotFound turns the result of a one-row UPDATE or DELETE into nil (one row
// changed) or ErrNotFound (none).
func oneRowOrNotFound(res sql.Result, err error) error {
	return oneRow(res, err, store.ErrNotFound)
}

// Interface guards
var _ store.TOTPStore = totpStore{}
