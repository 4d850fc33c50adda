package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DeletedUsers returns the tenant's soft-deleted users, ordered by e-mail.
func (us userStore) DeletedUsers(ctx context.Context) ([]store.User, error) {
	return us.list(ctx, userSelect+` WHERE tenant_id = ? AND deleted_at IS NOT NULL ORDER BY email`)
}

// RestoreUser clears the deletion mark. Nothing else about the user changed while
// they were deleted, so they come back as they were; their sessions were revoked at
// the deletion and stay so.
func (us userStore) RestoreUser(ctx context.Context, userID string) error {
	s := us.s
	res, err := s.exec(ctx, `UPDATE users SET deleted_at = NULL WHERE tenant_id = ? AND id = ? AND deleted_at IS NOT NULL`,
		us.tenantID, userID)
	return oneRow(res, err, store.ErrNotFound)
}

// PurgeUser deletes a user deleted before deletedBefore. Their sessions, one-time
// links, pending e-mail change and queued mail are deleted here (sessions carry no ON
// DELETE CASCADE, links name the user only as their subject, the outbox only by
// address); factors, refresh tokens and sign-in history go by the
// foreign keys' ON DELETE CASCADE. The user row is checked first, inside the
// transaction, so a user restored meanwhile is never purged.
func (us userStore) PurgeUser(ctx context.Context, userID string, deletedBefore time.Time) error {
	before, err := requiredTime("purge cut-off", deletedBefore)
	if err != nil {
		return err
	}
	s := us.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockDeleted(ctx, tx, "users", "id", us.tenantID, userID, before); err != nil {
			return err
		}
		// Their mail still in the outbox, to their address or to the one a pending
		// change was to confirm: no copy of either, nor of what was written to them,
		// stays behind (the outbox has no user id; the recipient is the address as
		// queued, case-folded like the user's). A pending address that another member
		// has is left alone: that member's own mail goes there.
		const theirs = `SELECT email FROM users WHERE tenant_id = ? AND id = ?
			UNION SELECT new_email FROM email_changes WHERE tenant_id = ? AND user_id = ?
				AND new_email NOT IN (SELECT email FROM users WHERE tenant_id = ? AND id <> ?)`
		args := []any{us.tenantID, userID, us.tenantID, userID, us.tenantID, userID}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mail_outbox WHERE tenant_id = ?
			AND (recipient IN (`+theirs+`) OR lower(recipient) IN (`+theirs+`))`),
			slices.Concat([]any{us.tenantID}, args, args)...); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM email_changes WHERE tenant_id = ? AND user_id = ?`,
			`DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?`,
			`DELETE FROM one_time_tokens WHERE tenant_id = ? AND subject = ?`,
			`DELETE FROM users WHERE tenant_id = ? AND id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), us.tenantID, userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockDeleted checks, inside tx, that the row of table whose keyCol is key was
// soft-deleted before the cut-off, and locks it on PostgreSQL (SQLite's write
// transaction holds the database), so that a restore cannot slip in before the purge.
// A row that is not deleted, or deleted too recently, is ErrNotFound (once mapped).
func (s *Store) lockDeleted(ctx context.Context, tx *sql.Tx, table, keyCol, tenantID, key string, before int64) error {
	q := `SELECT 1 FROM ` + table + ` WHERE tenant_id = ? AND ` + keyCol + ` = ? AND deleted_at IS NOT NULL AND deleted_at < ?`
	if s.dialect == postgresDialect {
		q += ` FOR UPDATE`
	}
	var one int
	return tx.QueryRowContext(ctx, s.q(q), tenantID, key, before).Scan(&one)
}
