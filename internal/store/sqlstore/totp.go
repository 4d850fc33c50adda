package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// totpStore is one tenant's TOTP secrets and accepted time steps.
type totpStore handle

// PutPendingTOTP is one upsert whose update half only applies to an unconfirmed row:
// a new or pending secret is (re)written, a confirmed one is left alone and the
// statement changes no row, which is ErrConflict. There is no window between a check
// and the write for a concurrent ConfirmTOTP to slip into. s.ConfirmedAt is ignored
// (the secret is stored pending); the user must exist (else ErrNotFound).
func (ts totpStore) PutPendingTOTP(ctx context.Context, sec store.TOTPSecret) error {
	res, err := ts.s.exec(ctx, `INSERT INTO totp_secrets (tenant_id, user_id, ciphertext, key_id, created_at, confirmed_at)
		VALUES (?, ?, ?, ?, ?, NULL)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET
			ciphertext = excluded.ciphertext, key_id = excluded.key_id,
			created_at = excluded.created_at, confirmed_at = NULL
		WHERE totp_secrets.confirmed_at IS NULL`,
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
		WHERE tenant_id = ? AND user_id = ? AND confirmed_at IS NULL`, confirmed, ts.tenantID, userID)
	return oneRowOrNotFound(res, err)
}

func (ts totpStore) TOTPByUser(ctx context.Context, userID string) (store.TOTPSecret, error) {
	s := ts.s
	var sec store.TOTPSecret
	var created, confirmed sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id, ciphertext, key_id, created_at, confirmed_at
		FROM totp_secrets WHERE tenant_id = ? AND user_id = ?`), ts.tenantID, userID).
		Scan(&sec.UserID, &sec.Ciphertext, &sec.KeyID, &created, &confirmed)
	if err != nil {
		return store.TOTPSecret{}, mapErr(err)
	}
	sec.CreatedAt, sec.ConfirmedAt = timeOf(created), timeOf(confirmed)
	return sec, nil
}

// DeleteTOTP removes the secret. The accepted steps stay: they guard against replay
// whatever secret is current, and they are never a factor by themselves.
func (ts totpStore) DeleteTOTP(ctx context.Context, userID string) error {
	_, err := ts.s.exec(ctx, `DELETE FROM totp_secrets WHERE tenant_id = ? AND user_id = ?`, ts.tenantID, userID)
	return mapErr(err)
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
