package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// EmailChanges returns the tenant's pending e-mail changes.
func (h handle) EmailChanges() store.EmailChangeStore { return emailChangeStore(h) }

// emailChangeStore is one tenant's pending e-mail changes, one row per member. Every
// statement binds tenant_id.
type emailChangeStore handle

// PutEmailChange stores or replaces the member's pending change in one upsert that
// reads the live member's row (so concurrent requests of one member leave one of
// them, whole); no live member: no row, ErrNotFound. (SQLite needs the WHERE of the
// SELECT to parse ON CONFLICT after it.)
func (es emailChangeStore) PutEmailChange(ctx context.Context, c store.EmailChange) error {
	created, err := requiredTime("e-mail change time", c.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := requiredTime("e-mail change expiry", c.ExpiresAt)
	if err != nil {
		return err
	}
	res, err := es.s.exec(ctx, `INSERT INTO email_changes (tenant_id, user_id, new_email, token_hash, created_at, expires_at)
		SELECT tenant_id, id, ?, ?, ?, ? FROM users WHERE tenant_id = ? AND id = ?`+liveUser+`
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET new_email = excluded.new_email, token_hash = excluded.token_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.NewEmail, c.TokenHash, created, expires, es.tenantID, c.UserID)
	return oneRow(res, err, store.ErrNotFound)
}

// EmailChangeOf reads the member's pending change.
func (es emailChangeStore) EmailChangeOf(ctx context.Context, userID string) (store.EmailChange, error) {
	s := es.s
	c := store.EmailChange{UserID: userID}
	var created, expires sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT new_email, token_hash, created_at, expires_at FROM email_changes
		WHERE tenant_id = ? AND user_id = ?`), es.tenantID, userID).Scan(&c.NewEmail, &c.TokenHash, &created, &expires)
	if err != nil {
		return store.EmailChange{}, mapErr(err)
	}
	c.CreatedAt, c.ExpiresAt = timeOf(created), timeOf(expires)
	return c, nil
}

// DeleteEmailChange removes the member's pending change, if any.
func (es emailChangeStore) DeleteEmailChange(ctx context.Context, userID string) error {
	_, err := es.s.exec(ctx, `DELETE FROM email_changes WHERE tenant_id = ? AND user_id = ?`, es.tenantID, userID)
	return err
}

// Interface guards
var _ store.EmailChangeStore = emailChangeStore{}
